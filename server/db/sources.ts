/**
 * The hosts a file can be read from, with what shared/host-ranking.ts ranks them by: online
 * hosts holding a verified replica, their level, their recent failures to serve this file
 * (as a download's or a repair's source) and how busy they are.
 */
import type { Kysely, Transaction } from 'kysely';
import type { SourceCandidate } from '../../shared/host-ranking.ts';
import type { Database, TransferKindColumn } from './schema.ts';
import { ACTIVE_TRANSFER_STATES } from './states.ts';

export async function sourceCandidates(
  db: Kysely<Database> | Transaction<Database>,
  query: { fileId: string; kind: TransferKindColumn; failedSince: number },
): Promise<(SourceCandidate & { fragment: number })[]> {
  const rows = await db
    .selectFrom('replicas')
    .innerJoin('peers', 'peers.id', 'replicas.host_id')
    .select(['peers.id', 'peers.level', 'replicas.fragment'])
    .select((eb) => [
      eb
        .selectFrom('transfers')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('transfers.sender_id', '=', 'peers.id')
        .where('transfers.file_id', '=', query.fileId)
        .where('transfers.kind', '=', query.kind)
        .where('transfers.state', '=', 'failed')
        .where('transfers.updated_at', '>', query.failedSince)
        .as('recentFailures'),
      eb
        .selectFrom('transfers')
        .select(eb.fn.countAll<number>().as('n'))
        .where((w) => w.or([w('transfers.sender_id', '=', w.ref('peers.id')), w('transfers.receiver_id', '=', w.ref('peers.id'))]))
        .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES)
        .as('busy'),
    ])
    .where('replicas.file_id', '=', query.fileId)
    .where('replicas.state', '=', 'stored')
    .where('replicas.retired_at', 'is', null)
    .where('replicas.suspect_since', 'is', null)
    .where('peers.online', '=', 1)
    .execute();
  return rows.map((row) => ({ id: row.id, level: row.level, fragment: row.fragment, recentFailures: Number(row.recentFailures ?? 0), busy: Number(row.busy ?? 0) }));
}
