/**
 * A tracker's peers when that tracker is gone. With one tracker, a restart finds everyone
 * offline and every transfer over (tracker.ts). With several, each concerns only its own peers:
 * at start, those it held before a crash; at a graceful stop, those it holds; and the sweep's
 * holder does the same for a tracker whose heartbeat stopped (presence.ts), within
 * TRACKER_TIMEOUT plus one sweep. Peers that have already reconnected elsewhere are not touched
 * (they are no longer that tracker's in the database), and their old transfers were ended when
 * they came back (socket/connections.ts).
 */
import type { TrackerEvents } from '../events.ts';
import type { Logger } from '../logger.ts';
import type { Peers } from '../peers.ts';
import type { Transfers } from '../transfers.ts';
import type { TrackerPresence } from './presence.ts';

export class TrackerRecovery {
  constructor(
    private readonly deps: {
      peers: Peers;
      transfers: Transfers;
      events: TrackerEvents;
      presence: TrackerPresence;
      log: Logger;
      /** The number of peers online changed. */
      changed: () => void;
    },
  ) {}

  /** The peers this tracker held are offline and their transfers over; returns how many peers. */
  async release(trackerId: string): Promise<number> {
    const { peers, transfers, events } = this.deps;
    const gone = await peers.markOfflineOn(trackerId);
    const abandoned = await transfers.abandonOf(gone);
    // Their owners see their files' availability change, as for any peer that leaves.
    for (const peerId of gone) await events.emit('peer:presence', { peerId });
    if (gone.length > 0 || abandoned > 0) {
      this.deps.log.info({ event: 'recovery', trackerId, peers: gone.length, abandoned }, 'peers of a tracker that is gone marked offline, their transfers ended');
      this.deps.changed();
    }
    return gone.length;
  }

  /** The sweep's holder: trackers whose heartbeat stopped lose their peers, then their row. */
  async sweepDead(): Promise<number> {
    let released = 0;
    for (const trackerId of await this.deps.presence.dead()) {
      this.deps.log.warn({ event: 'tracker_dead', trackerId }, 'a tracker stopped sending heartbeats: its peers are offline');
      released += await this.release(trackerId);
      await this.deps.presence.forget(trackerId);
    }
    return released;
  }
}
