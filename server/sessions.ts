/**
 * Which peers are online, and the one socket each is reachable on. A peer that connects
 * again while its old socket is still open replaces it: that is the same peer moving
 * tabs or reloading, not a loss of connection, so the old socket leaves uncounted.
 *
 * With several trackers (PostgreSQL), a peer may be connected to another one: `emit` then
 * hands the event to the cluster (cluster/delivery.ts), which says whether that tracker did
 * deliver it, and `isOnline` asks the database whether the peer is connected to a live
 * tracker. Neither ever claims more than it knows: an event nobody delivered is `false`,
 * exactly as for a peer that is offline.
 */
import type { Server, Socket } from 'socket.io';
import type { ClientToServer, ServerEvent, ServerEventName, ServerToClient } from '../shared/protocol.ts';
import type { InterTrackerEvents } from './cluster/delivery.ts';
import type { Db } from './db/database.ts';

export interface SocketData {
  peerId: string;
  publicKey: string;
  /** The client's address: the connection's, or through trusted proxies the one they name. */
  address: string;
  /** Its network (shared/network.ts); null on the tracker's LAN. */
  network: string | null;
  /** Set when the tracker itself closed this connection (a flood): not the peer's disconnection. */
  forced: boolean;
  /** Set when a newer connection of the same peer took over this one. */
  replaced: boolean;
}

export type TrackerServer = Server<ClientToServer, ServerToClient, InterTrackerEvents, SocketData>;
export type TrackerSocket = Socket<ClientToServer, ServerToClient, InterTrackerEvents, SocketData>;

/** The other trackers of the cloud, as the sessions see them (cluster/delivery.ts). */
export interface OtherTrackers {
  /** Delivers to a peer connected to another tracker, each peer's events in the order given; true once that tracker says it did. */
  deliver(peerId: string, event: ServerEventName, payload: unknown): Promise<boolean>;
  /** Whether the peer is connected to another tracker that is alive, as the database says. */
  holds(peerId: string, db?: Db): Promise<boolean>;
}

/**
 * Closes a connection the peer should open again (to this tracker or, through the load balancer,
 * another): only its transport, as when a tracker dies, so that the page reconnects with its
 * backoff. A Socket.IO disconnect ("io server disconnect") is kept for a peer that must not come
 * back at once (closeForGood).
 */
export function closeForRetry(socket: TrackerSocket): void {
  socket.conn.close();
}

/**
 * Closes a connection that must not come back on its own (a Socket.IO disconnect), first telling
 * the peer why when it is not another connection of the same peer taking over: the page would
 * otherwise read it as that and wait for its user.
 */
export function closeForGood(socket: TrackerSocket, reason?: ServerEvent<'session:closing'>['reason']): void {
  // Written before the disconnect packet, on the same transport: it arrives first.
  if (reason) socket.emit('session:closing', { reason });
  socket.disconnect(true);
}

/** Sockets a broadcast writes to in one turn of the event loop (about 20 ms of work on a loaded machine). */
export const BROADCAST_PER_TURN = 256;

/** A broadcast under way: the sockets to tell, the next one, and what to tell them. */
interface Broadcast {
  payload: unknown;
  sockets: TrackerSocket[];
  next: number;
}

export class Sessions {
  readonly #sockets = new Map<string, TrackerSocket>();
  readonly #broadcasts = new Map<ServerEventName, Broadcast>();
  #others: OtherTrackers | undefined;

  /** From now on, peers not connected here are looked for on the other trackers. */
  reachOthers(others: OtherTrackers): void {
    this.#others = others;
  }

  /** Registers the peer's socket and returns the one it replaces, if any. */
  attach(socket: TrackerSocket): TrackerSocket | undefined {
    const previous = this.#sockets.get(socket.data.peerId);
    this.#sockets.set(socket.data.peerId, socket);
    if (previous && previous !== socket) {
      previous.data.replaced = true;
      return previous;
    }
    return undefined;
  }

  /** Forgets the socket if it is still the peer's current one; true when the peer went offline. */
  detach(socket: TrackerSocket): boolean {
    if (this.#sockets.get(socket.data.peerId) !== socket) return false;
    this.#sockets.delete(socket.data.peerId);
    return true;
  }

  /** The peer's socket on this tracker, if it is connected here. */
  local(peerId: string): TrackerSocket | undefined {
    return this.#sockets.get(peerId);
  }

  /** Connected here or, with several trackers, to another live one. Inside a transaction, pass it. */
  async isOnline(peerId: string, db?: Db): Promise<boolean> {
    if (this.#sockets.has(peerId)) return true;
    return this.#others ? this.#others.holds(peerId, db) : false;
  }

  /** Peers connected to this tracker. */
  get size(): number {
    return this.#sockets.size;
  }

  /**
   * Sends to the peer; resolves false when it is not online anywhere, or no tracker delivered
   * it (callers decide what that means). A peer connected here gets it at once, before this
   * returns, as it always did; one on another tracker through the cluster, in order.
   */
  emit<K extends ServerEventName>(peerId: string, event: K, payload: ServerEvent<K>): Promise<boolean> {
    const socket = this.#sockets.get(peerId);
    if (socket) {
      // Socket.IO's typed emit can't follow a generic event name through its overloads.
      (socket.emit as (event: K, payload: ServerEvent<K>) => boolean)(event, payload);
      return Promise.resolve(true);
    }
    return this.#others ? this.#others.deliver(peerId, event, payload) : Promise.resolve(false);
  }

  /**
   * To every peer connected to this tracker (each tracker tells its own), BROADCAST_PER_TURN
   * sockets per turn of the event loop: telling 10,000 peers at once held the event loop for
   * 0.75 to 1.5 s (a write and its garbage per socket), and every request waited behind it. A
   * newer broadcast of the same event takes over the one under way: the peers not yet told get
   * the newer payload, and so does everyone, from the start of the list.
   */
  broadcast<K extends ServerEventName>(event: K, payload: ServerEvent<K>): void {
    const sockets = [...this.#sockets.values()];
    const under = this.#broadcasts.get(event);
    if (under) {
      Object.assign(under, { payload, sockets, next: 0 });
      return;
    }
    const state: Broadcast = { payload, sockets, next: 0 };
    this.#broadcasts.set(event, state);
    const step = () => {
      const end = Math.min(state.next + BROADCAST_PER_TURN, state.sockets.length);
      for (; state.next < end; state.next++) {
        const socket = state.sockets[state.next]!;
        // Socket.IO's typed emit can't follow a generic event name through its overloads.
        if (socket.connected) (socket.emit as (event: K, payload: unknown) => boolean)(event, state.payload);
      }
      if (state.next < state.sockets.length) setImmediate(step);
      else this.#broadcasts.delete(event);
    };
    step();
  }

  /**
   * Closes every connection of this tracker (it stops, or the other trackers took it for dead),
   * for its peers to come back (closeForRetry); `forced` ones are not counted as the peers'
   * disconnections.
   */
  disconnectAll(forced = false): void {
    for (const socket of this.#sockets.values()) {
      if (forced) socket.data.forced = true;
      closeForRetry(socket);
    }
    this.#sockets.clear();
  }
}
