import { sql, type Kysely } from 'kysely';

/**
 * Placement reads the hosts tied for most free space from a place that depends on the file
 * (server/placement.ts, shared/placement.ts tiePivot): the placement index orders ties by id, so
 * that each file's first page is one range of it, not a sort of every tied host.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('peers_placement').execute();
  await sql`create index peers_placement on peers (online, level, (credited - bytes_used - bytes_reserved), id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('peers_placement').execute();
  await sql`create index peers_placement on peers (online, level, (credited - bytes_used - bytes_reserved))`.execute(db);
}
