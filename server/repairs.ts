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
import { rankSources, RECENT_FAILURE_WINDOW_MS } from '../shared/host-ranking.ts';
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
    // Per file: replicas still counted on (host online, or offline within the grace), live sources, repairs under way.
    const due = await this.#db
      .selectFrom('files')
      .select(['files.id', 'files.replicas_wanted'])
      .select((eb) => [
        storedReplicas(eb, { orSeenAfter: graceEnd }).as('counted'),
        storedReplicas(eb, { online: true }).as('live'),
        activeTransfers(eb, 'repair').as('repairing'),
      ])
      .where('files.state', '=', 'stored')
      .execute();
    const needy = due
      .map((file) => ({ ...file, need: file.replicas_wanted - Number(file.counted) - Number(file.repairing), live: Number(file.live) }))
      .filter((file) => file.need > 0 && file.live > 0)
      // Fewest live copies first: those are the files closest to being lost.
      .sort((a, b) => a.live - b.live || b.need - a.need);

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
    const crowded = await this.#db
      .selectFrom('files')
      .select(['files.id', 'files.replicas_wanted', (eb) => storedReplicas(eb, { online: true }).as('live')])
      .where('files.state', '=', 'stored')
      .where((eb) => eb(storedReplicas(eb, { online: true }), '>', eb.ref('files.replicas_wanted')))
      .limit(TRIM_PER_SWEEP)
      .execute();
    let dropped = 0;
    for (const file of crowded) {
      const extra = Number(file.live) - file.replicas_wanted;
      const holders = await this.#db
        .selectFrom('replicas')
        .innerJoin('peers', 'peers.id', 'replicas.host_id')
        .select(['replicas.host_id'])
        .where('replicas.file_id', '=', file.id)
        .where('replicas.state', '=', 'stored')
        .where('replicas.retired_at', 'is', null)
        .where('replicas.suspect_since', 'is', null)
        .where('peers.online', '=', 1)
        .orderBy((eb) => eb.case().when('peers.vetted_at', 'is', null).then(0).else(1).end())
        .orderBy('peers.audits_passed')
        .orderBy('replicas.stored_at', 'desc')
        .limit(extra)
        .execute();
      for (const { host_id } of holders) {
        if (await this.#db.transaction().execute((trx) => spaceLedger.drop(trx, file.id, host_id))) {
          dropped++;
          this.#log.info({ event: 'trim', fileId: file.id, hostId: host_id }, 'an extra copy let go');
          this.#sessions.emit(host_id, 'replica:drop', { fileIds: [file.id] });
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

  async #start(fileId: string, graceEnd: number): Promise<boolean> {
    const placed = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirstOrThrow();
      // The source: a live copy on a host with a transfer to spare, ranked as downloads rank them.
      const sources = await sourceCandidates(trx, { fileId, kind: 'repair', failedSince: this.#clock.now() - RECENT_FAILURE_WINDOW_MS });
      const source = rankSources(sources.filter((candidate) => candidate.busy < this.#config.maxHostTransfers))[0];
      if (!source) return undefined;
      // The copy it replaces, if one has been gone past the grace (otherwise the file was short already).
      const gone = await trx
        .selectFrom('replicas')
        .innerJoin('peers', 'peers.id', 'replicas.host_id')
        .select('peers.id')
        .where('replicas.file_id', '=', fileId)
        .where('replicas.state', '=', 'stored')
        .where('replicas.retired_at', 'is', null)
        // Away past the grace, or failing its audits.
        .where((eb) => eb.or([eb.and([eb('peers.online', '=', 0), eb('peers.last_seen', '<=', graceEnd)]), eb('replicas.suspect_since', 'is not', null)]))
        .where('peers.id', 'not in', (eb) =>
          eb
            .selectFrom('transfers')
            .select('replaces_host_id')
            .where('file_id', '=', fileId)
            .where('kind', '=', 'repair')
            .where('state', 'in', ACTIVE_TRANSFER_STATES)
            .where('replaces_host_id', 'is not', null)
            .$narrowType<{ replaces_host_id: string }>(),
        )
        .orderBy('peers.last_seen')
        .executeTakeFirst();
      const [target] = await this.#placement.reserveIn(trx, file, 1, 'repair');
      if (!target) return undefined;
      const replaces = gone?.id ?? null;
      const { offer } = await this.#transfers.createIn(trx, { kind: 'repair', file, sender: source.id, receiver: target.id, responder: target.id, replaces });
      const effects: Effect[] = [offer, () => this.#events.emit('host:space', { hostId: target.id })];
      return { effects, source: source.id, target: target.id, replaces };
    });
    if (!placed) return false;
    this.#metrics.repairs.inc({ outcome: 'started' });
    this.#log.info({ event: 'repair', fileId, sourceId: placed.source, targetId: placed.target, replaces: placed.replaces }, 'repair started');
    await runEffects(placed.effects);
    return true;
  }
}
