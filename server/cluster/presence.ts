/**
 * Which trackers are alive. Each tracker of a cloud on PostgreSQL has a row whose heartbeat it
 * moves every TRACKER_HEARTBEAT; one whose heartbeat is older than TRACKER_TIMEOUT is dead (a
 * `kill -9`, a machine gone), and the sweep's holder marks its peers offline (recovery.ts).
 *
 * A tracker that finds its own row gone was taken for dead by the others (its event loop or its
 * link to the database stalled longer than the timeout): its peers are already offline in the
 * database, so it lets them go too (they reconnect and are registered anew) and comes back.
 */
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../logger.ts';

export interface TrackerRow {
  id: string;
  startedAt: number;
  heartbeatAt: number;
}

export class TrackerPresence {
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      /**
       * A connection of its own for the heartbeat: on the services' pool it would wait behind a
       * burst of requests, and a tracker merely busy would look dead to the others.
       */
      beatDb?: Db;
      clock: Clock;
      log: Logger;
      /** This tracker's id (known once it listens). */
      id: () => string;
      heartbeatMs: number;
      timeoutMs: number;
      /** This tracker was taken for dead by the others: its peers must reconnect. */
      declaredDead: () => Promise<void>;
    },
  ) {}

  get id(): string {
    return this.deps.id();
  }

  /** Records this tracker as alive now (a restart under the same id starts afresh). */
  async register(): Promise<void> {
    const now = this.deps.clock.now();
    await (this.deps.beatDb ?? this.deps.db)
      .insertInto('trackers')
      .values({ id: this.deps.id(), started_at: now, heartbeat_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ started_at: now, heartbeat_at: now }))
      .execute();
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#beating ??= this.beat()
        .catch((error: unknown) => this.deps.log.error({ err: error, event: 'heartbeat_error' }, 'could not record the tracker heartbeat'))
        .finally(() => (this.#beating = undefined));
    }, this.deps.heartbeatMs);
  }

  async beat(): Promise<void> {
    const updated = await (this.deps.beatDb ?? this.deps.db).updateTable('trackers').set({ heartbeat_at: this.deps.clock.now() }).where('id', '=', this.deps.id()).executeTakeFirst();
    if (updated.numUpdatedRows > 0n) return;
    this.deps.log.error({ event: 'declared_dead', trackerId: this.deps.id() }, 'the other trackers took this one for dead: its peers reconnect');
    await this.deps.declaredDead();
    await this.register();
  }

  /** The time before which a heartbeat means a dead tracker. */
  deadline(): number {
    return this.deps.clock.now() - this.deps.timeoutMs;
  }

  /** Other trackers whose heartbeat stopped. */
  async dead(): Promise<string[]> {
    const rows = await this.deps.db.selectFrom('trackers').select('id').where('heartbeat_at', '<=', this.deadline()).where('id', '!=', this.deps.id()).execute();
    return rows.map((row) => row.id);
  }

  async all(): Promise<TrackerRow[]> {
    const rows = await this.deps.db.selectFrom('trackers').selectAll().orderBy('id').execute();
    return rows.map((row) => ({ id: row.id, startedAt: row.started_at, heartbeatAt: row.heartbeat_at }));
  }

  async forget(id: string): Promise<void> {
    await this.deps.db.deleteFrom('trackers').where('id', '=', id).execute();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
  }
}
