/**
 * Events for peers connected to another tracker, through Socket.IO's PostgreSQL adapter.
 *
 * Why not a plain `io.to(room).emit()`: it cannot say whether anyone received it, and the
 * adapter answers "nobody" in the same way when the peer is gone and when it has simply not yet
 * heard from a tracker that just started. The tracker's callers need to know (a host that
 * isn't there must not be waited for: its transfer fails at once with PEER_GONE).
 *
 * So a delivery is a small request between trackers: `peer:deliver` goes to every tracker
 * (NOTIFY reaches all of them, whether or not the adapter has counted them yet); the one that
 * holds the peer's socket emits the event to it and answers `peer:delivered`. Only that answer
 * makes a delivery true. Without an answer in DELIVERY_TIMEOUT_MS the database is asked whether
 * the peer is still connected to a live tracker: if not, the peer is offline (false); if so,
 * the request is sent again, at most DELIVERY_ATTEMPTS times, and then reported as
 * undeliverable (logged, counted, false). A tracker delivers a given request once, however
 * often it is sent (a late answer must not make a peer see a WebRTC signal twice).
 *
 * Before anything is sent, the database says where the peer is: events for offline peers (a
 * status after a level changed in the sweep, say) cost one indexed read, not a broadcast.
 */
import { z } from 'zod';
import { randomId } from '../../shared/encoding.ts';
import type { ServerEventName } from '../../shared/protocol.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { OtherTrackers, Sessions, TrackerServer } from '../sessions.ts';

const DELIVERY_TIMEOUT_MS = 1_500;
const DELIVERY_ATTEMPTS = 3;
/** How long a tracker remembers the requests it delivered (longer than all attempts of one). */
const REMEMBERED_MS = 60_000;
const REMEMBERED_MAX = 50_000;

const DeliverRequest = z.object({ id: z.string().max(64), from: z.string().max(128), peerId: z.string().max(64), event: z.string().max(64), payload: z.unknown() });
const DeliveredAnswer = z.object({ id: z.string().max(64), to: z.string().max(128) });
export type DeliverRequest = z.infer<typeof DeliverRequest>;
export type DeliveredAnswer = z.infer<typeof DeliveredAnswer>;

/** What trackers say to each other (Socket.IO's server-side events, over the adapter). */
export interface InterTrackerEvents {
  'peer:deliver': (request: DeliverRequest) => void;
  'peer:delivered': (answer: DeliveredAnswer) => void;
}

export class ClusterDelivery implements OtherTrackers {
  readonly #waiting = new Map<string, () => void>();
  /** Request id → when it was delivered here; insertion order is age order. */
  readonly #delivered = new Map<string, number>();

  constructor(
    private readonly deps: {
      io: TrackerServer;
      db: Db;
      clock: Clock;
      log: Logger;
      metrics: Metrics;
      sessions: Sessions;
      /** This tracker's id (known once it listens). */
      trackerId: () => string;
      /** Heartbeats older than this are dead trackers (cluster/presence.ts). */
      deadline: () => number;
    },
  ) {
    const { io } = deps;
    io.on('peer:deliver', (raw) => this.#onDeliver(raw));
    io.on('peer:delivered', (raw) => {
      const answer = DeliveredAnswer.safeParse(raw);
      if (answer.success && answer.data.to === deps.trackerId()) this.#waiting.get(answer.data.id)?.();
    });
  }

  async holds(peerId: string, db: Db = this.deps.db): Promise<boolean> {
    const row = await db
      .selectFrom('peers')
      .innerJoin('trackers', 'trackers.id', 'peers.tracker_id')
      .select('peers.tracker_id')
      .where('peers.id', '=', peerId)
      .where('peers.online', '=', 1)
      .where('peers.tracker_id', '!=', this.deps.trackerId())
      .where('trackers.heartbeat_at', '>', this.deps.deadline())
      .executeTakeFirst();
    return row !== undefined;
  }

  async deliver(peerId: string, event: ServerEventName, payload: unknown): Promise<boolean> {
    const request: DeliverRequest = { id: randomId(), from: this.deps.trackerId(), peerId, event, payload };
    try {
      for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS; attempt++) {
        if (!(await this.holds(peerId))) return this.#counted(attempt === 1 ? 'offline' : 'gone');
        const answered = this.#answer(request.id);
        this.deps.io.serverSideEmit('peer:deliver', request);
        if (await answered) return this.#counted('delivered');
      }
      this.deps.log.warn({ event: 'undeliverable', peerId, message: event }, 'no tracker delivered an event to a peer said to be online');
      return this.#counted('undeliverable');
    } catch (error) {
      this.deps.log.error({ err: error, event: 'delivery_error', peerId, message: event }, 'could not deliver an event through the cluster');
      return this.#counted('undeliverable');
    }
  }

  #counted(outcome: 'delivered' | 'offline' | 'gone' | 'undeliverable'): boolean {
    this.deps.metrics.clusterDeliveries.inc({ outcome });
    return outcome === 'delivered';
  }

  /** Resolves true when the tracker holding the peer answers, false after DELIVERY_TIMEOUT_MS. */
  #answer(id: string): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(false);
      }, DELIVERY_TIMEOUT_MS);
      this.#waiting.set(id, () => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(true);
      });
    });
  }

  #onDeliver(raw: unknown): void {
    const parsed = DeliverRequest.safeParse(raw);
    if (!parsed.success) {
      this.deps.log.warn({ event: 'bad_cluster_message' }, 'a malformed delivery request between trackers');
      return;
    }
    const request = parsed.data;
    const socket = this.deps.sessions.local(request.peerId);
    if (!socket) return;
    if (!this.#delivered.has(request.id)) {
      this.#remember(request.id);
      // The event was typed by the sending tracker's own Sessions.emit.
      (socket.emit as (event: string, payload: unknown) => boolean)(request.event, request.payload);
    }
    this.deps.io.serverSideEmit('peer:delivered', { id: request.id, to: request.from });
  }

  #remember(id: string): void {
    const now = this.deps.clock.now();
    this.#delivered.set(id, now);
    for (const [old, at] of this.#delivered) {
      if (this.#delivered.size <= REMEMBERED_MAX && at > now - REMEMBERED_MS) break;
      this.#delivered.delete(old);
    }
  }
}
