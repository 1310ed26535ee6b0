/**
 * Files as their owners see them: one summary row per file, with replica counts and never
 * where they live, and the `file:updated` that tells an owner its file changed.
 */
import { sql } from 'kysely';
import { coalescing } from '../shared/coalescing.ts';
import { PeercloudError } from '../shared/errors.ts';
import type { FileSummary } from '../shared/protocol.ts';
import { compiledOnce, type Slots } from './db/compiled-once.ts';
import { activeTransfers, storedReplicas } from './db/counts.ts';
import type { Db } from './db/database.ts';
import { dialectOf } from './db/dialect.ts';
import type { FileRow } from './db/schema.ts';
import type { Sessions } from './sessions.ts';

/** An owner lists at most this many files in one answer. */
export const MAX_LISTED_FILES = 10_000;

export class FileSummaries {
  readonly #db: Db;
  readonly #sessions: Sessions;

  constructor(deps: { db: Db; sessions: Sessions }) {
    this.#db = deps.db;
    this.#sessions = deps.sessions;
  }

  async list(ownerId: string): Promise<FileSummary[]> {
    const { rows } = await this.#db.executeQuery(listing(this.#db, { ownerId }));
    return rows.map(toSummary);
  }

  async summary(fileId: string): Promise<FileSummary> {
    const row = await this.#row(fileId);
    if (!row) throw new PeercloudError('NOT_FOUND', 'No such file.');
    return toSummary(row);
  }

  /**
   * Tells the file's owner (if online) what its file looks like now. Its reads for one file run
   * one after the other (shared/coalescing.ts), so its owner hears them in the order they were
   * read: a host's leaving and coming back read on two pooled connections could answer in the
   * other order, and the owner's last word would be the older one (its hosts offline while they
   * are back). A burst of calls for one file shares one read that started after they called.
   */
  notify(fileId: string): Promise<void> {
    return this.#notify(fileId);
  }

  readonly #notify = coalescing(async (fileId) => {
    const row = await this.#row(fileId);
    if (row) void this.#sessions.emit(row.owner_id, 'file:updated', toSummary(row));
  });

  /** Tells the owners of every file this host holds a verified replica of: its coming or going changes what they can read. */
  async notifyHostedBy(hostId: string): Promise<void> {
    const files = await this.#db.selectFrom('replicas').select('file_id').where('host_id', '=', hostId).where('state', '=', 'stored').execute();
    for (const { file_id } of files) await this.notify(file_id);
  }

  async #row(fileId: string) {
    return (await this.#db.executeQuery(oneFile(this.#db, { fileId }))).rows[0];
  }
}

/** Files with their counts, as summaries are made of. */
function summaryRows(db: Db) {
  return db
    .selectFrom('files')
    .select(['files.id', 'files.owner_id', 'files.name', 'files.size', 'files.created_at', 'files.state', 'files.replicas_wanted', 'files.scheme_k', 'files.repaired_at'])
    .select((eb) => [
      storedReplicas(eb).as('stored'),
      storedReplicas(eb, { online: true }).as('online'),
      activeTransfers(eb, 'store').as('pending'),
      activeTransfers(eb, 'repair').as('repairing'),
      readNow(db).as('read_at'),
    ]);
}

/**
 * The database's clock as the statement reads (ms): one clock for every tracker of the cloud, so
 * that summaries read on two of them can be put in order. PostgreSQL's statement start comes
 * before its snapshot; SQLite's "now" is fixed for the statement, to the millisecond.
 */
function readNow(db: Db) {
  return dialectOf(db) === 'postgres'
    ? sql<number>`(extract(epoch from statement_timestamp()) * 1000)::float8`
    : sql<number>`(julianday('now') - 2440587.5) * 86400000.0`;
}

// Compiled once: an owner's listing is the tracker's most frequent request (docs/BENCHMARKS.md).
const listing = compiledOnce((db: Db, slots: Slots<{ ownerId: string }>) => summaryRows(db).where('files.owner_id', '=', slots.ownerId).orderBy('files.created_at', 'desc').limit(MAX_LISTED_FILES));
const oneFile = compiledOnce((db: Db, slots: Slots<{ fileId: string }>) => summaryRows(db).where('files.id', '=', slots.fileId));

/**
 * A file as its placement committed it: uploading, nothing stored yet, one store pending per
 * transfer opened. What the owner's answer says without reading it back (whatever happens next,
 * a host's refusal say, reaches the owner as `file:updated` after that answer).
 */
export function placedSummary(file: FileRow, stores: number): FileSummary {
  // Not read: any summary read later is newer.
  return toSummary({ ...file, stored: 0, online: 0, pending: stores, repairing: 0, read_at: 0 });
}

function toSummary(row: {
  id: string;
  name: string;
  size: number;
  created_at: number;
  state: FileRow['state'];
  replicas_wanted: number;
  scheme_k: number;
  repaired_at: number | null;
  stored: number | null;
  online: number | null;
  pending: number | null;
  repairing: number | null;
  read_at: number;
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
    scheme: { k: row.scheme_k, n: row.replicas_wanted },
    readAt: row.read_at,
  };
}
