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
      await this.#db.updateTable('files').set({ sha256 }).where('id', '=', fileId).where('sha256', 'is', null).execute();
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
        await trx.updateTable('files').set({ state: 'failed', interrupted_at: null }).where('id', '=', id).where('state', '=', 'interrupted').execute();
        return this.#releasePartials(trx, id);
      });
      await runEffects(effects);
      await this.#notify(id);
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
      const replicas = await trx.selectFrom('replicas').selectAll().where('file_id', '=', fileId).execute();
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

  /** A host lists replicas it holds; those the tracker doesn't know it holds are to be dropped. */
  async inventory(hostId: string, fileIds: readonly string[]): Promise<string[]> {
    if (fileIds.length === 0) return [];
    const known = await this.#db.selectFrom('replicas').select('file_id').where('host_id', '=', hostId).where('file_id', 'in', fileIds).execute();
    const keep = new Set(known.map((row) => row.file_id));
    return fileIds.filter((id) => !keep.has(id));
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
        .select((eb) => [
          eb.selectFrom('transfers').select(eb.fn.countAll<number>().as('n')).where('transfers.file_id', '=', fileId).where('transfers.kind', '=', 'store').where('transfers.state', 'in', ['offered', 'open']).as('pending'),
          eb.selectFrom('replicas').select(eb.fn.countAll<number>().as('n')).where('replicas.file_id', '=', fileId).where('replicas.state', '=', 'stored').as('stored'),
        ])
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
      .select(['files.id', 'files.owner_id', 'files.name', 'files.size', 'files.created_at', 'files.state', 'files.replicas_wanted'])
      .select((eb) => [
        eb.selectFrom('replicas').select(eb.fn.countAll<number>().as('n')).whereRef('replicas.file_id', '=', 'files.id').where('replicas.state', '=', 'stored').as('stored'),
        eb
          .selectFrom('replicas')
          .innerJoin('peers', 'peers.id', 'replicas.host_id')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('replicas.file_id', '=', 'files.id')
          .where('replicas.state', '=', 'stored')
          .where('peers.online', '=', 1)
          .as('online'),
        eb
          .selectFrom('transfers')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('transfers.file_id', '=', 'files.id')
          .where('transfers.kind', '=', 'store')
          .where('transfers.state', 'in', ['offered', 'open'])
          .as('pending'),
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
  stored: number | null;
  online: number | null;
  pending: number | null;
}): FileSummary {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    createdAt: row.created_at,
    state: row.state,
    replicas: { wanted: row.replicas_wanted, stored: Number(row.stored ?? 0), online: Number(row.online ?? 0), pending: Number(row.pending ?? 0) },
  };
}
