/**
 * A peer's connection to the tracker: it logs in by signing a fresh challenge, reconnects
 * by itself with jittered exponential backoff, parses everything the tracker sends, and
 * turns every request into a promise of parsed data or a typed PeercloudError.
 *
 * No browser storage here: the page passes its identity in, and the tests use the same
 * class from Node with keys of their own.
 */
import { io, type Socket } from 'socket.io-client';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../../../../shared/backoff.ts';
import { PeercloudError } from '../../../../shared/errors.ts';
import { signChallenge } from '../../../../shared/identity.ts';
import {
  ackSchema,
  Challenge,
  serverEvents,
  type ClientRequest,
  type ClientRequestName,
  type ClientResponse,
  type ClientToServer,
  type HandshakeAuth,
  type ServerEvent,
  type ServerEventName,
  type ServerToClient,
} from '../../../../shared/protocol.ts';

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'replaced' | 'closed';

export interface TrackerClientOptions {
  /** The tracker's origin, e.g. http://localhost:3000 ('' for the page's own origin). */
  url: string;
  privateKey: CryptoKey;
  /** base64url raw public key */
  publicKey: string;
  reconnect?: boolean;
  backoff?: BackoffPolicy;
  requestTimeoutMs?: number;
  /** Called for server messages that fail their schema (a bug or a hostile tracker). */
  onInvalidMessage?: (event: string, problem: string) => void;
  /** Extra HTTP headers, for programs speaking the protocol from Node (browsers set their own). */
  headers?: Record<string, string>;
}

/** The retry after a close for flooding waits as long as the backoff's longest step (backoffDelay's attempts stop growing at 30). */
const FLOODED_ATTEMPT = 30;

type Listener<K extends ServerEventName> = (payload: ServerEvent<K>) => void;

export class TrackerClient {
  readonly socket: Socket<ServerToClient, ClientToServer>;
  #state: ConnectionState = 'connecting';
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #stateListeners = new Set<(state: ConnectionState, detail?: string) => void>();
  readonly #onlineListeners = new Set<() => void>();
  /** What the tracker said just before closing this connection (`session:closing`), if anything. */
  #closing: ServerEvent<'session:closing'>['reason'] | undefined;
  /** Set once this tab is no longer the peer: see `mute`. */
  #muted = false;
  readonly #options: Required<Omit<TrackerClientOptions, 'onInvalidMessage' | 'headers'>> & Pick<TrackerClientOptions, 'onInvalidMessage' | 'headers'>;

  constructor(options: TrackerClientOptions) {
    this.#options = { reconnect: true, backoff: DEFAULT_BACKOFF, requestTimeoutMs: 15_000, ...options };
    const base = this.#options.url;
    this.socket = io(base, {
      autoConnect: false,
      // Our own reconnect loop: the backoff is ours, and a new challenge is needed each time.
      reconnection: false,
      transports: ['websocket'],
      ...(options.headers ? { extraHeaders: options.headers } : {}),
      auth: (callback) => {
        this.#handshake(base).then(callback, (error: unknown) => {
          // No challenge: connect without auth; the tracker refuses it and we retry after a pause.
          this.#setState('offline', error instanceof Error ? error.message : String(error));
          callback({});
        });
      },
    });
    // Parsed like every message (`on`); it only changes how the close that follows is read.
    this.on('session:closing', ({ reason }) => (this.#closing = reason));
    this.socket.on('connect', () => {
      this.#attempt = 0;
      this.#closing = undefined;
      this.#setState('online');
      if (!this.#muted) for (const listener of this.#onlineListeners) listener();
    });
    this.socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      this.#setState('offline', error.data?.code ? `${error.data.code}: ${error.message}` : error.message);
      this.#scheduleReconnect();
    });
    this.socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return this.#setState('closed');
      if (reason === 'io server disconnect' && this.#closing === 'flooding') {
        // A tab that floods again is cut again: it comes back at its backoff's slowest pace, not at once.
        this.#attempt = Math.max(this.#attempt, FLOODED_ATTEMPT);
        this.#setState('offline', 'The tracker closed this connection: this tab sent it more requests than it takes. Reconnecting after a pause.');
        return this.#scheduleReconnect();
      }
      if (reason === 'io server disconnect') {
        // The tracker closed us on purpose, without another reason: another tab of this peer took over.
        return this.#setState('replaced', 'The tracker closed this connection: another tab of this browser is now the peer.');
      }
      this.#setState('offline', reason);
      this.#scheduleReconnect();
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  connect(): void {
    clearTimeout(this.#retryTimer);
    this.#setState('connecting');
    this.socket.connect();
  }

  /**
   * Stops handing tracker events to this tab (it is no longer the peer) while the socket
   * stays open until the new peer tab's connection replaces it: closing it first would count
   * as a disconnection. Requests fail as OFFLINE.
   */
  mute(): void {
    this.#muted = true;
    // Never to come back on its own: a late reconnection would replace the new peer tab's.
    clearTimeout(this.#retryTimer);
    if (!this.socket.connected) this.close();
  }

  close(): void {
    clearTimeout(this.#retryTimer);
    this.socket.disconnect();
    this.#setState('closed');
  }

  onState(listener: (state: ConnectionState, detail?: string) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Runs after every successful (re)connection: the place to report capacity and inventory again. */
  onOnline(listener: () => void): () => void {
    this.#onlineListeners.add(listener);
    return () => this.#onlineListeners.delete(listener);
  }

  /** Subscribes to a tracker event; the handler only ever sees payloads that passed their schema. */
  on<K extends ServerEventName>(event: K, listener: Listener<K>): () => void {
    const schema = serverEvents[event];
    const wrapped = (payload: unknown) => {
      const parsed = schema.safeParse(payload);
      if (this.#muted) return;
      if (parsed.success) listener(parsed.data as ServerEvent<K>);
      else this.#options.onInvalidMessage?.(event, parsed.error.message);
    };
    const socket = this.socket as unknown as { on(e: string, l: (p: unknown) => void): void; off(e: string, l: (p: unknown) => void): void };
    socket.on(event, wrapped);
    return () => socket.off(event, wrapped);
  }

  /**
   * Sends a request and waits for its ack. Offline it fails at once with OFFLINE rather than
   * queueing silently; no answer in time is TIMEOUT; a refusal is the tracker's own code.
   */
  async request<K extends ClientRequestName>(name: K, payload: ClientRequest<K>): Promise<ClientResponse<K>> {
    if (!this.socket.connected || this.#muted) throw new PeercloudError('OFFLINE', 'Not connected to the tracker.');
    let raw: unknown;
    try {
      // Socket.IO's typed emitWithAck can't follow a generic event name through its overloads.
      const timed = this.socket.timeout(this.#options.requestTimeoutMs) as unknown as { emitWithAck(event: K, payload: unknown): Promise<unknown> };
      raw = await timed.emitWithAck(name, payload);
    } catch (error) {
      // Socket.IO rejects with "operation has timed out" when no ack came (the socket may have dropped meanwhile).
      if (!(error instanceof Error && /timed out/.test(error.message))) throw error;
      throw new PeercloudError(this.socket.connected ? 'TIMEOUT' : 'OFFLINE', `The tracker did not answer ${name} in time.`);
    }
    const ack = ackSchema(name).safeParse(raw);
    if (!ack.success) throw new PeercloudError('INTERNAL', `The tracker's answer to ${name} is malformed.`);
    if (!ack.data.ok) throw new PeercloudError(ack.data.code, ack.data.message);
    return ack.data.data;
  }

  async #handshake(base: string): Promise<HandshakeAuth> {
    const response = await fetch(`${base}/api/challenge`, { cache: 'no-store', ...(this.#options.headers ? { headers: this.#options.headers } : {}) });
    if (!response.ok) throw new Error(`challenge request failed: HTTP ${response.status}`);
    const challenge = Challenge.parse(await response.json());
    return {
      publicKey: this.#options.publicKey,
      nonce: challenge.nonce,
      signature: await signChallenge(this.#options.privateKey, challenge.nonce),
    };
  }

  #scheduleReconnect(): void {
    if (!this.#options.reconnect || this.#muted || this.#state === 'closed' || this.#state === 'replaced') return;
    clearTimeout(this.#retryTimer);
    const delay = backoffDelay(this.#attempt++, this.#options.backoff);
    this.#retryTimer = setTimeout(() => {
      if (this.#muted || this.#state === 'closed' || this.#state === 'replaced') return;
      this.#setState('connecting');
      this.socket.connect();
    }, delay);
  }

  #setState(state: ConnectionState, detail?: string): void {
    if (this.#state === state && detail === undefined) return;
    this.#state = state;
    for (const listener of this.#stateListeners) listener(state, detail);
  }
}
