import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

/**
 * Storage that must be proven: audits of replicas against their Merkle roots, what each host
 * has proven and since when it is vetted, the networks peers come from, and the evidence a
 * transfer leaves (bytes reported, signaling spent) for blame and budgets.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const int64 = dialectOf(db) === 'postgres' ? 'bigint' : 'integer';

  // The network (an IPv4 /24 or IPv6 /48) the peer last connected from; null on the tracker's LAN.
  await db.schema.alterTable('peers').addColumn('network', 'text').execute();
  await db.schema.alterTable('peers').addColumn('audits_passed', int64, (c) => c.notNull().defaultTo(0)).execute();
  // Bytes of replicas this host has proven it holds, weighted by how long (a cache of the replicas' rows).
  await db.schema.alterTable('peers').addColumn('proven_bytes', int64, (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('peers').addColumn('vetted_at', int64).execute();
  await db.schema.createIndex('peers_by_network_first_seen').on('peers').columns(['network', 'first_seen']).execute();
  await db.schema.createIndex('peers_online_level').on('peers').columns(['online', 'level']).execute();

  // When the replica last passed an audit; when the next one is due; since when it failed to
  // answer (not counted as a live copy meanwhile); when a repair replaced it (its host may come back).
  await db.schema.alterTable('replicas').addColumn('proven_at', int64).execute();
  await db.schema.alterTable('replicas').addColumn('audit_due_at', int64).execute();
  await db.schema.alterTable('replicas').addColumn('suspect_since', int64).execute();
  await db.schema.alterTable('replicas').addColumn('retired_at', int64).execute();
  await db.schema.createIndex('replicas_by_audit_due').on('replicas').columns(['state', 'audit_due_at']).execute();

  await db.schema
    .createTable('audits')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('file_id', 'text', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('host_id', 'text', (c) => c.notNull().references('peers.id'))
    .addColumn('chunk', int64, (c) => c.notNull())
    .addColumn('block', 'integer', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('store', 'routine', 'claim', 'promote', 'accusation')`))
    // The transfer an audit decides (a store waiting for its proof, a download whose bytes were accused).
    .addColumn('transfer_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'passed', 'failed')`))
    .addColumn('outcome', 'text', (c) => c.check(sql`outcome in ('wrong', 'unanswered')`))
    .addColumn('issued_at', int64, (c) => c.notNull())
    .addColumn('deadline_at', int64, (c) => c.notNull())
    .addColumn('answered_at', int64)
    .execute();
  await db.schema.createIndex('audits_by_state_deadline').on('audits').columns(['state', 'deadline_at']).execute();
  await db.schema.createIndex('audits_by_host').on('audits').columns(['host_id', 'state']).execute();

  // Who the other side was, for blame that counts once per pair; events by time, for the sweep.
  await db.schema.alterTable('peer_events').addColumn('counterparty_id', 'text').execute();
  await db.schema.createIndex('peer_events_by_time').on('peer_events').column('at').execute();

  // Evidence a transfer leaves: the most bytes either side reported, and signaling spent.
  await db.schema.alterTable('transfers').addColumn('bytes_reported', int64, (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('transfers').addColumn('signal_bytes', int64, (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('transfers').addColumn('opened_at', int64).execute();
  await db.schema.createIndex('transfers_by_receiver_state').on('transfers').columns(['receiver_id', 'state']).execute();
  await db.schema.createIndex('transfers_by_sender_state').on('transfers').columns(['sender_id', 'state']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audits').execute();
  for (const [table, columns] of [
    ['peers', ['network', 'audits_passed', 'proven_bytes', 'vetted_at']],
    ['replicas', ['proven_at', 'audit_due_at', 'suspect_since', 'retired_at']],
    ['peer_events', ['counterparty_id']],
    ['transfers', ['bytes_reported', 'signal_bytes', 'opened_at']],
  ] as const) {
    for (const column of columns) await db.schema.alterTable(table).dropColumn(column).execute();
  }
}
