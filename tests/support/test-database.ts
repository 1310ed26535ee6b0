/**
 * The database a test's tracker uses: a new SQLite file in the test's directory in the
 * `integration` project, a new PostgreSQL database (a copy of the migrated template in the
 * cluster `postgres-setup.ts` started) in `integration-pg`. Tests reach it through Kysely,
 * the same queries on both, and check its soundness with `expectSound`.
 */
import { join } from 'node:path';
import { sql } from 'kysely';
import { expect, inject } from 'vitest';
import type { DatabaseLocation, OpenedDatabase } from '../../server/db/database.ts';
import { openDatabase } from '../../server/db/database.ts';
import type { DialectName } from '../../server/db/dialect.ts';
import { randomId } from '../../shared/encoding.ts';
import { withClient } from './postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Which database the project's tests run on (vite.config.ts). */
    database: DialectName;
    /** The superuser's URL to the test cluster's `postgres` database (postgres-setup.ts). */
    postgresAdminUrl: string;
  }
}

export const TEMPLATE_DATABASE = 'peercloud_template';

export interface TestDatabase {
  dialect: DialectName;
  location: DatabaseLocation;
  /** What a tracker process needs in its environment to use this database. */
  env: Record<string, string>;
  /** Deletes the database (its files go with the test's directory on SQLite). */
  drop(): Promise<void>;
}

/** The database this project's tests run on. */
export function testDialect(): DialectName {
  const dialect = inject('database');
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('vite.config.ts must provide `database` to every integration project');
  return dialect;
}

/**
 * A fresh database for one test; on SQLite, the file `tracker.db` in `dir`, which the tracker
 * creates and migrates. On PostgreSQL a copy of the migrated template, or with `empty` a
 * database without any table, to see the tracker migrate it.
 */
export async function createTestDatabase(dir: string, options: { empty?: boolean } = {}): Promise<TestDatabase> {
  if (testDialect() === 'sqlite') {
    const dbPath = join(dir, 'tracker.db');
    return { dialect: 'sqlite', location: { dbPath }, env: { DB_PATH: dbPath }, drop: async () => {} };
  }
  const adminUrl = inject('postgresAdminUrl');
  if (!adminUrl) throw new Error('integration-pg runs without its cluster: tests/support/postgres-setup.ts must be its globalSetup');
  const name = `test_${randomId(8)}`;
  // FILE_COPY copies the template's files as they are: faster than WAL_LOG for a small database.
  const template = options.empty ? 'template0' : TEMPLATE_DATABASE;
  await withClient(adminUrl, (client) => client.query(`create database ${name} template ${template} strategy file_copy`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    dialect: 'postgres',
    location: { dbPath: join(dir, 'unused.db'), databaseUrl: url.href },
    env: { DATABASE_URL: url.href },
    // FORCE: a tracker killed with SIGKILL may leave its connections behind for a moment.
    drop: () => withClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

/**
 * The database is sound: its storage (SQLite's integrity_check; on PostgreSQL, amcheck's
 * verification of every table and B-tree index), its foreign keys, and the tracker's own
 * bookkeeping (each host's used and reserved bytes are the sum of its replicas').
 */
export async function expectSound(database: OpenedDatabase): Promise<void> {
  const { db } = database;
  if (database.sqlite) {
    expect(database.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(database.sqlite.pragma('foreign_key_check')).toEqual([]);
  } else {
    await sql`create extension if not exists amcheck`.execute(db);
    const tables = await sql<{ relname: string; problems: number }>`
      select c.relname, (select count(*) from verify_heapam(c.oid)) as problems
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r'`.execute(db);
    expect(tables.rows.length).toBeGreaterThan(0);
    expect(tables.rows.filter((row) => row.problems > 0)).toEqual([]);
    // bt_index_check raises an error on a corrupt index; `heapallindexed` also checks every row is in it.
    const indexes = await sql<{ relname: string }>`
      select c.relname, bt_index_check(c.oid, true) from pg_index i
      join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam join pg_namespace n on n.oid = c.relnamespace
      where am.amname = 'btree' and n.nspname = 'public'`.execute(db);
    expect(indexes.rows.length).toBeGreaterThan(0);
    // PostgreSQL enforces foreign keys itself; this re-checks every one (all single-column here) row by row.
    const keys = await sql<{ child: string; column: string; parent: string; parent_column: string }>`
      select c.conrelid::regclass::text as child, a.attname as column, c.confrelid::regclass::text as parent, pa.attname as parent_column
      from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
      join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = c.confkey[1]
      where c.contype = 'f' and c.connamespace = 'public'::regnamespace`.execute(db);
    expect(keys.rows.length).toBeGreaterThan(0);
    for (const key of keys.rows) {
      const orphans = await sql<{ n: number }>`
        select count(*) as n from ${sql.table(key.child)} c
        where c.${sql.ref(key.column)} is not null
          and not exists (select 1 from ${sql.table(key.parent)} p where p.${sql.ref(key.parent_column)} = c.${sql.ref(key.column)})`.execute(db);
      expect(orphans.rows[0]!.n, `${key.child}.${key.column} → ${key.parent}`).toBe(0);
    }
  }
  const drift = await db
    .selectFrom('peers')
    .select(['id', 'bytes_used', 'bytes_reserved'])
    .select((eb) => [
      eb.fn.coalesce(eb.selectFrom('replicas').select((s) => s.fn.sum<number>('bytes').as('b')).whereRef('replicas.host_id', '=', 'peers.id').where('state', '=', 'stored'), eb.lit(0)).as('stored'),
      eb.fn.coalesce(eb.selectFrom('replicas').select((s) => s.fn.sum<number>('bytes').as('b')).whereRef('replicas.host_id', '=', 'peers.id').where('state', '=', 'reserved'), eb.lit(0)).as('reserved'),
    ])
    .execute();
  expect(drift.filter((peer) => Number(peer.stored) !== peer.bytes_used || Number(peer.reserved) !== peer.bytes_reserved)).toEqual([]);
}

/** Opens the test's database beside its tracker (or after it died), for a look inside. */
export function openTestDatabase(database: TestDatabase): OpenedDatabase {
  return openDatabase(database.location);
}
