/**
 * "Peers online", told to everyone. A wave of joins would send n messages to n peers (n²):
 * announcements are batched instead, one per BATCH_MS at most, and less often as the tracker
 * holds more peers (PER_PEER_MS each: every 10 s at 10,000 peers), so that a wave of 10,000
 * joins costs each peer a few messages, not thousands. With several trackers the count is the
 * cloud's (read from the database), and each tracker tells its own peers; the periodic look at
 * the other trackers' peers (`recount`) tells them only when the count moved.
 *
 * Why it matters: each announcement is one WebSocket write per peer. A CPU profile of a tracker
 * holding 2,000 peers (bench/trackers.ts, BENCH_TRACKER_PROFILE) spent a third of its time in
 * those writes (writev), most of them this count: at 10,000 peers the 5 s recount alone was
 * 2,000 messages a second, changed or not.
 */
import type { Logger } from './logger.ts';
import type { Sessions } from './sessions.ts';

const BATCH_MS = 250;
const PER_PEER_MS = 1;

export class CloudStats {
  #timer: NodeJS.Timeout | undefined;
  /** The count last told, if any. */
  #told: number | undefined;

  constructor(
    private readonly sessions: Sessions,
    /** Peers online in the whole cloud. */
    private readonly count: () => Promise<number>,
    private readonly log: Logger,
  ) {}

  /** The count changed: everyone hears the new one shortly. */
  changed(): void {
    this.#timer ??= setTimeout(
      () => {
        void this.count()
          .then((peersOnline) => this.#tell(peersOnline))
          .catch((error: unknown) => this.log.warn({ err: error, event: 'cloud_stats_error' }, 'could not count the peers online'))
          .finally(() => (this.#timer = undefined));
      },
      Math.max(BATCH_MS, this.sessions.size * PER_PEER_MS),
    );
  }

  /**
   * The other trackers' peers may have come or gone: everyone hears the count if it moved. (A
   * peer that joins here is told by `changed`, whatever the count.)
   */
  recount(): void {
    if (this.#timer) return;
    void this.count()
      .then((peersOnline) => {
        if (peersOnline !== this.#told) this.#tell(peersOnline);
      })
      .catch((error: unknown) => this.log.warn({ err: error, event: 'cloud_stats_error' }, 'could not count the peers online'));
  }

  #tell(peersOnline: number): void {
    this.#told = peersOnline;
    this.sessions.broadcast('cloud:stats', { peersOnline });
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
