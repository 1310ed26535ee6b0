/** What the owner sealed for each fragment of a file (see shared/redundancy.ts). */
import type { Kysely, Transaction } from 'kysely';
import type { Database, FileRow } from './schema.ts';

/** The root the owner sealed for a fragment (for whole copies, the one root stands for all); null before the seal. */
export async function fragmentRoot(db: Kysely<Database> | Transaction<Database>, file: Pick<FileRow, 'id' | 'scheme_k'>, fragment: number): Promise<string | null> {
  const row = await db
    .selectFrom('file_fragments')
    .select('sha256')
    .where('file_id', '=', file.id)
    .where('idx', '=', file.scheme_k === 1 ? 0 : fragment)
    .executeTakeFirst();
  return row?.sha256 ?? null;
}

