/**
 * Placement: which online hosts take a file's next replicas, by the paper's rule (shared/
 * placement.ts: same level first, then the closest, then most free space), and the space
 * promised to them, reserved atomically in the caller's transaction. Which hosts may be asked
 * at all (online, not caught serving corrupt data, not already holding or failing this file)
 * is decided here too; so is the explanation when none can.
 */
import type { Transaction } from 'kysely';
import { chooseHosts, compareCandidates, type HostCandidate, type PlacementRequest } from '../shared/placement.ts';
import { RELIABILITY_WINDOW_MS } from '../shared/reliability.ts';
import { formatBytes } from '../shared/units.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { Database, FileRow } from './db/schema.ts';
import { ACTIVE_TRANSFER_STATES, STORAGE_KINDS } from './db/states.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { freeSpaceSql, spaceLedger } from './space-ledger.ts';

type Trx = Transaction<Database>;

export interface PlacedFragment {
  host: HostCandidate;
  fragment: number;
}

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
   * Chooses hosts for the given fragments of the file, one host each, and reserves their space.
   * Fragments go to hosts in rank order (the best hosts hold the data fragments, which downloads
   * read first). A host whose room another placement took meanwhile is passed over for the next
   * one. Returns the hosts reserved with their fragment, best first: fewer than asked, or none,
   * when no more can take it.
   */
  async reserveIn(trx: Trx, file: FileRow, fragments: readonly number[], kind: 'store' | 'repair'): Promise<PlacedFragment[]> {
    const owner = await trx.selectFrom('peers').select(['id', 'level']).where('id', '=', file.owner_id).executeTakeFirstOrThrow();
    // Who holds the file already, for the rules on networks and new hosts.
    const holders = await trx
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .select(['peers.network', 'peers.vetted_at'])
      .where('replicas.file_id', '=', file.id)
      .where('replicas.retired_at', 'is', null)
      .execute();
    const request: PlacementRequest = {
      uploaderId: owner.id,
      uploaderLevel: owner.level,
      bytes: file.fragment_bytes,
      replicas: fragments.length,
      fileId: file.id,
      heldNetworks: holders.flatMap((holder) => (holder.network ? [holder.network] : [])),
      unvettedHolders: holders.filter((holder) => holder.vetted_at === null).length,
      copiesWanted: file.replicas_wanted,
      newcomerShare: this.#config.vetting.share,
    };
    let left = await this.#candidates(trx, file);
    const placed: PlacedFragment[] = [];
    const unplaced = [...fragments];
    const now = this.#clock.now();
    while (unplaced.length > 0) {
      const reserved = placed.map((p) => p.host);
      const chosen = chooseHosts(
        {
          ...request,
          replicas: unplaced.length,
          heldNetworks: [...(request.heldNetworks ?? []), ...reserved.flatMap((host) => (host.network ? [host.network] : []))],
          unvettedHolders: (request.unvettedHolders ?? 0) + reserved.filter((host) => host.vetted === false).length,
        },
        left,
      );
      if (chosen.length === 0) break;
      const assigned = chosen.map((host, rank) => ({ host, fragment: unplaced[rank]! }));
      // In id order: two placements locking the same hosts on PostgreSQL can then never deadlock.
      for (const { host, fragment } of [...assigned].sort((a, b) => (a.host.id < b.host.id ? -1 : 1))) {
        const bytes = file.fragment_bytes;
        if (!(await spaceLedger.reserve(trx, { fileId: file.id, hostId: host.id, fragment, bytes, at: now }, this.#config.earning))) continue;
        placed.push({ host, fragment });
        unplaced.splice(unplaced.indexOf(fragment), 1);
        this.#metrics.placements.inc({ kind });
        this.#log.info(
          { event: 'placement', kind, fileId: file.id, fragment, ownerId: owner.id, ownerLevel: owner.level, hostId: host.id, hostLevel: host.level, hostFree: host.free, bytes },
          'fragment placed',
        );
      }
      // A host whose room another placement took meanwhile is passed over for the next one.
      left = left.filter((candidate) => !chosen.includes(candidate));
    }
    const order = compareCandidates(owner.level, file.id);
    return placed.sort((a, b) => order(a.host, b.host));
  }

  /** How many hosts could take a fragment of `bytes` for this owner now (no reservation): to choose a scheme. */
  async countCandidates(trx: Trx, ownerId: string, bytes: number, wanted: number): Promise<number> {
    const owner = await trx.selectFrom('peers').select(['id', 'level']).where('id', '=', ownerId).executeTakeFirstOrThrow();
    const candidates = await this.#candidates(trx, { id: '', owner_id: ownerId });
    return chooseHosts({ uploaderId: owner.id, uploaderLevel: owner.level, bytes, replicas: wanted, copiesWanted: wanted }, candidates).length;
  }

  /**
   * A person-readable reason why no host could take `bytes`. It says whether anyone is online,
   * never how much room others have (that would tell an attacker how much to reserve).
   */
  async noHostMessage(ownerId: string, bytes: number): Promise<string> {
    const others = await this.#db.selectFrom('peers').select((eb) => eb.fn.countAll<number>().as('n')).where('online', '=', 1).where('id', '!=', ownerId).executeTakeFirstOrThrow();
    if (Number(others.n) === 0) return 'No other peer is online to store this file. Try again when another peer has joined.';
    return `No online peer can take this file now (it needs ${formatBytes(bytes)} on each of its hosts). It will work when peers with more room are online: try again later, or with a smaller file.`;
  }

  /** Why a scheme that needs n hosts could not be used (only when no scheme could). */
  async tooFewHostsMessage(scheme: { k: number; n: number }, available: number): Promise<string> {
    return `This file is kept as ${scheme.n} fragments on ${scheme.n} different peers, and only ${available} can take one now. It will work when more peers are online.`;
  }

  /**
   * Hosts that may be asked to hold a new copy of the file: online, not the owner, not caught
   * serving corrupt data too often, not already holding, failing or failing an audit of this file, and not already
   * busy with as many transfers as a host takes (a host is never offered more than it can take:
   * its refusals would count against it for the tracker's doing).
   */
  async #candidates(trx: Trx, file: Pick<FileRow, 'id' | 'owner_id'>): Promise<HostCandidate[]> {
    const now = this.#clock.now();
    const rows = await trx
      .selectFrom('peers')
      .select(['id', 'level', 'network', 'vetted_at', 'proven_bytes', (eb) => freeSpaceSql(eb, this.#config.earning).as('free')])
      .where('online', '=', 1)
      .where('id', '!=', file.owner_id)
      .where((eb) =>
        eb(
          eb
            .selectFrom('peer_events')
            .select(eb.fn.countAll<number>().as('n'))
            .whereRef('peer_events.peer_id', '=', 'peers.id')
            .where('peer_events.kind', '=', 'integrity_failure')
            .where('peer_events.at', '>', now - RELIABILITY_WINDOW_MS),
          '<',
          this.#config.integrityExclusion,
        ),
      )
      .where((eb) =>
        eb(
          eb
            .selectFrom('transfers')
            .select(eb.fn.countAll<number>().as('n'))
            .where((w) => w.or([w('transfers.receiver_id', '=', w.ref('peers.id')), w('transfers.sender_id', '=', w.ref('peers.id'))]))
            .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES),
          '<',
          this.#config.maxHostTransfers,
        ),
      )
      .where('id', 'not in', (eb) => eb.selectFrom('replicas').select('host_id').where('file_id', '=', file.id))
      .where('id', 'not in', (eb) =>
        eb.selectFrom('transfers').select('receiver_id').where('file_id', '=', file.id).where('kind', 'in', STORAGE_KINDS).where('state', '=', 'failed'),
      )
      // Nor a host that failed an audit of this file.
      .where('id', 'not in', (eb) => eb.selectFrom('audits').select('host_id').where('file_id', '=', file.id).where('state', '=', 'failed'))
      .execute();
    return rows.map((row) => ({ id: row.id, level: row.level, free: Number(row.free), network: row.network, vetted: row.vetted_at !== null, proven: row.proven_bytes }));
  }
}
