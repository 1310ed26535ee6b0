/**
 * Repair: browser tabs come and go, so a file stays whole only if the tracker notices a
 * replica is gone and copies a live one to a new host before the last copy disappears.
 *
 * A replica counts as gone when its host has been offline longer than REPAIR_GRACE (a reload
 * or a short drop never causes a repair), or when it served corrupt data (its row is already
 * gone then). For each file short of its wanted replicas with at least one live copy, the
 * sweep places a new replica by the usual rules and brokers a host-to-host transfer of the
 * sealed chunks: no key is involved, and the owner need not be online. Repairs are capped
 * (REPAIR_CONCURRENCY at once, REPAIR_RATE a minute) so that a mass departure can't start a
 * storm; the files closest to being lost go first.
 */
import { randomId } from '../shared/encoding.ts';
import { chooseSources, rankSources, RECENT_FAILURE_WINDOW_MS } from '../shared/host-ranking.ts';
import { needsRepair } from '../shared/redundancy.ts';
import { fullBucket, take } from '../shared/token-bucket.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { activeTransfers, storedReplicas } from './db/counts.ts';
import type { Db } from './db/database.ts';
import { sourceCandidates } from './db/sources.ts';
import { ACTIVE_TRANSFER_STATES } from './db/states.ts';
import type { TrackerEvents } from './events.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Placement } from './placement.ts';
import type { Sessions } from './sessions.ts';
import { spaceLedger } from './space-ledger.ts';
import { runEffects, type Effect, type Transfers } from './transfers.ts';

/** Crowded files looked at, and old retired copies forgotten, per sweep at most. */
const TRIM_PER_SWEEP = 100;
/** A copy a repair replaced is kept on the books this long, for its host to come back with it. */
const RETIRED_RETENTION_MS = 7 * 24 * 3_600_000;

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  metrics: Metrics;
  sessions: Sessions;
  events: TrackerEvents;
  placement: Placement;
  transfers: Transfers;
}

export class Repairs {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #sessions: Sessions;
  readonly #events: TrackerEvents;
  readonly #placement: Placement;
  readonly #transfers: Transfers;
  readonly #bucket;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#sessions = deps.sessions;
    this.#events = deps.events;
    this.#placement = deps.placement;
    this.#transfers = deps.transfers;
    this.#bucket = fullBucket(deps.config.repairConcurrency, deps.clock.now());
  }

  /** Starts the repairs that are due, within the caps. Returns how many started. */
  async schedule(): Promise<number> {
    const now = this.#clock.now();
    const active = await this.#db
      .selectFrom('transfers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'repair')
      .where('state', 'in', ACTIVE_TRANSFER_STATES)
      .executeTakeFirstOrThrow();
    let slots = this.#config.repairConcurrency - Number(active.n);
    if (slots <= 0) return 0;

    const graceEnd = now - this.#config.repairGraceMs;
    // Per file: fragments still counted on (host online, or offline within the grace), live ones, rebuilds under way.
    const due = await this.#db
      .selectFrom('files')
      .select(['files.id', 'files.replicas_wanted', 'files.scheme_k'])
      .select((eb) => [
        storedReplicas(eb, { orSeenAfter: graceEnd }).as('counted'),
        storedReplicas(eb, { online: true }).as('live'),
        eb
          .selectFrom('transfers')
          .select((sub) => sub.fn.count<number>('transfers.receiver_id').distinct().as('n'))
          .whereRef('transfers.file_id', '=', 'files.id')
          .where('transfers.kind', '=', 'repair')
          .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES)
          .as('repairing'),
      ])
      .where('files.state', '=', 'stored')
      .execute();
    const needy = due
      .map((file) => {
        const scheme = { k: file.scheme_k, n: file.replicas_wanted };
        const counted = Number(file.counted) + Number(file.repairing);
        return { ...file, scheme, need: scheme.n - counted, counted, live: Number(file.live) };
      })
      // Below the threshold, and readable: a repair needs k live fragments to rebuild from.
      .filter((file) => file.need > 0 && file.live >= file.scheme.k && needsRepair(file.scheme, file.counted, this.#config.repairThreshold))
      // Fewest spare fragments first: those are the files closest to being lost.
      .sort((a, b) => a.live - a.scheme.k - (b.live - b.scheme.k) || b.need - a.need);

    let started = 0;
    for (const file of needy) {
      if (slots <= 0 || !take(this.#bucket, now, this.#config.repairRatePerMinute / 60, this.#config.repairConcurrency)) break;
      if (await this.#start(file.id, graceEnd)) {
        started++;
        slots--;
      }
    }
    return started;
  }

  /**
   * Copies beyond what a file wants (a returning copy that proved itself after a repair had
   * replaced it) are let go, the least trusted first: a host still new, then the one with the
   * fewest audits passed. Retired copies whose host never came back are forgotten after
   * RETIRED_RETENTION_MS. Both bounded per sweep.
   */
  async trim(): Promise<number> {
    const now = this.#clock.now();
    // Fragments held live by more than one host: a returning copy and the one rebuilt meanwhile.
    const doubled = await this.#db
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .innerJoin('files', 'files.id', 'replicas.file_id')
      .select(['replicas.file_id', 'replicas.fragment', (eb) => eb.fn.countAll<number>().as('holders')])
      .where('files.state', '=', 'stored')
      .where('replicas.state', '=', 'stored')
      .where('replicas.retired_at', 'is', null)
      .where('replicas.suspect_since', 'is', null)
      .where('peers.online', '=', 1)
      .groupBy(['replicas.file_id', 'replicas.fragment'])
      .having((eb) => eb.fn.countAll(), '>', 1)
      .limit(TRIM_PER_SWEEP)
      .execute();
    let dropped = 0;
    for (const { file_id: fileId, fragment, holders: count } of doubled) {
      const extra = await this.#db
        .selectFrom('replicas')
        .innerJoin('peers', 'peers.id', 'replicas.host_id')
        .select(['replicas.host_id'])
        .where('replicas.file_id', '=', fileId)
        .where('replicas.fragment', '=', fragment)
        .where('replicas.state', '=', 'stored')
        .where('replicas.retired_at', 'is', null)
        .where('replicas.suspect_since', 'is', null)
        .where('peers.online', '=', 1)
        .orderBy((eb) => eb.case().when('peers.vetted_at', 'is', null).then(0).else(1).end())
        .orderBy('peers.audits_passed')
        .orderBy('replicas.stored_at', 'desc')
        .limit(Number(count) - 1)
        .execute();
      for (const { host_id } of extra) {
        if (await this.#db.transaction().execute((trx) => spaceLedger.drop(trx, fileId, host_id))) {
          dropped++;
          this.#log.info({ event: 'trim', fileId, fragment, hostId: host_id }, 'an extra copy let go');
          void this.#sessions.emit(host_id, 'replica:drop', { fileIds: [fileId] });
          await this.#events.emit('host:space', { hostId: host_id });
        }
      }
    }
    const forgotten = await this.#db
      .selectFrom('replicas')
      .select(['file_id', 'host_id'])
      .where('retired_at', '<=', now - RETIRED_RETENTION_MS)
      .limit(TRIM_PER_SWEEP)
      .execute();
    for (const row of forgotten) {
      if (await this.#db.transaction().execute((trx) => spaceLedger.drop(trx, row.file_id, row.host_id))) await this.#events.emit('host:space', { hostId: row.host_id });
    }
    return dropped;
  }

  /**
   * Rebuilds one missing fragment of the file on a newly placed host: for whole copies, a
   * host-to-host copy from one live holder; for k > 1, the new host takes k live fragments
   * (one transfer from each, a group) and decodes its own from them. Either way no key is
   * involved and the owner need not be there.
   */
  async #start(fileId: string, graceEnd: number): Promise<boolean> {
    const placed = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirstOrThrow();
      const k = file.scheme_k;
      const rows = await trx
        .selectFrom('replicas')
        .innerJoin('peers', 'peers.id', 'replicas.host_id')
        .select(['replicas.fragment', 'replicas.host_id', 'replicas.suspect_since', 'peers.online', 'peers.last_seen'])
        .where('replicas.file_id', '=', fileId)
        .where('replicas.retired_at', 'is', null)
        .execute();
      const rebuilding = await trx
        .selectFrom('transfers')
        .innerJoin('replicas', (join) => join.onRef('replicas.file_id', '=', 'transfers.file_id').onRef('replicas.host_id', '=', 'transfers.receiver_id'))
        .select(['replicas.fragment', 'transfers.replaces_host_id'])
        .where('transfers.file_id', '=', fileId)
        .where('transfers.kind', '=', 'repair')
        .where('transfers.state', 'in', ACTIVE_TRANSFER_STATES)
        .execute();
      const counted = new Set(
        rows
          .filter((row) => row.suspect_since === null && (row.online === 1 || row.last_seen > graceEnd))
          .map((row) => row.fragment),
      );
      for (const row of rebuilding) counted.add(row.fragment);
      const missing = Array.from({ length: file.replicas_wanted }, (_, fragment) => fragment).find((fragment) => !counted.has(fragment));
      if (missing === undefined) return undefined;
      // The copy it replaces, if one was held (away past the grace, or failing its audits).
      const replacing = rebuilding.map((row) => row.replaces_host_id);
      const gone = rows.find((row) => row.fragment === missing && !replacing.includes(row.host_id));
      // The sources: live fragments on hosts with a transfer to spare, ranked as downloads rank them.
      const candidates = await sourceCandidates(trx, { fileId, kind: 'repair', failedSince: this.#clock.now() - RECENT_FAILURE_WINDOW_MS });
      const sources = chooseSources(rankSources(candidates.filter((candidate) => candidate.busy < this.#config.maxHostTransfers)), { k, count: k, exclude: k === 1 ? [] : [missing] });
      if (sources.length < k) return undefined;
      const [target] = await this.#placement.reserveIn(trx, file, [missing], 'repair');
      if (!target) return undefined;
      const replaces = gone?.host_id ?? null;
      const group = k > 1 ? { group: randomId(), fragment: missing } : undefined;
      const effects: Effect[] = [];
      for (const source of sources) {
        const { offer } = await this.#transfers.createIn(trx, {
          kind: 'repair',
          file,
          fragment: source.fragment,
          sender: source.id,
          receiver: target.host.id,
          responder: target.host.id,
          replaces,
          ...(group ? { rebuild: group } : {}),
        });
        effects.push(offer);
      }
      effects.push(() => this.#events.emit('host:space', { hostId: target.host.id }));
      return { effects, sources: sources.map((source) => source.id), target: target.host.id, fragment: missing, replaces };
    });
    if (!placed) return false;
    this.#metrics.repairs.inc({ outcome: 'started' });
    this.#log.info({ event: 'repair', fileId, fragment: placed.fragment, sourceIds: placed.sources, targetId: placed.target, replaces: placed.replaces }, 'repair started');
    await runEffects(placed.effects);
    return true;
  }
}
