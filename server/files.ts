/**
 * Files as their owners see them: place, seal, list, locate, delete. Only a file's owner
 * may do any of these; where a file lives is never told to anyone but its hosts.
 */
import type { Transaction } from 'kysely';
import { chunkCount, storedSize } from '../shared/chunking.ts';
import { randomId } from '../shared/encoding.ts';
import { PeercloudError } from '../shared/errors.ts';
import type { FileSummary } from '../shared/protocol.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import { activeTransfers, storedReplicas } from './db/counts.ts';
import type { Database, FileRow } from './db/schema.ts';
import type { Logger } from './logger.ts';
import type { PeerService } from './peers.ts';
import type { Sessions } from './sessions.ts';
import { runEffects, type Effect, type TransferService } from './transfers.ts';

/** An owner lists at most this many files in one answer. */
export const MAX_LISTED_FILES = 10_000;

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  sessions: Sessions;
  peers: PeerService;
  transfers: TransferService;
}

export class FileService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #peers: PeerService;
  readonly #transfers: TransferService;
  /** Per connected host: when its inventory began (its session), and the files it has listed so far. */
  readonly #inventories = new Map<string, { since: number; listed: Set<string> }>();

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#peers = deps.peers;
    this.#transfers = deps.transfers;
    this.#transfers.setEvents({ fileChanged: (fileId) => this.#changed(fileId) });
  }

  /** Creates the file, reserves space on its hosts and opens a store transfer to each. */
  async place(ownerId: string, request: { name: string; size: number; chunkSize: number }): Promise<{ file: FileSummary; transferIds: string[] }> {
    const bytes = storedSize(request.size, request.chunkSize);
    const now = this.#clock.now();
    const placed = await this.#db.transaction().execute(async (trx) => {
      const file: FileRow = {
        id: randomId(),
        owner_id: ownerId,
        name: request.name,
        size: request.size,
        sha256: null,
        chunk_size: request.chunkSize,
        chunk_count: chunkCount(request.size, request.chunkSize),
        stored_bytes: bytes,
        replicas_wanted: this.#config.replicas,
        created_at: now,
        state: 'uploading',
        interrupted_at: null,
        repaired_at: null,
      };
      await trx.insertInto('files').values(file).execute();
      const result = await this.#transfers.placeIn(trx, file, file.replicas_wanted);
      // Throwing rolls the file back: no host, no file.
      if (result.transfers.length === 0) throw new NoHost();
      return { file, ...result };
    }).catch(async (error: unknown) => {
      if (error instanceof NoHost) throw new PeercloudError('NO_HOST', await this.#transfers.noHostMessage(ownerId, bytes));
      throw error;
    });
    await runEffects(placed.effects);
    return { file: await this.summary(placed.file.id), transferIds: placed.transfers.map((t) => t.id) };
  }

  async seal(ownerId: string, fileId: string, sha256: string): Promise<FileSummary> {
    const file = await this.#owned(ownerId, fileId);
    if (file.sha256 !== null && file.sha256 !== sha256) throw new PeercloudError('CONFLICT', 'This file is already sealed with another hash.');
    if (file.sha256 === null) {
      const set = await this.#db.updateTable('files').set({ sha256 }).where('id', '=', fileId).where('sha256', 'is', null).executeTakeFirst();
      // Two seals raced and the other one won: claims are settled against the hash recorded.
      if (set.numUpdatedRows === 0n) return this.seal(ownerId, fileId, sha256);
    }
    await this.#transfers.sealed(fileId, sha256);
    return this.summary(fileId);
  }

  /** Continues an interrupted upload on the hosts holding part of it, and new ones for the rest. */
  async resume(ownerId: string, fileId: string): Promise<{ file: FileSummary; transferIds: string[] }> {
    const file = await this.#owned(ownerId, fileId);
    if (file.state !== 'interrupted') throw new PeercloudError('CONFLICT', 'This upload is not interrupted: there is nothing to resume.');
    const resumed = await this.#db
      .transaction()
      .execute(async (trx) => {
        const updated = await trx.updateTable('files').set({ state: 'uploading', interrupted_at: null }).where('id', '=', fileId).where('state', '=', 'interrupted').executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) throw new PeercloudError('CONFLICT', 'This upload is being resumed already.');
        const result = await this.#transfers.resumeIn(trx, { ...file, state: 'uploading', interrupted_at: null });
        if (result.transfers.length === 0) throw new NoHost();
        return result;
      })
      .catch(async (error: unknown) => {
        if (error instanceof NoHost) throw new PeercloudError('NO_HOST', await this.#transfers.noHostMessage(ownerId, file.stored_bytes));
        throw error;
      });
    this.#log.info({ event: 'resume', fileId, ownerId, transfers: resumed.transfers.length }, 'upload resumed');
    await runEffects(resumed.effects);
    return { file: await this.summary(fileId), transferIds: resumed.transfers.map((t) => t.id) };
  }

  /**
   * The sweep: an interrupted upload whose owner didn't come back within UPLOAD_RESUME_GRACE
   * has failed; its partial replicas are released and their hosts told to drop them.
   */
  async expireInterrupted(): Promise<void> {
    const stale = await this.#db
      .selectFrom('files')
      .select('id')
      .where('state', '=', 'interrupted')
      .where('interrupted_at', '<=', this.#clock.now() - this.#config.uploadResumeGraceMs)
      .execute();
    for (const { id } of stale) {
      const effects = await this.#db.transaction().execute(async (trx) => {
        const failed = await trx.updateTable('files').set({ state: 'failed', interrupted_at: null }).where('id', '=', id).where('state', '=', 'interrupted').executeTakeFirst();
        // Resumed, or found complete on a host, since the list was read: its replicas are wanted.
        if (failed.numUpdatedRows === 0n) return [];
        return this.#releasePartials(trx, id);
      });
      await runEffects(effects);
      await this.#notify(id);
    }
  }

  /**
   * Settles uploads left 'uploading' with no transfer under way. Settling follows the end of a
   * transfer; a crash between the two leaves such a file behind, and this (run at start and by
   * the sweep) finishes the job.
   */
  async settleStale(): Promise<void> {
    const stale = await this.#db
      .selectFrom('files')
      .select('id')
      .where('state', '=', 'uploading')
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('transfers').select('transfers.id').whereRef('transfers.file_id', '=', 'files.id').where('transfers.kind', '=', 'store').where('transfers.state', 'in', ['offered', 'open']))),
      )
      .execute();
    for (const { id } of stale) await this.#changed(id);

    // A reservation with no transfer filling it, for a file no longer uploading (or waiting for
    // a resume), holds space for nothing: it is released and its host told to drop the bytes.
    const orphans = await this.#db
      .selectFrom('replicas')
      .innerJoin('files', 'files.id', 'replicas.file_id')
      .select(['replicas.file_id', 'replicas.host_id', 'replicas.bytes'])
      .where('replicas.state', '=', 'reserved')
      .where('files.state', 'in', ['stored', 'failed'])
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('transfers')
              .select('transfers.id')
              .whereRef('transfers.file_id', '=', 'replicas.file_id')
              .whereRef('transfers.receiver_id', '=', 'replicas.host_id')
              .where('transfers.state', 'in', ['offered', 'open']),
          ),
        ),
      )
      .execute();
    for (const orphan of orphans) {
      const drop = await this.#db.transaction().execute((trx) => this.#transfers.releaseIn(trx, orphan.file_id, orphan.host_id, orphan.bytes));
      await drop();
      this.#log.info({ event: 'reconcile', fileId: orphan.file_id, hostId: orphan.host_id, outcome: 'released' }, 'released a reservation nothing was filling');
    }
  }

  async list(ownerId: string): Promise<FileSummary[]> {
    const rows = await this.#summaries().where('files.owner_id', '=', ownerId).orderBy('files.created_at', 'desc').limit(MAX_LISTED_FILES).execute();
    return rows.map(toSummary);
  }

  async locate(ownerId: string, fileId: string): Promise<string> {
    const file = await this.#owned(ownerId, fileId);
    if (file.state === 'failed') throw new PeercloudError('UNAVAILABLE', 'This file was never stored: its upload failed.');
    return this.#transfers.openFetch(ownerId, file);
  }

  /**
   * Deletes the file: transfers under way are cancelled, its hosts' space is released at
   * once, online hosts are told to drop their replica now and offline ones when their
   * inventory comes back (the tracker no longer knows the file, so it asks them to drop it).
   */
  async delete(ownerId: string, fileId: string): Promise<void> {
    await this.#owned(ownerId, fileId);
    await this.#transfers.cancelFile(fileId);
    const hosts = await this.#db.transaction().execute(async (trx) => {
      // In host id order, as placements lock hosts: on PostgreSQL a delete and a placement can't deadlock.
      const replicas = await trx.selectFrom('replicas').selectAll().where('file_id', '=', fileId).orderBy('host_id').execute();
      for (const replica of replicas) {
        const column = replica.state === 'stored' ? 'bytes_used' : 'bytes_reserved';
        await trx.updateTable('peers').set((eb) => ({ [column]: eb(column, '-', replica.bytes) })).where('id', '=', replica.host_id).execute();
      }
      await trx.deleteFrom('files').where('id', '=', fileId).execute();
      return replicas.map((replica) => replica.host_id);
    });
    this.#log.info({ event: 'delete', fileId, ownerId, hosts: hosts.length }, 'file deleted');
    for (const hostId of hosts) {
      this.#sessions.emit(hostId, 'replica:drop', { fileIds: [fileId] });
      await this.#peers.refresh(hostId);
    }
    this.#sessions.emit(ownerId, 'file:removed', { fileId });
  }

  /** A new session of this host: its inventory starts from nothing. */
  startInventory(hostId: string): void {
    this.#inventories.set(hostId, { since: this.#clock.now(), listed: new Set() });
  }

  /**
   * Reconciles a page of a host's inventory with the replica table. A replica the tracker
   * doesn't know is to be dropped; a reserved one the host holds complete, with the root the
   * owner sealed, is stored after all (the tracker stopped before recording it); a stored one
   * the host holds only in part, or with another root, is lost. After the last page, stored
   * replicas the host did not list are lost too. Lost replicas free their space, and their
   * files' owners hear they have one copy fewer.
   */
  async inventory(hostId: string, replicas: readonly { fileId: string; root: string | null }[], last: boolean): Promise<string[]> {
    const inventory = this.#inventories.get(hostId) ?? { since: this.#clock.now(), listed: new Set<string>() };
    this.#inventories.set(hostId, inventory);
    const { listed } = inventory;
    const drop: string[] = [];
    const changed = new Set<string>();
    const ids = replicas.map((replica) => replica.fileId);
    const known =
      ids.length === 0
        ? []
        : await this.#db
            .selectFrom('replicas')
            .innerJoin('files', 'files.id', 'replicas.file_id')
            .select(['replicas.file_id', 'replicas.state', 'replicas.bytes', 'files.sha256'])
            .select((eb) =>
              eb
                .selectFrom('transfers')
                .select(eb.fn.countAll<number>().as('n'))
                .whereRef('transfers.file_id', '=', 'replicas.file_id')
                .whereRef('transfers.receiver_id', '=', 'replicas.host_id')
                .where('transfers.state', 'in', ['offered', 'open'])
                .as('active'),
            )
            .where('replicas.host_id', '=', hostId)
            .where('replicas.file_id', 'in', ids)
            .execute();
    const byId = new Map(known.map((row) => [row.file_id, row]));
    for (const { fileId, root } of replicas) {
      // A file listed twice (in one page or across pages) is reconciled once.
      if (listed.has(fileId)) continue;
      listed.add(fileId);
      const row = byId.get(fileId);
      if (!row) {
        drop.push(fileId);
      } else if (row.state === 'reserved' && root !== null && root === row.sha256 && Number(row.active) === 0) {
        await this.#db.transaction().execute(async (trx) => {
          const promoted = await trx
            .updateTable('replicas')
            .set({ state: 'stored', sha256: root, stored_at: this.#clock.now() })
            .where('file_id', '=', fileId)
            .where('host_id', '=', hostId)
            .where('state', '=', 'reserved')
            .executeTakeFirst();
          if (promoted.numUpdatedRows === 0n) return;
          await trx.updateTable('peers').set((eb) => ({ bytes_reserved: eb('bytes_reserved', '-', row.bytes), bytes_used: eb('bytes_used', '+', row.bytes) })).where('id', '=', hostId).execute();
          await trx.updateTable('files').set({ state: 'stored', interrupted_at: null }).where('id', '=', fileId).where('state', 'in', ['uploading', 'interrupted', 'failed']).execute();
        });
        this.#log.info({ event: 'reconcile', fileId, hostId, outcome: 'stored' }, 'replica found complete on its host');
        changed.add(fileId);
      } else if (row.state === 'stored' && root !== row.sha256) {
        await this.#lose(hostId, fileId, row.bytes);
        drop.push(fileId);
        changed.add(fileId);
      }
    }
    if (last) {
      this.#inventories.delete(hostId);
      // Only what was stored before this session began: the host listed what it held then, and a
      // replica confirmed since may simply be newer than its list.
      const missing = await this.#db
        .selectFrom('replicas')
        .select(['file_id', 'bytes'])
        .where('host_id', '=', hostId)
        .where('state', '=', 'stored')
        .where('stored_at', '<=', inventory.since)
        .execute();
      for (const row of missing.filter((replica) => !listed.has(replica.file_id))) {
        await this.#lose(hostId, row.file_id, row.bytes);
        changed.add(row.file_id);
      }
    }
    for (const fileId of changed) await this.#notify(fileId);
    if (changed.size > 0) await this.#peers.refresh(hostId);
    return drop;
  }

  /** A stored replica is gone from its host: forget it and free its space. */
  async #lose(hostId: string, fileId: string, bytes: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const deleted = await trx.deleteFrom('replicas').where('file_id', '=', fileId).where('host_id', '=', hostId).where('state', '=', 'stored').executeTakeFirst();
      // Read before this transaction: a delete may have taken the row meanwhile.
      if (deleted.numDeletedRows > 0n) await trx.updateTable('peers').set((eb) => ({ bytes_used: eb('bytes_used', '-', bytes) })).where('id', '=', hostId).execute();
    });
    this.#log.warn({ event: 'reconcile', fileId, hostId, outcome: 'lost' }, 'replica lost from its host');
  }

  async summary(fileId: string): Promise<FileSummary> {
    const row = await this.#summaries().where('files.id', '=', fileId).executeTakeFirst();
    if (!row) throw new PeercloudError('NOT_FOUND', 'No such file.');
    return toSummary(row);
  }

  /** A peer came or went: the owners of the files it hosts see their availability change. */
  async hostChanged(hostId: string): Promise<void> {
    const files = await this.#db.selectFrom('replicas').select('file_id').where('host_id', '=', hostId).where('state', '=', 'stored').execute();
    for (const { file_id } of files) await this.#notify(file_id);
  }

  /**
   * The file's transfers moved: an upload is over once no store transfer is pending, and
   * it is stored if at least one host verified its bytes. Then its owner hears of it.
   */
  async #changed(fileId: string): Promise<void> {
    const effects = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').select(['owner_id', 'state']).where('id', '=', fileId).executeTakeFirst();
      if (file?.state !== 'uploading') return [];
      const counts = await trx
        .selectFrom('files')
        .select((eb) => [activeTransfers(eb, 'store').as('pending'), storedReplicas(eb).as('stored')])
        .where('id', '=', fileId)
        .executeTakeFirstOrThrow();
      if (Number(counts.pending) > 0) return [];
      // With a verified replica the upload is done and partial ones are of no more use. Without
      // one, partial replicas kept for an owner who left wait for it to resume; with none, it failed.
      const partials = await trx.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).where('state', '=', 'reserved').execute();
      if (Number(counts.stored) > 0 || partials.length === 0) {
        await trx.updateTable('files').set({ state: Number(counts.stored) > 0 ? 'stored' : 'failed' }).where('id', '=', fileId).execute();
        return this.#releasePartials(trx, fileId);
      }
      await trx.updateTable('files').set({ state: 'interrupted', interrupted_at: this.#clock.now() }).where('id', '=', fileId).execute();
      this.#log.info({ event: 'interrupted', fileId, partials: partials.length }, 'upload interrupted: its owner left');
      return [];
    });
    await runEffects(effects);
    await this.#notify(fileId);
  }

  /** Releases every replica of the file that is still only reserved (no transfer is filling it). */
  async #releasePartials(trx: Transaction<Database>, fileId: string): Promise<Effect[]> {
    const partials = await trx.selectFrom('replicas').select(['host_id', 'bytes']).where('file_id', '=', fileId).where('state', '=', 'reserved').execute();
    const effects: Effect[] = [];
    for (const partial of partials) effects.push(await this.#transfers.releaseIn(trx, fileId, partial.host_id, partial.bytes));
    return effects;
  }

  async #notify(fileId: string): Promise<void> {
    const row = await this.#summaries().where('files.id', '=', fileId).executeTakeFirst();
    if (row) this.#sessions.emit(row.owner_id, 'file:updated', toSummary(row));
  }

  async #owned(ownerId: string, fileId: string): Promise<FileRow> {
    const file = await this.#db.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirst();
    if (!file) throw new PeercloudError('NOT_FOUND', 'No such file.');
    if (file.owner_id !== ownerId) throw new PeercloudError('FORBIDDEN', 'This file belongs to another peer.');
    return file;
  }

  #summaries() {
    return this.#db
      .selectFrom('files')
      .select(['files.id', 'files.owner_id', 'files.name', 'files.size', 'files.created_at', 'files.state', 'files.replicas_wanted', 'files.repaired_at'])
      .select((eb) => [
        storedReplicas(eb).as('stored'),
        storedReplicas(eb, { online: true }).as('online'),
        activeTransfers(eb, 'store').as('pending'),
        activeTransfers(eb, 'repair').as('repairing'),
      ]);
  }
}

class NoHost extends Error {}

function toSummary(row: {
  id: string;
  name: string;
  size: number;
  created_at: number;
  state: FileRow['state'];
  replicas_wanted: number;
  repaired_at: number | null;
  stored: number | null;
  online: number | null;
  pending: number | null;
  repairing: number | null;
}): FileSummary {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    createdAt: row.created_at,
    state: row.state,
    replicas: {
      wanted: row.replicas_wanted,
      stored: Number(row.stored ?? 0),
      online: Number(row.online ?? 0),
      pending: Number(row.pending ?? 0),
      repairing: Number(row.repairing ?? 0),
    },
    repairedAt: row.repaired_at,
  };
}
