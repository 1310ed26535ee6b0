import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

/**
 * Many trackers on one database: each tracker's row and heartbeat, which tracker (and which
 * connection of it) holds each online peer, login challenges any tracker can check, and the
 * indexes that keep placement and the sweep from growing with the whole cloud.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres';
  const int64 = postgres ? 'bigint' : 'integer';

  // One row per running tracker: a tracker whose heartbeat stops is dead, and the others mark its peers offline.
  await db.schema
    .createTable('trackers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', int64, (c) => c.notNull())
    .addColumn('heartbeat_at', int64, (c) => c.notNull())
    .execute();

  // The tracker an online peer is connected to, and that connection's id: a disconnection counts
  // only if it is still the peer's current session (a newer one may be on another tracker).
  await db.schema.alterTable('peers').addColumn('tracker_id', 'text').execute();
  await db.schema.alterTable('peers').addColumn('session_id', 'text').execute();
  // What the host is credited with (shared/earned.ts), kept with its level by peers.ts so that
  // free space is a plain expression of columns, which an index can order.
  await db.schema.alterTable('peers').addColumn('credited', int64, (c) => c.notNull().defaultTo(0)).execute();
  await sql`update peers set credited = capacity`.execute(db);
  await db.schema.createIndex('peers_by_tracker').on('peers').columns(['tracker_id', 'online']).execute();
  // Placement: the online hosts of one level, most free space first (server/placement.ts).
  await sql`create index peers_placement on peers (online, level, (credited - bytes_used - bytes_reserved))`.execute(db);

  // Nonces for the login handshake, good once and for a short while, on whichever tracker the
  // socket then reaches. Bounded per address (socket/challenges.ts).
  await db.schema
    .createTable('login_challenges')
    .addColumn('nonce', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('expires_at', int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('login_challenges_by_address').on('login_challenges').columns(['address', 'expires_at']).execute();
  await db.schema.createIndex('login_challenges_by_expiry').on('login_challenges').column('expires_at').execute();

  // The sweep's own lookups, which scanned every file or every event.
  await db.schema.createIndex('files_by_state').on('files').columns(['state', 'interrupted_at']).execute();
  await db.schema.createIndex('peer_events_by_kind_time').on('peer_events').columns(['kind', 'at']).execute();
  await db.schema.createIndex('transfers_by_state_kind').on('transfers').columns(['state', 'kind']).execute();

  if (postgres) {
    // Socket.IO's PostgreSQL adapter puts messages over NOTIFY's 8000 bytes here (its documented table).
    await sql`create table socket_io_attachments (id bigserial unique, created_at timestamptz default now(), payload bytea)`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) === 'postgres') await db.schema.dropTable('socket_io_attachments').execute();
  for (const index of ['files_by_state', 'peer_events_by_kind_time', 'transfers_by_state_kind', 'peers_by_tracker', 'peers_placement']) await db.schema.dropIndex(index).execute();
  await db.schema.dropTable('login_challenges').execute();
  await db.schema.dropTable('trackers').execute();
  for (const column of ['tracker_id', 'session_id', 'credited']) await db.schema.alterTable('peers').dropColumn(column).execute();
}
