/**
 * Opens the tracker's database through Kysely: the embedded SQLite file by default (no setup),
 * or PostgreSQL when DATABASE_URL is set, so that several trackers can share one database.
 * The services see one `Db` type and plain numbers on both: the dialect stays in this folder.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type MigrationProvider, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { parseExactNumber } from './exact-number.ts';
import { pgClients } from './pg-client.ts';
import { withPreparedStatements } from './prepared-statements.ts';
import { dialectOf, type DialectName } from './dialect.ts';
import type { Database } from './schema.ts';
import * as initial from './migrations/0001_initial.ts';
import * as provenStorage from './migrations/0002_proven_storage.ts';
import * as fragments from './migrations/0003_fragments.ts';
import * as trackers from './migrations/0004_trackers.ts';
import * as placementTies from './migrations/0005_placement_ties.ts';
import * as onePlacementIndex from './migrations/0006_one_placement_index.ts';
import * as oneStatementPlacement from './migrations/0007_one_statement_placement.ts';

export type Db = Kysely<Database>;

/** Listed here rather than read from disk, so migrations run the same from tsx, a bundle or a test. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_proven_storage': provenStorage,
  '0003_fragments': fragments,
  '0004_trackers': trackers,
  '0005_placement_ties': placementTies,
  '0006_one_placement_index': onePlacementIndex,
  '0007_one_statement_placement': oneStatementPlacement,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Every migration, in the order they run. */
export const MIGRATION_NAMES = Object.keys(MIGRATIONS).sort();

export interface OpenedDatabase {
  db: Db;
  dialect: DialectName;
  /** SQLite's own handle, for pragmas and integrity checks; absent on PostgreSQL. */
  sqlite?: SQLite.Database;
  close(): Promise<void>;
}

/** Where the database is: DATABASE_URL wins over DB_PATH (see config.ts). */
export interface DatabaseLocation {
  dbPath: string;
  databaseUrl?: string | undefined;
}

export function openDatabase(location: DatabaseLocation, options: { log?: Logger; connections?: number; name?: string } = {}): OpenedDatabase {
  return location.databaseUrl ? openPostgres(location.databaseUrl, options) : openSqlite(location.dbPath);
}

function openSqlite(path: string): OpenedDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // WAL: readers never block the writer, and a killed process loses no committed transaction.
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable against a process crash in WAL mode; only a power loss may drop the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withPreparedStatements(sqlite) }) });
  return { db, dialect: 'sqlite', sqlite, close: () => db.destroy() };
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

// PostgreSQL's bigint (ms timestamps, byte counts, every count(*)) and numeric (a sum of bigints)
// arrive from `pg` as text; the services see numbers, exact or not at all (exact-number.ts).

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID || oid === NUMERIC_OID ? parseExactNumber : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * How long requests wait for a connection of a PostgreSQL pool: a wait that is not a lock
 * (pg_stat_activity never shows it), but every statement of a request queues behind it once
 * the pool's connections are all taken. Read by /metrics.
 */
export interface PoolWatch {
  /** Called with each acquisition's wait, in seconds. */
  onWait(listener: (seconds: number) => void): void;
  /** Requests waiting for a connection now. */
  waiting(): number;
}

const poolWatches = new WeakMap<Db, PoolWatch>();

/** The pool watch of a PostgreSQL database opened here (undefined for SQLite: no pool). */
export function poolWatchOf(db: Db): PoolWatch | undefined {
  return poolWatches.get(db);
}

function openPostgres(url: string, { log, connections, name }: { log?: Logger; connections?: number; name?: string }): OpenedDatabase {
  const pool = new pg.Pool({ connectionString: url, types, application_name: name ?? 'peercloud-tracker', ...(connections ? { max: connections } : {}) });
  // A pooled connection the server closes while idle (a restart, an admin's kill) is only
  // dropped from the pool; without a listener `pg` would crash the tracker for it.
  pool.on('error', (error) => log?.warn({ event: 'database_connection_lost', err: error }, 'an idle database connection was closed'));
  const listeners: ((seconds: number) => void)[] = [];
  /** One client as Kysely sees it per pooled connection (Kysely keeps its own state per client object). */
  const clients = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = pgClients();
  const timed = {
    async connect() {
      const began = performance.now();
      const client = await pool.connect();
      const seconds = (performance.now() - began) / 1_000;
      for (const listener of listeners) listener(seconds);
      let seen = clients.get(client);
      if (!seen) clients.set(client, (seen = wrap(client)));
      return seen;
    },
    end: () => pool.end(),
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: timed }) });
  poolWatches.set(db, { onWait: (listener) => listeners.push(listener), waiting: () => pool.waitingCount });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

/**
 * Brings the schema up to date and returns the names of the migrations it ran; throws with the
 * failing migration's name. Several trackers may start at once on one database, and each
 * migration must run once. On PostgreSQL Kysely's migrator holds an advisory lock
 * (pg_advisory_lock) while it reads which migrations ran and runs the others, in one
 * transaction. On SQLite it takes no lock across connections, so the whole run is one
 * IMMEDIATE transaction: it holds the file's write lock from the start, and a second tracker
 * waits for it (busy_timeout), then finds nothing left to do.
 */
export async function migrate(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const sqlite = dialectOf(db) === 'sqlite';
  if (sqlite) await sql`begin immediate`.execute(db);
  const { error, results } = await migrator.migrateToLatest();
  if (sqlite) await sql.raw(error ? 'rollback' : 'commit').execute(db);
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
