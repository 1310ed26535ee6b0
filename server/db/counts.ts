/**
 * Counts used by several queries, written once: per file (the owner's summaries, repair
 * scheduling) the replicas a file has, those whose host is online, its transfers of a kind
 * under way; per host (placement) its transfers under way.
 */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
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

/** Transfers under way per host on one side (id, 'busy', count): a part of a union. */
export function hostTransfersOn(db: Kysely<Database>, side: 'sender_id' | 'receiver_id', hostIds: readonly string[]) {
  return db
    .selectFrom('transfers')
    .select((eb) => [eb.ref(side).as('id'), sql<'corrupt' | 'busy'>`${sql.lit('busy')}`.as('what'), eb.fn.countAll<number>().as('n')])
    .where(side, 'in', hostIds)
    .where('state', 'in', ACTIVE_TRANSFER_STATES)
    .groupBy(side);
}

/** Transfers under way with each of these hosts on either side (hosts with none are absent). */
export async function hostTransfers(db: Kysely<Database>, hostIds: readonly string[]): Promise<Map<string, number>> {
  const busy = new Map<string, number>();
  if (hostIds.length === 0) return busy;
  const rows = await hostTransfersOn(db, 'sender_id', hostIds).unionAll(hostTransfersOn(db, 'receiver_id', hostIds)).execute();
  for (const row of rows) busy.set(row.id, (busy.get(row.id) ?? 0) + Number(row.n));
  return busy;
}
