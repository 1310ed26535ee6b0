import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

// Migrations take Kysely<any>: they describe the database as it was then, not the current types.
export async function up(db: Kysely<any>): Promise<void> {
  // The same schema in each dialect's words. SQLite's `integer` is already 64-bit, and its
  // `integer primary key autoincrement` is the rowid; PostgreSQL's `integer` is 32-bit, so ms
  // timestamps, byte counts and chunk counts are `bigint` there, and the event id an identity.
  // SQLite's statements are exactly those of the first release, so its files need nothing.
  const postgres = dialectOf(db) === 'postgres';
  const int64 = postgres ? 'bigint' : 'integer';
  const autoIncrementKey = (c: ColumnDefinitionBuilder) => (postgres ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement());

  await db.schema
    .createTable('peers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('public_key', 'text', (c) => c.notNull().unique())
    .addColumn('last_address', 'text')
    .addColumn('first_seen', int64, (c) => c.notNull())
    .addColumn('last_seen', int64, (c) => c.notNull())
    .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0).check(sql`online in (0, 1)`))
    .addColumn('capacity', int64, (c) => c.notNull().defaultTo(0).check(sql`capacity >= 0`))
    .addColumn('reported_used', int64, (c) => c.notNull().defaultTo(0).check(sql`reported_used >= 0`))
    .addColumn('bytes_used', int64, (c) => c.notNull().defaultTo(0).check(sql`bytes_used >= 0`))
    .addColumn('bytes_reserved', int64, (c) => c.notNull().defaultTo(0).check(sql`bytes_reserved >= 0`))
    .addColumn('level', 'integer', (c) => c.notNull().check(sql`level between 1 and 5`))
    .addColumn('trust', 'integer', (c) => c.notNull().check(sql`trust between 1 and 5`))
    .addColumn('dynamism', 'integer', (c) => c.notNull().check(sql`dynamism between 1 and 5`))
    .addColumn('availability', 'integer', (c) => c.notNull().check(sql`availability between 1 and 5`))
    .execute();

  await db.schema
    .createTable('peer_events')
    .addColumn('id', int64, autoIncrementKey)
    .addColumn('peer_id', 'text', (c) => c.notNull().references('peers.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('connect', 'disconnect', 'rejection', 'integrity_failure')`))
    .addColumn('at', int64, (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('peer_events_by_peer_kind_time').on('peer_events').columns(['peer_id', 'kind', 'at']).execute();

  await db.schema
    .createTable('files')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull().references('peers.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('size', int64, (c) => c.notNull().check(sql`size >= 0`))
    .addColumn('sha256', 'text')
    .addColumn('chunk_size', 'integer', (c) => c.notNull().check(sql`chunk_size > 0`))
    .addColumn('chunk_count', int64, (c) => c.notNull().check(sql`chunk_count > 0`))
    .addColumn('stored_bytes', int64, (c) => c.notNull().check(sql`stored_bytes >= 0`))
    .addColumn('replicas_wanted', 'integer', (c) => c.notNull().check(sql`replicas_wanted > 0`))
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('uploading', 'interrupted', 'stored', 'failed')`))
    // When an upload's owner left before any host had all of it: its partial replicas wait for a resume until then + UPLOAD_RESUME_GRACE.
    .addColumn('interrupted_at', int64)
    // When a repair last brought the file back to its wanted number of replicas.
    .addColumn('repaired_at', int64)
    .execute();
  await db.schema.createIndex('files_by_owner').on('files').columns(['owner_id', 'created_at']).execute();

  await db.schema
    .createTable('replicas')
    .addColumn('file_id', 'text', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('host_id', 'text', (c) => c.notNull().references('peers.id'))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('reserved', 'stored')`))
    .addColumn('bytes', int64, (c) => c.notNull().check(sql`bytes >= 0`))
    .addColumn('sha256', 'text')
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('stored_at', int64)
    .addPrimaryKeyConstraint('replicas_pk', ['file_id', 'host_id'])
    .execute();
  await db.schema.createIndex('replicas_by_host').on('replicas').columns(['host_id', 'state']).execute();

  await db.schema
    .createTable('transfers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('store', 'fetch', 'repair')`))
    .addColumn('file_id', 'text', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('sender_id', 'text', (c) => c.notNull().references('peers.id'))
    .addColumn('receiver_id', 'text', (c) => c.notNull().references('peers.id'))
    .addColumn('responder_id', 'text', (c) => c.notNull().references('peers.id'))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('offered', 'open', 'done', 'failed')`))
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('updated_at', int64, (c) => c.notNull())
    .addColumn('expires_at', int64, (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    // A repair: the host whose replica this one replaces (offline too long, or corrupt).
    .addColumn('replaces_host_id', 'text')
    .execute();
  await db.schema.createIndex('transfers_by_state_expiry').on('transfers').columns(['state', 'expires_at']).execute();
  await db.schema.createIndex('transfers_by_file').on('transfers').columns(['file_id', 'kind']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['transfers', 'replicas', 'files', 'peer_events', 'peers']) {
    await db.schema.dropTable(table).execute();
  }
}
