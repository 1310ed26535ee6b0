/**
 * The space ledger's invariant, checked from the rows themselves: every host's reserved and
 * used bytes are exactly the bytes of its reserved and stored replica rows.
 */
import type { Db } from '../../server/db/database.ts';

export interface SpaceMismatch {
  hostId: string;
  counters: { reserved: number; used: number };
  rows: { reserved: number; used: number };
}

export async function spaceMismatches(db: Db): Promise<SpaceMismatch[]> {
  const peers = await db.selectFrom('peers').select(['id', 'bytes_reserved', 'bytes_used']).execute();
  const sums = await db
    .selectFrom('replicas')
    .select(['host_id', 'state', (eb) => eb.fn.sum<number>('bytes').as('bytes')])
    .groupBy(['host_id', 'state'])
    .execute();
  const rowBytes = (hostId: string, state: 'reserved' | 'stored') => Number(sums.find((sum) => sum.host_id === hostId && sum.state === state)?.bytes ?? 0);
  return peers
    .map((peer) => ({
      hostId: peer.id,
      counters: { reserved: Number(peer.bytes_reserved), used: Number(peer.bytes_used) },
      rows: { reserved: rowBytes(peer.id, 'reserved'), used: rowBytes(peer.id, 'stored') },
    }))
    .filter((entry) => entry.counters.reserved !== entry.rows.reserved || entry.counters.used !== entry.rows.used);
}
