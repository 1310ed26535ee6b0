/**
 * Inventory reconciliation: after each (re)connection a host lists the replicas it holds, page
 * by page, and the replica table is brought in line with what is really there. A replica the
 * tracker doesn't know is to be dropped; a reserved one the host holds complete, with the
 * root the owner sealed, is stored after all (the tracker stopped before recording it); a
 * stored one the host holds only in part, or with another root, is lost. After the last page,
 * stored replicas the host did not list are lost too.
 *
 * What the tracker keeps while pages arrive is bounded by what it already knows of the host
 * (the ids of its own replica rows, nothing a host can make up), and it is freed when the
 * host's session ends.
 */
import type { Clock } from './clock.ts';
import type { Db } from './db/database.ts';
import { ACTIVE_TRANSFER_STATES } from './db/states.ts';
import type { TrackerEvents } from './events.ts';
import type { Logger } from './logger.ts';
import { spaceLedger } from './space-ledger.ts';

interface Session {
  /** When the host's session began: replicas confirmed since may be newer than its list. */
  since: number;
  /** Known replicas of this host already reconciled in this session. */
  listed: Set<string>;
}

export class Inventory {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #events: TrackerEvents;
  readonly #sessions = new Map<string, Session>();

  constructor(deps: { db: Db; clock: Clock; log: Logger; events: TrackerEvents }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#events = deps.events;
  }

  /** A new session of this host: its inventory starts from nothing. */
  start(hostId: string): void {
    this.#sessions.set(hostId, { since: this.#clock.now(), listed: new Set() });
  }

  /** The host's session ended: whatever it listed so far is forgotten. */
  end(hostId: string): void {
    this.#sessions.delete(hostId);
  }

  /** Reconciles one page; returns the file ids the host should drop. */
  async page(hostId: string, replicas: readonly { fileId: string; root: string | null }[], last: boolean): Promise<string[]> {
    let session = this.#sessions.get(hostId);
    if (!session) this.#sessions.set(hostId, (session = { since: this.#clock.now(), listed: new Set() }));
    const drop: string[] = [];
    const changed = new Set<string>();
    const ids = [...new Set(replicas.map((replica) => replica.fileId))];
    const known =
      ids.length === 0
        ? []
        : await this.#db
            .selectFrom('replicas')
            .innerJoin('files', 'files.id', 'replicas.file_id')
            .select(['replicas.file_id', 'replicas.state', 'files.sha256'])
            .select((eb) =>
              eb
                .selectFrom('transfers')
                .select(eb.fn.countAll<number>().as('n'))
                .whereRef('transfers.file_id', '=', 'replicas.file_id')
                .whereRef('transfers.receiver_id', '=', 'replicas.host_id')
                .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES)
                .as('active'),
            )
            .where('replicas.host_id', '=', hostId)
            .where('replicas.file_id', 'in', ids)
            .execute();
    const byId = new Map(known.map((row) => [row.file_id, row]));
    for (const { fileId, root } of replicas) {
      const row = byId.get(fileId);
      if (!row) {
        drop.push(fileId);
        continue;
      }
      // A file listed twice (in one page or across pages) is reconciled once.
      if (session.listed.has(fileId)) continue;
      session.listed.add(fileId);
      if (row.state === 'reserved' && root !== null && root === row.sha256 && Number(row.active) === 0) {
        if (await this.#storedAfterAll(hostId, fileId, root)) changed.add(fileId);
      } else if (row.state === 'stored' && root !== row.sha256) {
        if (await this.#lose(hostId, fileId)) changed.add(fileId);
        drop.push(fileId);
      }
    }
    if (last) {
      this.#sessions.delete(hostId);
      // Only what was stored before this session began: the host listed what it held then.
      const missing = await this.#db
        .selectFrom('replicas')
        .select('file_id')
        .where('host_id', '=', hostId)
        .where('state', '=', 'stored')
        .where('stored_at', '<=', session.since)
        .execute();
      for (const { file_id } of missing) {
        if (!session.listed.has(file_id) && (await this.#lose(hostId, file_id))) changed.add(file_id);
      }
    }
    for (const fileId of changed) await this.#events.emit('file:changed', { fileId });
    if (changed.size > 0) await this.#events.emit('host:space', { hostId });
    return drop;
  }

  /** A reserved replica found complete with the sealed root: stored, and its upload with it. */
  async #storedAfterAll(hostId: string, fileId: string, root: string): Promise<boolean> {
    const promoted = await this.#db.transaction().execute(async (trx) => {
      if (!(await spaceLedger.promote(trx, fileId, hostId, this.#clock.now(), root))) return false;
      await trx.updateTable('files').set({ state: 'stored', interrupted_at: null }).where('id', '=', fileId).where('state', 'in', ['uploading', 'interrupted', 'failed']).execute();
      return true;
    });
    if (promoted) this.#log.info({ event: 'reconcile', fileId, hostId, outcome: 'stored' }, 'replica found complete on its host');
    return promoted;
  }

  async #lose(hostId: string, fileId: string): Promise<boolean> {
    const lost = await this.#db.transaction().execute((trx) => spaceLedger.lose(trx, fileId, hostId));
    if (lost) this.#log.warn({ event: 'reconcile', fileId, hostId, outcome: 'lost' }, 'replica lost from its host');
    return lost;
  }
}
