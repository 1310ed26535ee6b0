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
import type { Audits } from './audits.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { AuditRow } from './db/schema.ts';
import { ACTIVE_TRANSFER_STATES } from './db/states.ts';
import type { TrackerEvents } from './events.ts';
import type { Logger } from './logger.ts';
import type { Sessions } from './sessions.ts';
import { spaceLedger } from './space-ledger.ts';

interface Session {
  /** When the host's session began: replicas confirmed since may be newer than its list. */
  since: number;
  /** Known replicas of this host already reconciled in this session (made with its first page: most hosts hold a session far longer than their inventory takes). */
  listed?: Set<string>;
}

export class Inventory {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #events: TrackerEvents;
  readonly #audits: Audits;
  /** Sends to a host (the peers' sessions, not to be confused with inventory sessions below). */
  readonly #sessions: Sessions;
  readonly #listing = new Map<string, Session>();

  constructor(deps: { db: Db; clock: Clock; config: Config; log: Logger; events: TrackerEvents; audits: Audits; sessions: Sessions }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#events = deps.events;
    this.#audits = deps.audits;
    this.#sessions = deps.sessions;
  }

  /** A new session of this host: its inventory starts from nothing. */
  start(hostId: string): void {
    this.#listing.set(hostId, { since: this.#clock.now() });
  }

  /** The host's session ended: whatever it listed so far is forgotten. */
  end(hostId: string): void {
    this.#listing.delete(hostId);
  }

  /** Reconciles one page; returns the file ids the host should drop. */
  async page(hostId: string, replicas: readonly { fileId: string; root: string | null }[], last: boolean): Promise<string[]> {
    let session = this.#listing.get(hostId);
    if (!session) this.#listing.set(hostId, (session = { since: this.#clock.now() }));
    const listed = (session.listed ??= new Set());
    const drop: string[] = [];
    const changed = new Set<string>();
    const ids = [...new Set(replicas.map((replica) => replica.fileId))];
    const known =
      ids.length === 0
        ? []
        : await this.#db
            .selectFrom('replicas')
            .innerJoin('files', 'files.id', 'replicas.file_id')
            .select(['replicas.file_id', 'replicas.state', 'replicas.retired_at', 'replicas.suspect_since', 'replicas.proven_at', 'files.sha256'])
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
      if (listed.has(fileId)) continue;
      listed.add(fileId);
      if (row.state === 'reserved' && root !== null && root === row.sha256 && Number(row.active) === 0) {
        // Complete with the sealed root: stored after all, once it proves it.
        await this.#audits.challenge({ fileId, hostId, purpose: 'promote' });
      } else if (row.state === 'stored' && root !== row.sha256) {
        if (await this.#lose(hostId, fileId)) changed.add(fileId);
        drop.push(fileId);
      } else if (row.state === 'stored' && (row.retired_at !== null || row.suspect_since !== null)) {
        // A copy a repair replaced, or one that missed its audits while away: it counts again only once it proves itself.
        await this.#audits.challenge({ fileId, hostId, purpose: 'claim' });
      } else if (row.state === 'stored' && (row.proven_at ?? 0) < this.#clock.now() - this.#config.audits.intervalMs) {
        // Back after longer than an audit interval: checked soon, in turn with the routine audits.
        await this.#db.updateTable('replicas').set({ audit_due_at: this.#clock.now() }).where('file_id', '=', fileId).where('host_id', '=', hostId).execute();
      }
    }
    if (last) {
      this.#listing.delete(hostId);
      // Only what was stored before this session began: the host listed what it held then.
      const missing = await this.#db
        .selectFrom('replicas')
        .select('file_id')
        .where('host_id', '=', hostId)
        .where('state', '=', 'stored')
        .where('stored_at', '<=', session.since)
        .execute();
      for (const { file_id } of missing) {
        if (!listed.has(file_id) && (await this.#lose(hostId, file_id))) changed.add(file_id);
      }
    }
    for (const fileId of changed) await this.#events.emit('file:changed', { fileId });
    if (changed.size > 0) await this.#events.emit('host:space', { hostId });
    return drop;
  }

  /** A claim or promotion this inventory asked to audit was decided. */
  async auditDecided(audit: AuditRow, verdict: 'passed' | 'wrong' | 'unanswered'): Promise<void> {
    if (audit.purpose === 'promote') {
      if (verdict === 'passed' && (await this.#storedAfterAll(audit.host_id, audit.file_id))) {
        await this.#events.emit('file:changed', { fileId: audit.file_id });
        await this.#events.emit('host:space', { hostId: audit.host_id });
      } else if (verdict === 'wrong') {
        const released = await this.#db.transaction().execute((trx) => spaceLedger.release(trx, audit.file_id, audit.host_id));
        if (released) {
          void this.#sessions.emit(audit.host_id, 'replica:drop', { fileIds: [audit.file_id] });
          await this.#events.emit('host:space', { hostId: audit.host_id });
        }
      }
    } else if (audit.purpose === 'claim' && verdict === 'passed') {
      const reinstated = await this.#db
        .updateTable('replicas')
        .set({ retired_at: null })
        .where('file_id', '=', audit.file_id)
        .where('host_id', '=', audit.host_id)
        .where('retired_at', 'is not', null)
        .executeTakeFirst();
      if (reinstated.numUpdatedRows > 0n) this.#log.info({ event: 'reconcile', fileId: audit.file_id, hostId: audit.host_id, outcome: 'reinstated' }, 'a returning copy proved itself and counts again');
      await this.#events.emit('file:changed', { fileId: audit.file_id });
    }
  }

  /** A reserved replica found complete with the sealed root: stored, and its upload with it. */
  async #storedAfterAll(hostId: string, fileId: string): Promise<boolean> {
    const promoted = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').select('sha256').where('id', '=', fileId).executeTakeFirst();
      if (!file?.sha256 || !(await spaceLedger.promote(trx, fileId, hostId, this.#clock.now(), file.sha256))) return false;
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
