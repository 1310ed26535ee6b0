import type { Db } from '../../server/db/database.ts';

/** Every row of the tracker's tables in primary-key order, to show that a refused request changed nothing. */
export async function snapshot(db: Db): Promise<Record<string, unknown[]>> {
  return {
    peers: await db.selectFrom('peers').selectAll().orderBy('id').execute(),
    files: await db.selectFrom('files').selectAll().orderBy('id').execute(),
    replicas: await db.selectFrom('replicas').selectAll().orderBy('file_id').orderBy('host_id').execute(),
    transfers: await db.selectFrom('transfers').selectAll().orderBy('id').execute(),
    peer_events: await db.selectFrom('peer_events').selectAll().orderBy('id').execute(),
  };
}
