/**
 * "Peers online", told to everyone. A wave of joins would send n messages to n peers (n²):
 * announcements are batched instead, one per BATCH_MS at most, and less often as the tracker
 * holds more peers (PER_PEER_MS each), so that a wave of 10,000 joins costs each peer a few
 * messages, not thousands. With several trackers the count is the cloud's (read from the
 * database), and each tracker tells its own peers.
 */
import type { Logger } from './logger.ts';
import type { Sessions } from './sessions.ts';

const BATCH_MS = 250;
const PER_PEER_MS = 0.25;

export class CloudStats {
  #timer: NodeJS.Timeout | undefined;

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
          .then((peersOnline) => this.sessions.broadcast('cloud:stats', { peersOnline }))
          .catch((error: unknown) => this.log.warn({ err: error, event: 'cloud_stats_error' }, 'could not count the peers online'))
          .finally(() => (this.#timer = undefined));
      },
      Math.max(BATCH_MS, this.sessions.size * PER_PEER_MS),
    );
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
