/**
 * Placement: which online hosts take a file's next replicas, by the paper's rule (shared/
 * placement.ts: same level first, then the closest, then most free space), and the space
 * promised to them, reserved atomically in the caller's transaction. Which hosts may be asked
 * at all (online, not caught serving corrupt data, not already holding or failing this file)
 * is decided here too; so is the explanation when none can.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { chooseHosts, compareCandidates, levelOrder, splitByLockOrder, tiePivot, type HostCandidate, type PlacementRequest } from '../shared/placement.ts';
import { RELIABILITY_WINDOW_MS } from '../shared/reliability.ts';
import { formatBytes } from '../shared/units.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { compiledOnce, type Slots } from './db/compiled-once.ts';
import { hostTransfers, hostTransfersOn } from './db/counts.ts';
import type { Db } from './db/database.ts';
import type { Database, FileRow } from './db/schema.ts';
import { STORAGE_KINDS } from './db/states.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { freeSpaceSql, spaceLedger } from './space-ledger.ts';

type Trx = Transaction<Database>;

/** The uploader, as placement ranks hosts for it. */
export interface Owner {
  id: string;
  level: number;
}

/** Hosts looked at, best first in the index's order; `exhausted` when they are all that could take it. */
export interface Gathered {
  hosts: HostCandidate[];
  exhausted: boolean;
}

/** What countCandidates found: how many hosts the rules would take, out of the `looked` best. */
export interface Candidates extends Gathered {
  available: number;
  looked: number;
}

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
   *
   * A file created in the caller's transaction passes what countCandidates found for it
   * (`fresh`): nobody holds, failed or failed an audit of a new file, so the hosts it may go to
   * are those already looked at, and they are not read twice.
   *
   * Each round of choices costs a few statements whatever the number of fragments (the
   * reservations and their rows, then the hosts' transfers), not a few per fragment: every
   * statement of a transaction waits for its turn on the tracker's event loop, and a busy
   * tracker made a placement of 8 fragments take seconds that way.
   */
  async reserveIn(trx: Trx, file: FileRow, fragments: readonly number[], kind: 'store' | 'repair', fresh?: { owner: Owner; candidates: Candidates }): Promise<PlacedFragment[]> {
    const owner = fresh?.owner ?? (await trx.selectFrom('peers').select(['id', 'level']).where('id', '=', file.owner_id).executeTakeFirstOrThrow());
    // Who holds the file already, for the rules on networks and new hosts.
    const holders = fresh
      ? []
      : await trx
          .selectFrom('replicas')
          .innerJoin('peers', 'peers.id', 'replicas.host_id')
          .select(['peers.network', 'peers.vetted_at'])
          .where('replicas.file_id', '=', file.id)
          .where('replicas.retired_at', 'is', null)
          .execute();
    const request = this.#request(owner, file, fragments.length, holders);
    let wanted = Math.max(gatherFor(fragments.length), fresh?.candidates.looked ?? 0);
    let gathered = fresh?.candidates ?? (await this.#candidates(trx, file, owner.level, file.fragment_bytes, wanted, tiePivot(file.id)));
    let left = gathered.hosts;
    const placed: PlacedFragment[] = [];
    const unplaced = [...fragments];
    const now = this.#clock.now();
    // The highest host id this transaction has tried to reserve (and may hold locked).
    let highest: string | undefined;
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
      if (chosen.length < unplaced.length && !gathered.exhausted) {
        // The rules passed over more of the hosts looked at than expected: look at more of them.
        wanted *= 4;
        gathered = await this.#candidates(trx, file, owner.level, file.fragment_bytes, wanted, tiePivot(file.id));
        left = gathered.hosts.filter((host) => !reserved.some((taken) => taken.id === host.id));
        continue;
      }
      if (chosen.length === 0) break;
      const assigned = chosen.map((host, rank) => ({ host, fragment: unplaced[rank]! }));
      // Host rows are locked in id order, so that placements on PostgreSQL never wait for each
      // other in a cycle. A later round (a host's room was taken meanwhile) may want a host below
      // one already held: that one is passed over if another transaction holds it, not waited for.
      const { inOrder, outOfOrder } = splitByLockOrder(assigned, highest);
      const batch = (some: typeof assigned) => ({ fileId: file.id, bytes: file.fragment_bytes, at: now, hosts: some.map(({ host, fragment }) => ({ hostId: host.id, fragment })) });
      const taken = new Set([
        ...(outOfOrder.length > 0 ? await spaceLedger.reserveAll(trx, batch(outOfOrder), { unlessLocked: true }) : []),
        ...(inOrder.length > 0 ? await spaceLedger.reserveAll(trx, batch(inOrder)) : []),
      ]);
      if (inOrder.length > 0) highest = inOrder.at(-1)!.host.id;
      // The reservations hold the hosts' rows until this transaction ends: a placement to them on
      // any tracker now waits, and the transfers those before it committed are counted here.
      // A host those filled up meanwhile gets its room back at once.
      const busy = await hostTransfers(trx, [...taken]);
      for (const { host, fragment } of assigned) {
        if (!taken.has(host.id)) continue;
        if ((busy.get(host.id) ?? 0) >= this.#config.maxHostTransfers) {
          await spaceLedger.release(trx, file.id, host.id);
          continue;
        }
        placed.push({ host, fragment });
        unplaced.splice(unplaced.indexOf(fragment), 1);
        this.#counted(kind, file, owner, { host, fragment });
      }
      // A host whose room another placement took meanwhile is passed over for the next one.
      left = left.filter((candidate) => !chosen.includes(candidate));
    }
    const order = compareCandidates(owner.level, file.id);
    return placed.sort((a, b) => order(a.host, b.host));
  }

  /**
   * A new file's hosts as reserveIn's first choice would take them from what countCandidates
   * found (one per fragment, fragment 0 to the best), for the caller to reserve at once
   * (spaceLedger.reserveNewFile); undefined when those hosts do not hold one for each fragment,
   * and reserveIn must look further. Nothing is reserved here.
   */
  chooseForNewFile(file: FileRow, owner: Owner, candidates: Candidates): PlacedFragment[] | undefined {
    const fragments = file.replicas_wanted;
    const chosen = chooseHosts(this.#request(owner, file, fragments, []), candidates.hosts);
    if (chosen.length < fragments) return undefined;
    const order = compareCandidates(owner.level, file.id);
    return chosen.map((host, fragment) => ({ host, fragment })).sort((a, b) => order(a.host, b.host));
  }

  /** Hosts reserved for a new file by the caller (chooseForNewFile's), counted and logged as reserveIn's are. */
  placedNewFile(file: FileRow, owner: Owner, placed: readonly PlacedFragment[]): void {
    for (const one of placed) this.#counted('store', file, owner, one);
  }

  /** What the rules of shared/placement.ts need to choose `replicas` hosts for the file, given who holds it already. */
  #request(owner: Owner, file: FileRow, replicas: number, holders: readonly { network: string | null; vetted_at: number | null }[]): PlacementRequest {
    return {
      uploaderId: owner.id,
      uploaderLevel: owner.level,
      bytes: file.fragment_bytes,
      replicas,
      fileId: file.id,
      heldNetworks: holders.flatMap((holder) => (holder.network ? [holder.network] : [])),
      unvettedHolders: holders.filter((holder) => holder.vetted_at === null).length,
      copiesWanted: file.replicas_wanted,
      newcomerShare: this.#config.vetting.share,
    };
  }

  #counted(kind: 'store' | 'repair', file: FileRow, owner: Owner, { host, fragment }: PlacedFragment): void {
    this.#metrics.placements.inc({ kind });
    this.#log.info(
      { event: 'placement', kind, fileId: file.id, fragment, ownerId: owner.id, ownerLevel: owner.level, hostId: host.id, hostLevel: host.level, hostFree: host.free, bytes: file.fragment_bytes },
      'fragment placed',
    );
  }

  /**
   * How many hosts could take a fragment of `bytes` of the new file `fileId` for this owner now
   * (no reservation): to choose a scheme. What it looked at is returned too, for reserveIn to
   * place that file on.
   */
  async countCandidates(trx: Kysely<Database>, owner: Owner, fileId: string, bytes: number, wanted: number): Promise<Candidates> {
    const request = { uploaderId: owner.id, uploaderLevel: owner.level, bytes, replicas: wanted, copiesWanted: wanted };
    for (let looked = gatherFor(wanted); ; looked *= 4) {
      // A file not yet written: nothing holds or failed it, only the owner is excluded.
      const gathered = await this.#candidates(trx, { id: '', owner_id: owner.id }, owner.level, bytes, looked, tiePivot(fileId));
      const available = chooseHosts(request, gathered.hosts).length;
      if (available >= wanted || gathered.exhausted) return { ...gathered, available, looked };
    }
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
   * Hosts that may be asked to hold a new copy of the file: online, not the owner, with room for
   * `bytes`, not caught serving corrupt data too often, not already holding, failing or failing an
   * audit of this file, and not already busy with as many transfers as a host takes (a host is
   * never offered more than it can take: its refusals would count against it for the tracker's
   * doing).
   *
   * The best `wanted` of them at least, not all: level by level in the order placement prefers
   * them (shared/placement.ts: the uploader's own, then the closest, the higher first), and in
   * each level most free space first, a page at a time from the `peers_placement` index, so that
   * the work does not grow with the number of peers online. The first page of a level starts
   * among the hosts tied for most free space at the file's own place (`pivot`, shared/
   * placement.ts tiePivot), so that uploads at the same moment look at different hosts of equal
   * rank rather than all at the same few; later pages follow the index from the top. `exhausted`
   * says whether every host that could take it was looked at.
   */
  async #candidates(trx: Kysely<Database>, file: Pick<FileRow, 'id' | 'owner_id'>, ownerLevel: number, bytes: number, wanted: number, pivot: string): Promise<Gathered> {
    const excluded = await this.#excludedFor(trx, file);
    const hosts: HostCandidate[] = [];
    const seen = new Set<string>();
    const page = Math.max(CANDIDATE_PAGE, wanted);
    /** Takes the hosts of a page not seen yet; true once there are enough. */
    const take = async (rows: CandidateRow[]): Promise<boolean> => {
      // Each page is read anew: a host whose room another placement took meanwhile moves down
      // the order and may come again on a later page. It is looked at once (a host twice in
      // the list could be chosen twice for one file).
      const fresh = rows.filter((row) => !excluded.has(row.id) && !seen.has(row.id));
      for (const row of fresh) seen.add(row.id);
      const unfit = await this.#unfit(trx, fresh.map((row) => row.id));
      for (const row of fresh) {
        if (unfit.has(row.id)) continue;
        hosts.push({ id: row.id, level: row.level, free: Number(row.free), network: row.network, vetted: row.vetted_at !== null, proven: row.proven_bytes });
      }
      return hosts.length >= wanted;
    };
    for (const level of levelOrder(ownerLevel)) {
      const first = await this.#firstPage(trx, level, bytes, page, pivot);
      if (await take(first.rows)) return { hosts, exhausted: false };
      // Every host of this level that has the room was on it.
      if (first.whole) continue;
      for (let offset = 0; ; offset += page) {
        const rows = await hostsOfLevel(trx, level, bytes)
          .orderBy((eb) => freeSpaceSql(eb), 'desc')
          .limit(page)
          .offset(offset)
          .execute();
        if (await take(rows)) return { hosts, exhausted: false };
        if (rows.length < page) break;
      }
    }
    return { hosts, exhausted: true };
  }

  /**
   * The `page` hosts of a level with most free space, those tied for the most taken from the
   * pivot down in id order (then from the highest id down to it): three ranges of the
   * `peers_placement` index (the ties below the pivot, the ties above it, the rest), each read
   * only as far as a page. `whole` when the three held every host of the level with the room.
   */
  async #firstPage(trx: Kysely<Database>, level: number, bytes: number, page: number, pivot: string): Promise<{ rows: CandidateRow[]; whole: boolean }> {
    const { rows } = await trx.executeQuery(firstPageOfLevel(trx, { level, bytes, page, pivot }));
    // In that order: part, then as each part was read (a union keeps no order of its own).
    const free = (row: CandidateRow) => Number(row.free);
    rows.sort((a, b) => a.part - b.part || (a.part === 2 ? free(b) - free(a) : 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return { rows: rows.slice(0, page), whole: rows.length <= page && [0, 1, 2].every((part) => rows.filter((row) => row.part === part).length < page) };
  }

  /** Hosts this file must not go to, whatever their room: the owner, its holders, those that failed it. */
  async #excludedFor(trx: Kysely<Database>, file: Pick<FileRow, 'id' | 'owner_id'>): Promise<Set<string>> {
    const excluded = new Set([file.owner_id]);
    if (file.id === '') return excluded;
    // One statement: inside a transaction they would run one after the other anyway.
    const rows = await trx
      .selectFrom('replicas')
      .select('host_id as id')
      .where('file_id', '=', file.id)
      .unionAll((eb) => eb.selectFrom('transfers').select('receiver_id as id').where('file_id', '=', file.id).where('kind', 'in', STORAGE_KINDS).where('state', '=', 'failed'))
      // Nor a host that failed an audit of this file.
      .unionAll((eb) => eb.selectFrom('audits').select('host_id as id').where('file_id', '=', file.id).where('state', '=', 'failed'))
      .execute();
    for (const { id } of rows) excluded.add(id);
    return excluded;
  }

  /**
   * Of these hosts, those caught serving corrupt data too often lately, or as busy as a host may
   * be. One statement (the integrity failures and the transfers on either side, counted per
   * host): a placement's ack waits for each statement of its transaction in turn.
   */
  async #unfit(trx: Kysely<Database>, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const since = this.#clock.now() - RELIABILITY_WINDOW_MS;
    const rows = await trx
      .selectFrom('peer_events')
      .select(['peer_id as id', sql<Unfit>`${sql.lit('corrupt')}`.as('what'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('peer_id', 'in', ids)
      .where('kind', '=', 'integrity_failure')
      .where('at', '>', since)
      .groupBy('peer_id')
      .unionAll(hostTransfersOn(trx, 'sender_id', ids))
      .unionAll(hostTransfersOn(trx, 'receiver_id', ids))
      .execute();
    const unfit = new Set<string>();
    const busy = new Map<string, number>();
    for (const row of rows) {
      if (row.what === 'corrupt' && Number(row.n) >= this.#config.integrityExclusion) unfit.add(row.id);
      if (row.what === 'busy') busy.set(row.id, (busy.get(row.id) ?? 0) + Number(row.n));
    }
    for (const [id, n] of busy) if (n >= this.#config.maxHostTransfers) unfit.add(id);
    return unfit;
  }
}

type Unfit = 'corrupt' | 'busy';

/** Online hosts of one level with room for `bytes`, with what placement ranks them by. */
function hostsOfLevel(db: Kysely<Database>, level: number, bytes: number) {
  return db
    .selectFrom('peers')
    .select(['id', 'level', 'network', 'vetted_at', 'proven_bytes', (eb) => freeSpaceSql(eb).as('free')])
    .where('online', '=', 1)
    .where('level', '=', level)
    .where((eb) => eb(freeSpaceSql(eb), '>=', bytes));
}

/**
 * The first page's statement (Placement.#firstPage), compiled once: every placement reads it,
 * and it is the largest statement placement builds.
 */
const firstPageOfLevel = compiledOnce((db: Kysely<Database>, slots: Slots<{ level: number; bytes: number; page: number; pivot: string }>) => {
  // The most free space of the level: the first entry of the `peers_placement` index from
  // its top, read as such. Written as a max(), PostgreSQL's plan read every host of the
  // level (about 3 ms at 10,000 hosts, for each of the three parts) whenever the table's
  // statistics were older than its rows, as in a cloud that just filled (auto_explain in the
  // trackers bench): an aggregate over one estimated row looks as cheap as reading one entry.
  const most = db
    .selectFrom('peers')
    .select((eb) => freeSpaceSql(eb).as('most'))
    .where('online', '=', 1)
    .where('level', '=', slots.level)
    .orderBy((eb) => freeSpaceSql(eb), 'desc')
    .limit(1);
  const part = (n: number) => sql<number>`${sql.lit(n)}`.as('part');
  const ties = hostsOfLevel(db, slots.level, slots.bytes).where((eb) => eb(freeSpaceSql(eb), '=', most));
  const below = ties.select(part(0)).where('id', '<=', slots.pivot).orderBy('id', 'desc').limit(slots.page);
  const above = ties.select(part(1)).where('id', '>', slots.pivot).orderBy('id', 'desc').limit(slots.page);
  const rest = hostsOfLevel(db, slots.level, slots.bytes)
    .select(part(2))
    .where((eb) => eb(freeSpaceSql(eb), '<', most))
    .orderBy((eb) => freeSpaceSql(eb), 'desc')
    .orderBy('id', 'desc')
    .limit(slots.page);
  return db
    .selectFrom(below.as('below'))
    .selectAll()
    .unionAll(db.selectFrom(above.as('above')).selectAll())
    .unionAll(db.selectFrom(rest.as('rest')).selectAll());
});

/** A host as #candidates reads it. */
interface CandidateRow {
  id: string;
  level: number;
  network: string | null;
  vetted_at: number | null;
  proven_bytes: number;
  free: number;
}

/** Hosts looked at per query, at least. */
const CANDIDATE_PAGE = 64;

/** How many candidates to look at for `n` copies: room for the network and vetting rules to pass some over. */
function gatherFor(n: number): number {
  return 4 * n + 16;
}
