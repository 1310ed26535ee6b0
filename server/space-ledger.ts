/**
 * The one owner of a host's space counters. `bytes_reserved` counts replicas being filled and
 * `bytes_used` replicas verified stored; both move here and only here, always together with
 * the replica row they count, inside the caller's transaction, and only when that row really
 * changed: a request that read a row another request has since taken moves nothing (a file
 * listed twice once drove `bytes_used` negative). Free space has one definition, below.
 *
 * Reserving is a conditional update (room is re-checked by the database itself), so that
 * placements deciding at the same time, even on several trackers, can never promise the
 * same bytes twice.
 */
import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import type { EarningPolicy } from '../shared/earned.ts';
import { dialectOf } from './db/dialect.ts';
import type { Database, PeerRow, ReplicaRow } from './db/schema.ts';

type Trx = Transaction<Database>;

/**
 * Free space: what a host is credited with (what it offers, up to what it has earned: shared/
 * earned.ts, kept in `peers.credited` by peers.ts), less what it stores and what it has promised.
 */
export function freeSpace(peer: Pick<PeerRow, 'credited' | 'bytes_used' | 'bytes_reserved'>): number {
  return peer.credited - peer.bytes_used - peer.bytes_reserved;
}

/** The same definition, for queries: the expression the `peers_placement` index orders hosts by. */
export function freeSpaceSql(eb: ExpressionBuilder<Database, 'peers'>) {
  return eb(eb(eb.ref('peers.credited'), '-', eb.ref('peers.bytes_used')), '-', eb.ref('peers.bytes_reserved'));
}

/** What a host offering `capacity` is credited with, given what it has proven (shared/earned.ts), for an update of `peers`. */
export function creditedSql(capacity: number, policy: EarningPolicy) {
  const earned = sql<number>`(${policy.newcomerSpace} + cast(${policy.growth} * peers.proven_bytes as bigint))`;
  return sql<number>`(case when ${capacity} < ${earned} then ${capacity} else ${earned} end)`;
}

export interface NewReplica {
  fileId: string;
  hostId: string;
  /** Which fragment of the file it will hold. */
  fragment: number;
  bytes: number;
  at: number;
}

/** The ledger's operations: stateless, every one inside the caller's transaction. */
export const spaceLedger = {
  /**
   * Reserves room for a new replica, if the host still has it: the counter moves only where
   * the database finds the room, and the row is written with it. False when it was taken.
   */
  async reserve(trx: Trx, replica: NewReplica, options: { unlessLocked?: boolean } = {}): Promise<boolean> {
    // On PostgreSQL, `unlessLocked` passes over a host another transaction is changing rather
    // than waiting for it (placement asks so of hosts it would lock out of id order: waiting
    // there could deadlock). SQLite has one writer at a time: nobody else holds a row.
    const skipLocked = options.unlessLocked === true && dialectOf(trx) === 'postgres';
    const updated = await trx
      .updateTable('peers')
      .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '+', replica.bytes) }))
      .where('id', '=', replica.hostId)
      .where((eb) => eb(freeSpaceSql(eb), '>=', replica.bytes))
      .$if(skipLocked, (qb) => qb.where('id', 'in', (eb) => eb.selectFrom('peers as free_row').select('free_row.id').where('free_row.id', '=', replica.hostId).forUpdate().skipLocked()))
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return false;
    await trx
      .insertInto('replicas')
      .values({ file_id: replica.fileId, host_id: replica.hostId, fragment: replica.fragment, state: 'reserved', bytes: replica.bytes, sha256: null, created_at: replica.at, stored_at: null })
      .execute();
    return true;
  },

  /** A reserved replica verified: its bytes move from promised to used. False when it was not reserved (any more). */
  async promote(trx: Trx, fileId: string, hostId: string, at: number, root?: string): Promise<boolean> {
    const replica = await row(trx, fileId, hostId);
    if (replica?.state !== 'reserved') return false;
    const promoted = await trx
      .updateTable('replicas')
      .set({ state: 'stored', stored_at: at, ...(root ? { sha256: root } : {}) })
      .where('file_id', '=', fileId)
      .where('host_id', '=', hostId)
      .where('state', '=', 'reserved')
      .executeTakeFirst();
    if (promoted.numUpdatedRows === 0n) return false;
    await trx
      .updateTable('peers')
      .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '-', replica.bytes), bytes_used: eb('bytes_used', '+', replica.bytes) }))
      .where('id', '=', hostId)
      .execute();
    return true;
  },

  /** A reservation nothing will fill: the row and its promise go. */
  async release(trx: Trx, fileId: string, hostId: string): Promise<boolean> {
    return (await remove(trx, fileId, hostId, 'reserved')) !== undefined;
  },

  /** A stored replica the host no longer has (its inventory says so, or it proved it doesn't). */
  async lose(trx: Trx, fileId: string, hostId: string): Promise<boolean> {
    return (await remove(trx, fileId, hostId, 'stored')) !== undefined;
  },

  /** Any replica of the file on the host, whatever its state (replaced, corrupt, deleted). Returns it when there was one. */
  async drop(trx: Trx, fileId: string, hostId: string): Promise<ReplicaRow | undefined> {
    return remove(trx, fileId, hostId, undefined);
  },

  /** Every replica of a file (it is being deleted); returns their hosts. */
  async dropFile(trx: Trx, fileId: string): Promise<string[]> {
    // In host id order, as placements lock hosts: on PostgreSQL a delete and a placement can't deadlock.
    const replicas = await trx.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).orderBy('host_id').execute();
    const hosts: string[] = [];
    for (const { host_id } of replicas) if (await remove(trx, fileId, host_id, undefined)) hosts.push(host_id);
    return hosts;
  },
};

async function row(trx: Trx, fileId: string, hostId: string): Promise<ReplicaRow | undefined> {
  return trx.selectFrom('replicas').selectAll().where('file_id', '=', fileId).where('host_id', '=', hostId).executeTakeFirst();
}

async function remove(trx: Trx, fileId: string, hostId: string, state: ReplicaRow['state'] | undefined): Promise<ReplicaRow | undefined> {
  const replica = await row(trx, fileId, hostId);
  if (!replica || (state && replica.state !== state)) return undefined;
  const deleted = await trx
    .deleteFrom('replicas')
    .where('file_id', '=', fileId)
    .where('host_id', '=', hostId)
    .where('state', '=', replica.state)
    .executeTakeFirst();
  // Read before another request took the row: then that request moved the counter, not this one.
  if (deleted.numDeletedRows === 0n) return undefined;
  const column = replica.state === 'stored' ? 'bytes_used' : 'bytes_reserved';
  await trx
    .updateTable('peers')
    .set((eb) => ({ [column]: eb(column, '-', replica.bytes) }))
    .where('id', '=', hostId)
    .execute();
  return replica;
}
