/**
 * The sweep: what time alone changes, applied every SWEEP_INTERVAL (and by tests by hand):
 * transfers that expired, uploads left unsettled, interrupted uploads past their grace,
 * repairs that are due, and levels whose 24-hour window moved. Every step runs even when one
 * before it fails: a bad row must not stop repairs or levels for everyone.
 */
import type { Logger } from './logger.ts';

export type SweepStep = () => Promise<unknown>;

export class Sweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly steps: readonly SweepStep[],
    private readonly log: Logger,
  ) {}

  /** One pass; the first failure is rethrown once every step has run. */
  async run(): Promise<void> {
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
