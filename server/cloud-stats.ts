/**
 * "Peers online", told to everyone. A wave of joins would send n messages to n peers (n²);
 * announcements are batched instead, one per BATCH_MS at most.
 */
import type { Sessions } from './sessions.ts';

const BATCH_MS = 250;

export class CloudStats {
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly sessions: Sessions) {}

  /** The count changed: everyone hears the new one shortly. */
  changed(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.sessions.broadcast('cloud:stats', { peersOnline: this.sessions.size });
    }, BATCH_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
