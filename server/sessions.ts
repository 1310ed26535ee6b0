/**
 * Which peers are online, and the one socket each is reachable on. A peer that connects
 * again while its old socket is still open replaces it: that is the same peer moving
 * tabs or reloading, not a loss of connection, so the old socket leaves uncounted.
 */
import type { Server, Socket } from 'socket.io';
import type { ClientToServer, ServerEvent, ServerEventName, ServerToClient } from '../shared/protocol.ts';

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

export type TrackerServer = Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>;
export type TrackerSocket = Socket<ClientToServer, ServerToClient, Record<string, never>, SocketData>;

export class Sessions {
  readonly #sockets = new Map<string, TrackerSocket>();

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

  isOnline(peerId: string): boolean {
    return this.#sockets.has(peerId);
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** Sends to the peer if it is online; false when it is not (callers decide what that means). */
  emit<K extends ServerEventName>(peerId: string, event: K, payload: ServerEvent<K>): boolean {
    const socket = this.#sockets.get(peerId);
    if (!socket) return false;
    // Socket.IO's typed emit can't follow a generic event name through its overloads.
    (socket.emit as (event: K, payload: ServerEvent<K>) => boolean)(event, payload);
    return true;
  }

  broadcast<K extends ServerEventName>(event: K, payload: ServerEvent<K>): void {
    for (const socket of this.#sockets.values()) {
      (socket.emit as (event: K, payload: ServerEvent<K>) => boolean)(event, payload);
    }
  }

  disconnectAll(): void {
    for (const socket of this.#sockets.values()) socket.disconnect(true);
    this.#sockets.clear();
  }
}
