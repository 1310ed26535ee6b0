/**
 * Placement: which online hosts take a file's next replicas, by the paper's rule (shared/
 * placement.ts: same level first, then the closest, then most free space), and the space
 * promised to them, reserved atomically in the caller's transaction. Which hosts may be asked
 * at all (online, not caught serving corrupt data, not already holding or failing this file)
 * is decided here too; so is the explanation when none can.
 */
import type { Transaction } from 'kysely';
import { chooseHosts, compareCandidates, type HostCandidate } from '../shared/placement.ts';
import { RELIABILITY_WINDOW_MS } from '../shared/reliability.ts';
import { formatBytes } from '../shared/units.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { Database, FileRow } from './db/schema.ts';
import { STORAGE_KINDS } from './db/states.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { freeSpaceSql, spaceLedger } from './space-ledger.ts';

type Trx = Transaction<Database>;

export class Placement {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #metrics: Metrics;

  constructor(deps: { db: Db; clock: Clock; config: Config; log: Logger; metrics: Metrics }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
  }

  /**
   * Chooses up to `count` hosts for more replicas of the file and reserves their space. A host
   * whose room another placement took meanwhile is passed over for the next one. Returns the
   * hosts reserved, best first (fewer than `count`, or none, when no more can take it).
   */
  async reserveIn(trx: Trx, file: FileRow, count: number, kind: 'store' | 'repair'): Promise<HostCandidate[]> {
    const owner = await trx.selectFrom('peers').select(['id', 'level']).where('id', '=', file.owner_id).executeTakeFirstOrThrow();
    const request = { uploaderId: owner.id, uploaderLevel: owner.level, bytes: file.stored_bytes, replicas: count };
    let left = await this.#candidates(trx, file);
    const reserved: HostCandidate[] = [];
    const now = this.#clock.now();
    while (reserved.length < count) {
      const chosen = chooseHosts({ ...request, replicas: count - reserved.length }, left);
      if (chosen.length === 0) break;
      // In id order: two placements locking the same hosts on PostgreSQL can then never deadlock.
      for (const host of [...chosen].sort((a, b) => (a.id < b.id ? -1 : 1))) {
        if (!(await spaceLedger.reserve(trx, { fileId: file.id, hostId: host.id, bytes: file.stored_bytes, at: now }))) continue;
        reserved.push(host);
        this.#metrics.placements.inc({ kind });
        this.#log.info(
          { event: 'placement', kind, fileId: file.id, ownerId: owner.id, ownerLevel: owner.level, hostId: host.id, hostLevel: host.level, hostFree: host.free, bytes: file.stored_bytes },
          'replica placed',
        );
      }
      // A host whose room another placement took meanwhile is passed over for the next one.
      left = left.filter((candidate) => !chosen.includes(candidate));
    }
    return reserved.sort(compareCandidates(owner.level));
  }

  /** A person-readable reason why no host could take `bytes`. */
  async noHostMessage(ownerId: string, bytes: number): Promise<string> {
    const others = await this.#db
      .selectFrom('peers')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max(freeSpaceSql(eb)).as('largest')])
      .where('online', '=', 1)
      .where('id', '!=', ownerId)
      .executeTakeFirstOrThrow();
    if (Number(others.n) === 0) return 'No other peer is online to store this file. Try again when another peer has joined.';
    const largest = Math.max(0, Number(others.largest ?? 0));
    return `Not enough space: this file needs ${formatBytes(bytes)} and the most any online peer has free is ${formatBytes(largest)}.`;
  }

  /** Hosts that may be asked to hold a new replica of the file, with their free space. */
  async #candidates(trx: Trx, file: FileRow): Promise<HostCandidate[]> {
    const rows = await trx
      .selectFrom('peers')
      .select(['id', 'level', (eb) => freeSpaceSql(eb).as('free')])
      .where('online', '=', 1)
      .where('id', '!=', file.owner_id)
      // A host caught serving corrupt data too often is trusted with nothing new.
      .where((eb) =>
        eb(
          eb
            .selectFrom('peer_events')
            .select(eb.fn.countAll<number>().as('n'))
            .whereRef('peer_events.peer_id', '=', 'peers.id')
            .where('peer_events.kind', '=', 'integrity_failure')
            .where('peer_events.at', '>', this.#clock.now() - RELIABILITY_WINDOW_MS),
          '<',
          this.#config.integrityExclusion,
        ),
      )
      // A host holds at most one replica of a file, and a host that failed this file isn't asked again.
      .where('id', 'not in', (eb) => eb.selectFrom('replicas').select('host_id').where('file_id', '=', file.id))
      .where('id', 'not in', (eb) =>
        eb.selectFrom('transfers').select('receiver_id').where('file_id', '=', file.id).where('kind', 'in', STORAGE_KINDS).where('state', '=', 'failed'),
      )
      .execute();
    return rows.map((row) => ({ id: row.id, level: row.level, free: Number(row.free) }));
  }
}
