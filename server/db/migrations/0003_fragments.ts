import { sql, type Kysely } from 'kysely';
import { dialectOf } from '../dialect.ts';

/**
 * Fragments: each file records its k-of-n scheme (k = 1 for whole copies) and the bytes one
 * fragment takes; each replica row holds one fragment; each fragment has the root its owner
 * sealed. Transfers say which fragment they move, and a repair's transfers (k sources into one
 * rebuilding host) share a group.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const int64 = dialectOf(db) === 'postgres' ? 'bigint' : 'integer';
  await db.schema.alterTable('files').addColumn('scheme_k', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.alterTable('files').addColumn('fragment_bytes', int64).execute();
  await db.updateTable('files').set({ fragment_bytes: sql`stored_bytes` }).execute();

  await db.schema.alterTable('replicas').addColumn('fragment', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  // Whole copies made before fragments become fragments 0, 1… of their file (in host order):
  // every fragment of a file has an index of its own, whatever its scheme.
  await sql`update replicas set fragment = (select count(*) from replicas as earlier where earlier.file_id = replicas.file_id and earlier.host_id < replicas.host_id)`.execute(db);

  await db.schema
    .createTable('file_fragments')
    .addColumn('file_id', 'text', (c) => c.notNull().references('files.id').onDelete('cascade'))
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('file_fragments_pk', ['file_id', 'idx'])
    .execute();
  // Files sealed before fragments: their copies all have the file's root (for whole copies the
  // root of fragment 0 stands for every fragment).
  await sql`insert into file_fragments (file_id, idx, sha256) select id, 0, sha256 from files where sha256 is not null`.execute(db);

  await db.schema.alterTable('transfers').addColumn('fragment', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('transfers').addColumn('group_id', 'text').execute();
  await db.schema.alterTable('transfers').addColumn('rebuild_fragment', 'integer').execute();
  await db.schema.createIndex('transfers_by_group').on('transfers').column('group_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('file_fragments').execute();
  for (const [table, column] of [
    ['files', 'scheme_k'],
    ['files', 'fragment_bytes'],
    ['replicas', 'fragment'],
    ['transfers', 'fragment'],
    ['transfers', 'group_id'],
    ['transfers', 'rebuild_fragment'],
  ] as const) {
    await db.schema.alterTable(table).dropColumn(column).execute();
  }
}
