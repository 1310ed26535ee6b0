/**
 * A peer's session, from the moment its socket is admitted to the moment it goes: it is
 * registered (online, one more connection counted), its requests are bound, its inventory
 * starts; when it goes, its disconnection is counted unless the tracker caused it, its
 * transfers end and the owners of what it hosts hear their files' availability changed.
 */
import type { CloudStats } from '../cloud-stats.ts';
import type { TrackerEvents } from '../events.ts';
import type { Inventory } from '../inventory.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Peers } from '../peers.ts';
import { closeForGood, closeForRetry, type Sessions, type TrackerServer, type TrackerSocket } from '../sessions.ts';
import type { Transfers } from '../transfers.ts';
import { bindRequests, type RequestHandlers, type RequestLimits } from './requests.ts';

export interface ConnectionDeps {
  sessions: Sessions;
  peers: Peers;
  transfers: Transfers;
  inventory: Inventory;
  events: TrackerEvents;
  cloudStats: CloudStats;
  metrics: Metrics;
  log: Logger;
  handlers: RequestHandlers;
  limits: RequestLimits;
  /** Requests and disconnections under way, so that a graceful shutdown can let them finish. */
  inflight: Set<Promise<unknown>>;
  /** True once the tracker is shutting down: disconnections then are not the peers' doing. */
  closing: () => boolean;
  /** This tracker's id, recorded with each session (known once listening). */
  trackerId: () => string;
  /**
   * Several trackers: the peer's room, and its older connection on another tracker closed (the
   * same peer moved; that connection's tracker sees it was replaced). Absent with one tracker.
   */
  takeOver?: (socket: TrackerSocket) => Promise<void>;
}

export function acceptConnections(io: TrackerServer, deps: ConnectionDeps): void {
  const { sessions, peers, transfers, inventory, events, cloudStats, metrics, log } = deps;

  io.on('connection', (socket: TrackerSocket) => {
    const { peerId } = socket.data;
    metrics.connections.inc();
    socket.once('disconnect', () => metrics.connections.dec());
    const previous = sessions.attach(socket);
    const ready = (async () => {
      if (previous) {
        // Same peer, newer connection (another tab took over): the old one's transfers can't go on.
        closeForGood(previous);
        await transfers.peerGone(peerId);
      }
      inventory.start(peerId);
      const { elsewhere } = await peers.connected(peerId, socket.data.publicKey, socket.data.address, socket.data.network, { trackerId: deps.trackerId(), sessionId: socket.id });
      await deps.takeOver?.(socket);
      // Its session on another tracker (alive, or dead and not yet noticed) is over: so are its transfers.
      if (elsewhere) await transfers.peerGone(peerId);
      await events.emit('peer:presence', { peerId });
    })();
    ready.catch((error: unknown) => {
      log.error({ err: error, event: 'connect_error', peerId }, 'could not register peer');
      // The tracker's fault (its database, say): the peer tries again.
      closeForRetry(socket);
    });
    bindRequests(socket, deps.handlers, { ready, log, inflight: deps.inflight, limits: deps.limits, timed: (request, seconds) => metrics.requestSeconds.observe({ request }, seconds) });
    log.info({ event: 'connect', peerId, address: socket.data.address, replaced: Boolean(previous) }, 'peer connected');
    cloudStats.changed();

    socket.on('disconnect', (reason) => {
      // Work under way, as a request is: a graceful shutdown lets it finish before the database
      // closes (peers that left just before a SIGTERM are recorded as gone, not lost in errors).
      const recorded = (async () => {
        // A peer whose registration failed (the tracker's fault, logged above) leaves its
        // session, and the disconnection is not counted against it.
        if (!(await ready.then(() => true, () => false))) {
          sessions.detach(socket);
          return;
        }
        // A tracker shutting down, or a newer tab of the same peer, is not the peer's loss of connection.
        if (deps.closing() || socket.data.replaced || !sessions.detach(socket)) return;
        inventory.end(peerId);
        // A disconnection the tracker forced (a flood) is not counted as the peer's; one whose
        // session a newer connection on another tracker took over is not a disconnection at all.
        if (!(await peers.disconnected(peerId, socket.id, reason, !socket.data.forced))) return;
        log.info({ event: 'disconnect', peerId, reason }, 'peer disconnected');
        await transfers.peerGone(peerId);
        await events.emit('peer:presence', { peerId });
        cloudStats.changed();
      })().catch((error: unknown) => log.error({ err: error, event: 'disconnect_error', peerId }, 'could not record disconnection'));
      deps.inflight.add(recorded);
      void recorded.finally(() => deps.inflight.delete(recorded));
    });
  });
}
