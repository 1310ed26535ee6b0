/**
 * Opens the tracker's SQLite database through Kysely, so that the queries stay portable
 * (PostgreSQL can follow with another dialect) while SQLite stays embedded: no setup.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './schema.ts';
import * as initial from './migrations/0001_initial.ts';

export type Db = Kysely<Database>;

/** Listed here rather than read from disk, so migrations run the same from tsx, a bundle or a test. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export interface OpenedDatabase {
  db: Db;
  /** The underlying handle, for pragmas and integrity checks. */
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

export function openDatabase(path: string): OpenedDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // WAL: readers never block the writer, and a killed process loses no committed transaction.
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable against a process crash in WAL mode; only a power loss may drop the last commits.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    sqlite,
    close: () => db.destroy(),
  };
}

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
