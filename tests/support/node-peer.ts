/**
 * A peer driven from Node for integration tests: its own ECDSA key, the web app's own
 * TrackerClient, and a record of every event the tracker sent it.
 */
import { exportPublicKey, generateIdentity, peerIdFromPublicKey } from '../../shared/identity.ts';
import { serverEvents, type ClientRequest, type ClientRequestName, type ClientResponse, type ServerEvent, type ServerEventName } from '../../shared/protocol.ts';
import { TrackerClient } from '../../web/src/lib/net/tracker-client.ts';
import { proofFor } from './fake-replica.ts';

interface Recorded {
  event: ServerEventName;
  payload: unknown;
  taken: boolean;
}

export class NodePeer {
  readonly #log: Recorded[] = [];
  readonly #waiters = new Set<() => void>();
  /**
   * What this peer holds as a host, as far as audits go: file id → size and chunking, learned
   * from the stores and repairs it was offered. An honest test host answers every audit of
   * them with a real proof; `audits` makes it one that stays silent or answers with bytes it
   * does not have.
   */
  readonly holds = new Map<string, { size: number; chunkSize: number }>();
  audits: 'honest' | 'silent' | 'wrong' = 'honest';

  private constructor(
    readonly id: string,
    readonly keys: CryptoKeyPair,
    readonly publicKey: string,
    readonly client: TrackerClient,
  ) {
    for (const event of Object.keys(serverEvents) as ServerEventName[]) {
      client.on(event, (payload) => {
        this.#log.push({ event, payload, taken: false });
        for (const wake of this.#waiters) wake();
      });
    }
    client.on('transfer:open', (offer) => {
      if (offer.role === 'receiver') this.holds.set(offer.fileId, { size: offer.size, chunkSize: offer.chunkSize });
    });
    client.on('transfer:ready', (offer) => {
      if (offer.role === 'receiver') this.holds.set(offer.fileId, { size: offer.size, chunkSize: offer.chunkSize });
    });
    client.on('replica:drop', ({ fileIds }) => fileIds.forEach((fileId) => this.holds.delete(fileId)));
    client.on('audit:challenge', (challenge) => {
      const held = this.holds.get(challenge.fileId);
      if (!held || this.audits === 'silent') return;
      void proofFor(challenge, held.size, held.chunkSize)
        .then((proof) => this.request('audit:answer', { auditId: challenge.auditId, ...proof, ...(this.audits === 'wrong' ? { block: new Uint8Array(proof.block.byteLength) } : {}) }))
        .catch(() => undefined);
    });
  }

  /** A new peer (or, given keys, the same peer again) connected to the tracker at url. */
  static async connect(url: string, keys?: CryptoKeyPair, options: { reconnect?: boolean; headers?: Record<string, string>; requestTimeoutMs?: number } = {}): Promise<NodePeer> {
    const pair = keys ?? (await generateIdentity());
    const publicKey = await exportPublicKey(pair.publicKey);
    const client = new TrackerClient({
      url,
      privateKey: pair.privateKey,
      publicKey,
      reconnect: options.reconnect ?? false,
      backoff: { baseMs: 100, capMs: 1_000 },
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      ...(options.headers ? { headers: options.headers } : {}),
    });
    const peer = new NodePeer(await peerIdFromPublicKey(publicKey), pair, publicKey, client);
    await new Promise<void>((resolve, reject) => {
      const off = client.onState((state, detail) => {
        if (state === 'online') {
          off();
          resolve();
        } else if (state === 'offline') {
          off();
          reject(new Error(`could not connect: ${detail}`));
        }
      });
      client.connect();
    });
    return peer;
  }

  /** Connects and reports an offer of `capacity` bytes. */
  static async join(url: string, capacity: number, keys?: CryptoKeyPair, options: { reconnect?: boolean; headers?: Record<string, string>; requestTimeoutMs?: number } = {}): Promise<NodePeer> {
    const peer = await NodePeer.connect(url, keys, options);
    await peer.request('peer:report', { capacity, used: 0 });
    return peer;
  }

  request<K extends ClientRequestName>(name: K, payload: ClientRequest<K>): Promise<ClientResponse<K>> {
    return this.client.request(name, payload);
  }

  /** The first event of this kind not yet taken that matches, waiting for it if needed. */
  next<K extends ServerEventName>(event: K, match: (payload: ServerEvent<K>) => boolean = () => true, timeoutMs = 5_000): Promise<ServerEvent<K>> {
    return new Promise((resolve, reject) => {
      const look = () => {
        const found = this.#log.find((r) => !r.taken && r.event === event && match(r.payload as ServerEvent<K>));
        if (!found) return false;
        found.taken = true;
        this.#waiters.delete(look);
        clearTimeout(timer);
        resolve(found.payload as ServerEvent<K>);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(look);
        reject(new Error(`peer ${this.id.slice(0, 6)} waited ${timeoutMs} ms for ${event}`));
      }, timeoutMs);
      if (!look()) this.#waiters.add(look);
    });
  }

  /** The first matching event not yet taken, without waiting; it stays untaken. */
  peek<K extends ServerEventName>(event: K, match: (payload: ServerEvent<K>) => boolean = () => true): ServerEvent<K> | undefined {
    return this.#log.find((r) => !r.taken && r.event === event && match(r.payload as ServerEvent<K>))?.payload as ServerEvent<K> | undefined;
  }

  /** Every event of this kind received so far. */
  received<K extends ServerEventName>(event: K): ServerEvent<K>[] {
    return this.#log.filter((r) => r.event === event).map((r) => r.payload as ServerEvent<K>);
  }

  /** Resolves once the socket is closed from this side. */
  disconnect(): void {
    this.client.close();
  }
}
