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
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { EarningPolicy } from '../shared/earned.ts';
import { hostTransfers } from './db/counts.ts';
import { dialectOf } from './db/dialect.ts';
import { withoutNul } from './db/pg-client.ts';
import type { Database, FileRow, PeerRow, ReplicaRow, TransferRow } from './db/schema.ts';
import { ACTIVE_TRANSFER_STATES } from './db/states.ts';

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

/** New replicas of one file, each of `bytes`, one per host. */
export interface NewReplicas {
  fileId: string;
  bytes: number;
  at: number;
  hosts: readonly { hostId: string; fragment: number }[];
}

/** A new file placed at once: its row, one reserved replica per host, a store transfer to each. */
export interface NewFilePlacement {
  file: FileRow;
  replicas: readonly ReplicaRow[];
  transfers: readonly TransferRow[];
}

/** The ledger's operations: stateless, every one inside the caller's transaction but reserveNewFile. */
export const spaceLedger = {
  /**
   * Reserves room for new replicas of one file, one per host, on each host that still has it:
   * the counters move only where the database finds the room, in one conditional update, and
   * the replica rows are written with them in one insert. Returns the hosts reserved (the
   * others' room was taken). A placement of n fragments costs a few statements, not a few per
   * fragment.
   *
   * On PostgreSQL the hosts' rows are first locked in id order (`order by id for no key update`
   * locks rows in the order it sorts them), so that placements never wait for each other in a
   * cycle; with `unlessLocked` a host another transaction is changing is passed over rather
   * than waited for (placement asks so of hosts it would lock out of id order). The lock is the
   * update's own strength: FOR UPDATE would also wait for the key-share locks others hold by
   * inserting rows that refer to a peer (an owner's new file). Locking and updating in one
   * statement (a materialized CTE) deadlocked in tests where owners host each other's files;
   * two statements do not. SQLite has one writer at a time: nobody else holds a row.
   */
  async reserveAll(trx: Trx, batch: NewReplicas, options: { unlessLocked?: boolean } = {}): Promise<Set<string>> {
    if (batch.hosts.length === 0) return new Set();
    const ids = batch.hosts.map((host) => host.hostId);
    if (new Set(ids).size !== ids.length) throw new Error('spaceLedger.reserveAll: one replica of a file per host');
    const roomy = (eb: ExpressionBuilder<Database, 'peers'>) => eb(freeSpaceSql(eb), '>=', batch.bytes);
    let candidates = ids;
    if (dialectOf(trx) === 'postgres') {
      const locked = await trx
        .selectFrom('peers')
        .select('peers.id')
        .where('peers.id', 'in', ids)
        .where(roomy)
        .orderBy('peers.id')
        .forNoKeyUpdate()
        .$if(options.unlessLocked === true, (qb) => qb.skipLocked())
        .execute();
      candidates = locked.map((row) => row.id);
      if (candidates.length === 0) return new Set();
    }
    const updated = await trx
      .updateTable('peers')
      .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '+', batch.bytes) }))
      .where('id', 'in', candidates)
      .where(roomy)
      .returning('id')
      .execute();
    const reserved = new Set(updated.map((row) => row.id));
    const rows = batch.hosts.filter((host) => reserved.has(host.hostId));
    if (rows.length > 0) {
      await trx
        .insertInto('replicas')
        .values(rows.map((host) => ({ file_id: batch.fileId, host_id: host.hostId, fragment: host.fragment, state: 'reserved' as const, bytes: batch.bytes, sha256: null, created_at: batch.at, stored_at: null })))
        .execute();
    }
    return reserved;
  },

  /**
   * A new file, its hosts' reservations and its store transfers, written together or not at
   * all: false, and nothing written, when one of its hosts no longer has the room or already has
   * `maxTransfers` transfers under way (another placement took it meanwhile). Its own
   * transaction, one statement on PostgreSQL (the function of migration 0007, which locks the
   * hosts in id order as reserveAll does, and re-checks the room with the free space defined
   * here), so that the common placement costs one round trip to write; reserveAll's steps are
   * for the rest.
   */
  async reserveNewFile(db: Kysely<Database>, placement: NewFilePlacement, maxTransfers: number): Promise<boolean> {
    const bytes = placement.file.fragment_bytes;
    const hostIds = placement.replicas.map((replica) => replica.host_id);
    if (new Set(hostIds).size !== hostIds.length) throw new Error('spaceLedger.reserveNewFile: one replica of a file per host');
    if (placement.replicas.some((replica) => replica.file_id !== placement.file.id || replica.bytes !== bytes || replica.state !== 'reserved')) {
      throw new Error('spaceLedger.reserveNewFile: each replica is a reservation of one fragment of this file');
    }
    if (dialectOf(db) === 'postgres') {
      const rows = JSON.stringify({ bytes, ...placement }, (_key, value: unknown) => withoutNul(value));
      const { rows: answer } = await sql<{ placed: boolean }>`select peercloud_place_new_file(${rows}::jsonb, ${ACTIVE_TRANSFER_STATES}::text[], ${maxTransfers}) as placed`.execute(db);
      return answer[0]?.placed === true;
    }
    // SQLite has one writer at a time: the transaction is the lock.
    return db.transaction().execute(async (trx) => {
      const roomy = await trx
        .selectFrom('peers')
        .select('id')
        .where('id', 'in', hostIds)
        .where((eb) => eb(freeSpaceSql(eb), '>=', bytes))
        .execute();
      if (roomy.length < hostIds.length) return false;
      const busy = await hostTransfers(trx, hostIds);
      if ([...busy.values()].some((n) => n >= maxTransfers)) return false;
      await trx
        .updateTable('peers')
        .set((eb) => ({ bytes_reserved: eb('bytes_reserved', '+', bytes) }))
        .where('id', 'in', hostIds)
        .execute();
      await trx.insertInto('files').values(placement.file).execute();
      await trx.insertInto('replicas').values(placement.replicas).execute();
      await trx.insertInto('transfers').values(placement.transfers).execute();
      return true;
    });
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

  /**
   * Reservations nothing will fill, many at once (transfers ended together: a deleted file's, a
   * gone peer's): the rows that are still reserved go in one statement, and each host's promise
   * falls by what its rows held, in one update for all hosts. Returns the replicas released; one
   * that another request took meanwhile is not among them, and then that request moved the
   * counter. On PostgreSQL the hosts' rows are locked in id order first, as reserveAll locks them,
   * so that a release and a placement never wait for each other in a cycle.
   */
  async releaseAll(trx: Trx, replicas: readonly { fileId: string; hostId: string }[]): Promise<{ fileId: string; hostId: string }[]> {
    if (replicas.length === 0) return [];
    if (replicas.length === 1) return (await this.release(trx, replicas[0]!.fileId, replicas[0]!.hostId)) ? [replicas[0]!] : [];
    const removed = await trx
      .deleteFrom('replicas')
      .where('state', '=', 'reserved')
      .where((eb) => eb.or(replicas.map(({ fileId, hostId }) => eb.and([eb('file_id', '=', fileId), eb('host_id', '=', hostId)]))))
      .returning(['file_id', 'host_id', 'state', 'bytes'])
      .execute();
    await uncount(trx, removed);
    return removed.map((replica) => ({ fileId: replica.file_id, hostId: replica.host_id }));
  },

  /** A stored replica the host no longer has (its inventory says so, or it proved it doesn't). */
  async lose(trx: Trx, fileId: string, hostId: string): Promise<boolean> {
    return (await remove(trx, fileId, hostId, 'stored')) !== undefined;
  },

  /** Any replica of the file on the host, whatever its state (replaced, corrupt, deleted). Returns it when there was one. */
  async drop(trx: Trx, fileId: string, hostId: string): Promise<ReplicaRow | undefined> {
    return remove(trx, fileId, hostId, undefined);
  },

  /**
   * Every replica of a file (it is being deleted), in a few statements whatever their number (a
   * file of 8 fragments took 17 one by one); returns their hosts, in id order.
   */
  async dropFile(trx: Trx, fileId: string): Promise<string[]> {
    const removed = await trx.deleteFrom('replicas').where('file_id', '=', fileId).returning(['file_id', 'host_id', 'state', 'bytes']).execute();
    return uncount(trx, removed);
  },
};

/**
 * Replicas just deleted leave their hosts' counters (the one place where they do): each host's
 * `bytes_used` falls by its stored ones and `bytes_reserved` by its reserved ones, in one update
 * for all hosts. On PostgreSQL the hosts' rows are locked in id order first, as reserveAll locks
 * them, so that this and a placement never wait for each other in a cycle. Returns the hosts, in
 * id order.
 */
async function uncount(trx: Trx, removed: readonly Pick<ReplicaRow, 'host_id' | 'state' | 'bytes'>[]): Promise<string[]> {
  if (removed.length === 0) return [];
  const byHost = new Map<string, { used: number; reserved: number }>();
  for (const replica of removed) {
    const host = byHost.get(replica.host_id) ?? { used: 0, reserved: 0 };
    host[replica.state === 'stored' ? 'used' : 'reserved'] += Number(replica.bytes);
    byHost.set(replica.host_id, host);
  }
  const hosts = [...byHost.keys()].sort();
  if (hosts.length > 1 && dialectOf(trx) === 'postgres') await trx.selectFrom('peers').select('id').where('id', 'in', hosts).orderBy('id').forNoKeyUpdate().execute();
  // One host (a single replica's release, loss or drop): its amounts as they are.
  const less = (which: 'used' | 'reserved') =>
    hosts.length === 1 ? byHost.get(hosts[0]!)![which] : sql<number>`case ${sql.join(hosts.map((hostId) => sql`when peers.id = ${hostId} then ${byHost.get(hostId)![which]}`), sql` `)} else 0 end`;
  await trx
    .updateTable('peers')
    .set((eb) => ({ bytes_used: eb('bytes_used', '-', less('used')), bytes_reserved: eb('bytes_reserved', '-', less('reserved')) }))
    .where('id', 'in', hosts)
    .execute();
  return hosts;
}

async function row(trx: Trx, fileId: string, hostId: string): Promise<ReplicaRow | undefined> {
  return trx.selectFrom('replicas').selectAll().where('file_id', '=', fileId).where('host_id', '=', hostId).executeTakeFirst();
}

async function remove(trx: Trx, fileId: string, hostId: string, state: ReplicaRow['state'] | undefined): Promise<ReplicaRow | undefined> {
  // One statement finds and deletes the row: one that another request took meanwhile is not
  // returned, and then that request moved the counter, not this one.
  const replica = await trx
    .deleteFrom('replicas')
    .where('file_id', '=', fileId)
    .where('host_id', '=', hostId)
    .$if(state !== undefined, (qb) => qb.where('state', '=', state!))
    .returningAll()
    .executeTakeFirst();
  if (!replica) return undefined;
  await uncount(trx, [replica]);
  return replica;
}
