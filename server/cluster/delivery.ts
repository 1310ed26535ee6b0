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
 *
 * Batched, because every statement and every NOTIFY costs both trackers and PostgreSQL a turn
 * (a placement of eight fragments across two trackers made some twenty deliveries, each a read
 * and two NOTIFYs): a peer's events are sent in order, one request at a time, and the events
 * that came for it meanwhile go together in its next request; the look-ups of one turn of the
 * event loop are one statement (shared/batching.ts), and the requests of one turn one NOTIFY (as
 * many as fit in its 8000 bytes), and so are the answers.
 */
import { z } from 'zod';
import { packBySize, perTurn } from '../../shared/batching.ts';
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
/** Events for one peer in one request, at most (the rest go in its next one). */
const EVENTS_PER_REQUEST = 64;
/**
 * What the requests or answers of one message may add up to (JSON bytes): under NOTIFY's 8000
 * with room for the adapter's envelope; a larger message would go through the adapter's table
 * (an insert, and a read on every other tracker).
 */
const MESSAGE_BYTES = 6_000;

const Id = z.string().max(64);
const DeliverRequest = z.object({ id: Id, peerId: z.string().max(64), events: z.array(z.object({ event: z.string().max(64), payload: z.unknown() })).min(1).max(EVENTS_PER_REQUEST) });
const DeliverMessage = z.object({ from: z.string().max(128), requests: z.array(DeliverRequest).max(1_000) });
const DeliveredMessage = z.object({ to: z.string().max(128), ids: z.array(Id).max(1_000) });
export type DeliverRequest = z.infer<typeof DeliverRequest>;
export type DeliverMessage = z.infer<typeof DeliverMessage>;
export type DeliveredMessage = z.infer<typeof DeliveredMessage>;

/** What trackers say to each other (Socket.IO's server-side events, over the adapter). */
export interface InterTrackerEvents {
  'peer:deliver': (message: DeliverMessage) => void;
  'peer:delivered': (message: DeliveredMessage) => void;
}

type Outcome = 'delivered' | 'offline' | 'gone' | 'undeliverable';

/** An event waiting for its peer's next request, and who waits for its outcome. */
interface Pending {
  event: ServerEventName;
  payload: unknown;
  resolve: (delivered: boolean) => void;
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

export class ClusterDelivery implements OtherTrackers {
  readonly #waiting = new Map<string, () => void>();
  /** Request id → when it was delivered here; insertion order is age order. */
  readonly #delivered = new Map<string, number>();
  /** Per peer, events not yet sent, in the order they were emitted. */
  readonly #queued = new Map<string, Pending[]>();
  /** Peers with a request under way: their next events wait for its outcome. */
  readonly #sending = new Set<string>();
  /** Requests to send, and answers to give (per tracker), once this turn of the event loop is over. */
  #outbox: DeliverRequest[] = [];
  #answers = new Map<string, string[]>();
  #turnScheduled = false;
  /** Which of the peers asked about in this turn are connected to another live tracker: one statement. */
  readonly #heldElsewhere = perTurn<string, true>(async (peerIds) => new Map((await this.#heldAmong(this.deps.db, peerIds)).map((id) => [id, true as const])));

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
      const answer = DeliveredMessage.safeParse(raw);
      if (!answer.success || answer.data.to !== deps.trackerId()) return;
      for (const id of answer.data.ids) this.#waiting.get(id)?.();
    });
  }

  async holds(peerId: string, db?: Db): Promise<boolean> {
    if (db) return (await this.#heldAmong(db, [peerId])).length > 0;
    return (await this.#heldElsewhere(peerId)) === true;
  }

  /** Those of the peers online on another tracker that is alive. */
  async #heldAmong(db: Db, peerIds: readonly string[]): Promise<string[]> {
    const rows = await db
      .selectFrom('peers')
      .innerJoin('trackers', 'trackers.id', 'peers.tracker_id')
      .select('peers.id')
      .where('peers.id', 'in', peerIds)
      .where('peers.online', '=', 1)
      .where('peers.tracker_id', '!=', this.deps.trackerId())
      .where('trackers.heartbeat_at', '>', this.deps.deadline())
      .execute();
    return rows.map((row) => row.id);
  }

  deliver(peerId: string, event: ServerEventName, payload: unknown): Promise<boolean> {
    return new Promise((resolve) => {
      const queue = this.#queued.get(peerId);
      if (queue) queue.push({ event, payload, resolve });
      else this.#queued.set(peerId, [{ event, payload, resolve }]);
      this.#endOfTurn();
    });
  }

  /** Once this turn of the event loop is over: starts the requests of peers with none under way, sends the requests and answers gathered. */
  #endOfTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      for (const peerId of this.#queued.keys()) if (!this.#sending.has(peerId)) this.#start(peerId);
      this.#flush();
    });
  }

  #start(peerId: string): void {
    const queue = this.#queued.get(peerId)!;
    const events = queue.splice(0, EVENTS_PER_REQUEST);
    if (queue.length === 0) this.#queued.delete(peerId);
    this.#sending.add(peerId);
    void this.#send(peerId, events).finally(() => {
      this.#sending.delete(peerId);
      if (this.#queued.has(peerId)) this.#endOfTurn();
    });
  }

  async #send(peerId: string, events: Pending[]): Promise<void> {
    const request: DeliverRequest = { id: randomId(), peerId, events: events.map(({ event, payload }) => ({ event, payload })) };
    const outcome = await this.#attempts(request);
    this.deps.metrics.clusterDeliveries.inc({ outcome }, events.length);
    for (const { resolve } of events) resolve(outcome === 'delivered');
  }

  async #attempts(request: DeliverRequest): Promise<Outcome> {
    try {
      for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS; attempt++) {
        if (!(await this.holds(request.peerId))) return attempt === 1 ? 'offline' : 'gone';
        const answered = this.#answer(request.id);
        this.#outbox.push(request);
        this.#endOfTurn();
        if (await answered) return 'delivered';
      }
      this.deps.log.warn({ event: 'undeliverable', peerId: request.peerId, messages: request.events.map((e) => e.event) }, 'no tracker delivered an event to a peer said to be online');
      return 'undeliverable';
    } catch (error) {
      this.deps.log.error({ err: error, event: 'delivery_error', peerId: request.peerId, messages: request.events.map((e) => e.event) }, 'could not deliver an event through the cluster');
      return 'undeliverable';
    }
  }

  /** Sends the requests and answers of this turn, as few messages as fit. */
  #flush(): void {
    const { io } = this.deps;
    if (this.#outbox.length > 0) {
      const from = this.deps.trackerId();
      for (const requests of packBySize(this.#outbox, jsonBytes, MESSAGE_BYTES)) io.serverSideEmit('peer:deliver', { from, requests });
      this.#outbox = [];
    }
    for (const [to, ids] of this.#answers) {
      for (const some of packBySize(ids, (id) => id.length + 3, MESSAGE_BYTES)) io.serverSideEmit('peer:delivered', { to, ids: some });
    }
    this.#answers = new Map();
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
    const parsed = DeliverMessage.safeParse(raw);
    if (!parsed.success) {
      this.deps.log.warn({ event: 'bad_cluster_message' }, 'a malformed delivery request between trackers');
      return;
    }
    const { from, requests } = parsed.data;
    for (const request of requests) {
      const socket = this.deps.sessions.local(request.peerId);
      if (!socket) continue;
      if (!this.#delivered.has(request.id)) {
        this.#remember(request.id);
        // The events were typed by the sending tracker's own Sessions.emit.
        for (const { event, payload } of request.events) (socket.emit as (event: string, payload: unknown) => boolean)(event, payload);
      }
      const answers = this.#answers.get(from);
      if (answers) answers.push(request.id);
      else this.#answers.set(from, [request.id]);
      this.#endOfTurn();
    }
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
