/**
 * Per-file counts used by several queries (the owner's summaries, repair scheduling), written
 * once: replicas a file has, replicas whose host is online, transfers of a kind under way.
 */
import type { ExpressionBuilder } from 'kysely';
import type { Database, TransferKindColumn } from './schema.ts';
import { ACTIVE_TRANSFER_STATES } from './states.ts';

type FilesScope = ExpressionBuilder<Database, 'files'>;

/**
 * Verified fragments of the file (distinct ones: two hosts with the same fragment count once);
 * `online` keeps the live ones (host online, not suspect), and `orSeenAfter` those still
 * counted on (live, or host away within the repair grace).
 */
export function storedReplicas(eb: FilesScope, options: { online?: boolean; orSeenAfter?: number } = {}) {
  let query = eb
    .selectFrom('replicas')
    .innerJoin('peers', 'peers.id', 'replicas.host_id')
    .select((sub) => sub.fn.count<number>('replicas.fragment').distinct().as('n'))
    .whereRef('replicas.file_id', '=', 'files.id')
    .where('replicas.state', '=', 'stored')
    // A copy a repair replaced is kept on the books (its host may come back), not counted.
    .where('replicas.retired_at', 'is', null);
  if (options.orSeenAfter !== undefined) {
    const since = options.orSeenAfter;
    query = query.where('replicas.suspect_since', 'is', null).where((w) => w.or([w('peers.online', '=', 1), w('peers.last_seen', '>', since)]));
  } else if (options.online) {
    // A live copy: its host is online and has not failed to answer an audit since its last proof.
    query = query.where('peers.online', '=', 1).where('replicas.suspect_since', 'is', null);
  }
  return query;
}

/** Transfers of this kind for the file that are under way. */
export function activeTransfers(eb: FilesScope, kind: TransferKindColumn) {
  return eb
    .selectFrom('transfers')
    .select(eb.fn.countAll<number>().as('n'))
    .whereRef('transfers.file_id', '=', 'files.id')
    .where('transfers.kind', '=', kind)
    .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES);
}
