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
import { sql } from 'kysely';
import { fullBucket, take } from '../shared/token-bucket.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { activeTransfers, storedReplicas } from './db/counts.ts';
import type { Db } from './db/database.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { runEffects, type TransferService } from './transfers.ts';

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  metrics: Metrics;
  transfers: TransferService;
}

export class RepairService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #transfers: TransferService;
  readonly #bucket;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
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
      .where('state', 'in', ['offered', 'open'])
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

  async #start(fileId: string, graceEnd: number): Promise<boolean> {
    const placed = await this.#db.transaction().execute(async (trx) => {
      const file = await trx.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirstOrThrow();
      // The source: a live copy, on the most reliable, least busy host.
      const source = await trx
        .selectFrom('replicas')
        .innerJoin('peers', 'peers.id', 'replicas.host_id')
        .select(['peers.id', 'peers.level'])
        .select((eb) =>
          eb
            .selectFrom('transfers')
            .select(eb.fn.countAll<number>().as('n'))
            .where((w) => w.or([w('transfers.sender_id', '=', w.ref('peers.id')), w('transfers.receiver_id', '=', w.ref('peers.id'))]))
            .where('transfers.state', 'in', ['offered', 'open'])
            .as('busy'),
        )
        .where('replicas.file_id', '=', fileId)
        .where('replicas.state', '=', 'stored')
        .where('peers.online', '=', 1)
        .orderBy('peers.level', 'desc')
        .orderBy(sql`busy`)
        .orderBy('peers.id')
        .executeTakeFirst();
      if (!source) return undefined;
      // The copy it replaces, if one has been gone past the grace (otherwise the file was short already).
      const gone = await trx
        .selectFrom('replicas')
        .innerJoin('peers', 'peers.id', 'replicas.host_id')
        .select('peers.id')
        .where('replicas.file_id', '=', fileId)
        .where('replicas.state', '=', 'stored')
        .where('peers.online', '=', 0)
        .where('peers.last_seen', '<=', graceEnd)
        .where('peers.id', 'not in', (eb) =>
          eb.selectFrom('transfers').select('replaces_host_id').where('file_id', '=', fileId).where('kind', '=', 'repair').where('state', 'in', ['offered', 'open']).where('replaces_host_id', 'is not', null).$narrowType<{ replaces_host_id: string }>(),
        )
        .orderBy('peers.last_seen')
        .executeTakeFirst();
      const result = await this.#transfers.placeIn(trx, file, 1, { source: source.id, replaces: gone?.id ?? null });
      return result.transfers.length > 0 ? { ...result, source: source.id, replaces: gone?.id ?? null } : undefined;
    });
    if (!placed) return false;
    this.#metrics.repairs.inc({ outcome: 'started' });
    this.#log.info({ event: 'repair', fileId, sourceId: placed.source, targetId: placed.transfers[0]!.receiver_id, replaces: placed.replaces }, 'repair started');
    await runEffects(placed.effects);
    return true;
  }
}
