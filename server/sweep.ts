/**
 * The sweep: what time alone changes, applied every SWEEP_INTERVAL (and by tests by hand):
 * transfers that expired, uploads left unsettled, interrupted uploads past their grace,
 * repairs that are due, and levels whose 24-hour window moved. Every step runs even when one
 * before it fails: a bad row must not stop repairs or levels for everyone.
 *
 * With several trackers on one database, one of them sweeps for the whole cloud: the one holding
 * the lease (cluster/lease.ts). The others find it taken and do nothing, until its holder dies.
 */
import type { Lease } from './cluster/lease.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export type SweepStep = () => Promise<unknown>;

export class Sweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly steps: readonly SweepStep[],
    private readonly log: Logger,
    private readonly lease: Lease,
    private readonly metrics: Metrics,
  ) {}

  /** One pass, if this tracker holds the lease; the first failure is rethrown once every step has run. */
  async run(): Promise<void> {
    const held = await this.lease.held();
    this.metrics.sweepHolder.set(held ? 1 : 0);
    if (!held) return;
    const failures: unknown[] = [];
    for (const step of this.steps) await step().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  }

  /** Runs on an interval, never two passes at once. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.run()
        .catch((error: unknown) => this.log.error({ err: error, event: 'sweep_error' }, 'sweep failed'))
        .finally(() => (this.#running = undefined));
    }, intervalMs);
  }

  /** Stops the interval; resolves when a pass under way has finished. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
