/**
 * One WebRTC data channel for one transfer, between the two peers the tracker paired.
 * Signals go through the tracker (which relays them only while the transfer is open);
 * bytes go peer to peer. The link pulls (`next()`), sends with backpressure on the
 * channel's buffered amount, and ends exactly once with a typed TransferFailure or close().
 */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { IceServer, TransferErrorCode } from '../../../../shared/protocol.ts';
import { FRAME_BYTES, sendWatermarks, WireMessage } from '../../../../shared/wire.ts';
import { FLOODED, Inbox } from '../transfer/inbox.ts';
import { TransferFailure, type FailureSource, type Incoming, type Link } from '../transfer/link.ts';
import type { TrackerClient } from './tracker-client.ts';

export { TransferFailure, type FailureSource, type Incoming } from '../transfer/link.ts';

export interface PeerLinkOptions {
  transferId: string;
  initiator: boolean;
  tracker: TrackerClient;
  iceServers: IceServer[];
  /** ICE that fails here often never reaches 'failed' (it stays 'checking'): this bounds the wait. */
  connectTimeoutMs: number;
  /**
   * At most this many bytes a second sent (a slow uplink; undefined: as fast as the channel goes),
   * read at each frame: a limit lifted midway lets the rest go at the channel's speed.
   */
  uplinkBytesPerSecond?: (() => number | undefined) | undefined;
}

/** Why a data channel never opened, in words a person can act on. */
export function unreachableMessage(iceServers: readonly IceServer[]): string {
  const relayed = iceServers.some((server) => [server.urls].flat().some((url) => /^turns?:/.test(url)));
  return relayed
    ? 'This browser and the other peer could not reach each other, not even through the cloud’s relay server. One of the two networks blocks it; try another network.'
    : 'This browser and the other peer could not reach each other: their networks allow no direct connection, and this cloud has no relay (TURN) server. Its operator can add one.';
}

/** A data channel that never opened within CONNECT_TIMEOUT: its message is already in a person's words. */
export class PeersUnreachable extends TransferFailure {
  constructor(iceServers: readonly IceServer[], source: FailureSource = 'self') {
    super('CONNECTION', unreachableMessage(iceServers), source);
  }
}

/**
 * This page's links that are sending chunks: their channels' queues share one budget
 * (sendWatermarks), so that an upload on six links queues what one link would, not six times it.
 */
const sendingLinks = new Set<PeerLink>();

export class PeerLink implements Link {
  readonly transferId: string;
  readonly #peer: SimplePeer.Instance;
  /** What the other peer sent and the transfer has not read yet (bounded: a flood fails the link). */
  readonly #inbox = new Inbox();
  #failure: TransferFailure | undefined;
  #closed = false;
  #markEnded!: () => void;
  readonly ended = new Promise<void>((resolve) => (this.#markEnded = resolve));
  readonly #connected: Promise<void>;
  readonly #unsubscribe: (() => void)[] = [];
  #drained: (() => void) | undefined;
  #bytesSent = 0;
  readonly #uplinkBytesPerSecond: () => number | undefined;
  /** When a slow uplink's clock started, and what was sent by then: with the first bytes, not the connection. */
  #uplinkFrom: { at: number; sent: number } | undefined;

  constructor({ transferId, initiator, tracker, iceServers, connectTimeoutMs, uplinkBytesPerSecond }: PeerLinkOptions) {
    this.transferId = transferId;
    this.#uplinkBytesPerSecond = uplinkBytesPerSecond ?? (() => undefined);
    this.#peer = new SimplePeer({
      initiator,
      trickle: true,
      // Strings stay strings (control), binary arrives as bytes (chunk frames), for the few
      // messages that can arrive through simple-peer before we take the channel over.
      objectMode: true,
      // simple-peer's default STUN servers are unreachable on a closed network: always pass ours.
      config: { iceServers: iceServers as RTCIceServer[] },
    });

    this.#connected = new Promise<void>((resolve, reject) => {
      // Not connected, so there is no one to tell over the channel: the failure only ends the link.
      const timer = setTimeout(() => this.#end(new PeersUnreachable(iceServers)), connectTimeoutMs);
      this.#peer.once('connect', () => {
        clearTimeout(timer);
        const channel = this.#channel();
        channel.bufferedAmountLowThreshold = sendWatermarks(0).low;
        channel.addEventListener('bufferedamountlow', () => this.#drained?.());
        // Messages go straight from the channel to us: simple-peer's stream machinery costs CPU
        // per message, and on a CPU-bound channel every cycle spent there is throughput lost.
        channel.onmessage = (event: MessageEvent<unknown>) => this.#receive(event.data);
        resolve();
      });
      this.#onEnd = (failure) => {
        clearTimeout(timer);
        reject(failure);
      };
    });
    // Nobody may be waiting on `connected()` when the link fails later; the failure is still reported by next()/send().
    this.#connected.catch(() => undefined);

    this.#peer.on('signal', (signal) => {
      tracker.request('transfer:signal', { transferId, signal: signal as never }).catch((error: unknown) => {
        this.fail('CONNECTION', `Signaling failed: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
    this.#unsubscribe.push(
      tracker.on('transfer:signal', (relayed) => {
        if (relayed.transferId === transferId && !this.#closed) this.#peer.signal(relayed.signal as SimplePeer.SignalData);
      }),
      tracker.on('transfer:ended', (ended) => {
        if (ended.transferId !== transferId || this.#closed) return;
        if (ended.ok) return;
        // The other side gave up connecting first (its CONNECT_TIMEOUT ran out before ours): the same failure, told by the tracker.
        const unreachable = ended.code === 'CONNECTION' && !this.#peer.connected;
        this.#end(unreachable ? new PeersUnreachable(iceServers, 'tracker') : new TransferFailure(ended.code, ended.message, 'tracker'));
      }),
    );
    this.#peer.on('data', (data: unknown) => this.#receive(data));
    this.#peer.on('error', (error: Error & { code?: string }) => this.#end(new TransferFailure('CONNECTION', `The connection failed: ${error.code ?? error.message}`, 'peer')));
    this.#peer.on('close', () => this.#end(new TransferFailure('PEER_GONE', 'The other peer closed the connection.', 'peer')));
  }

  #onEnd: (failure: TransferFailure) => void = () => {};

  connected(): Promise<void> {
    return this.#connected;
  }

  get failure(): TransferFailure | undefined {
    return this.#failure;
  }

  /** The next message from the other peer; rejects once the link has failed. */
  next(): Promise<Incoming> {
    return this.#inbox.next();
  }

  /** The next control message, failing the link if the peer sends bytes out of turn. */
  async nextControl(): Promise<WireMessage> {
    const item = await this.next();
    if (item.kind === 'control') return item.message;
    this.fail('INTERNAL', 'The other peer sent data out of turn.');
    throw this.#failure!;
  }

  async sendControl(message: WireMessage): Promise<void> {
    await this.#send(JSON.stringify(message));
  }

  /** Sends a chunk's bytes in frames, waiting whenever the channel's queue is full. */
  async sendBytes(bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    if (!this.#closed) sendingLinks.add(this);
    for (let at = 0; at < bytes.byteLength; at += FRAME_BYTES) {
      const bytesPerSecond = this.#uplinkBytesPerSecond() || undefined;
      // The clock starts with the first bytes sent under a limit (not at the connection), and
      // again if a lifted limit comes back.
      if (bytesPerSecond) this.#uplinkFrom ??= { at: performance.now(), sent: this.#bytesSent };
      else this.#uplinkFrom = undefined;
      await this.#send(bytes.subarray(at, Math.min(bytes.byteLength, at + FRAME_BYTES)));
      if (this.#uplinkFrom && bytesPerSecond) await this.#paced(this.#uplinkFrom, bytesPerSecond);
    }
  }

  /** Holds the next frame until a slow uplink would have carried what was sent so far. */
  async #paced(from: { at: number; sent: number }, bytesPerSecond: number): Promise<void> {
    const due = from.at + ((this.#bytesSent - from.sent) / bytesPerSecond) * 1000 - performance.now();
    if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    if (this.#failure) throw this.#failure;
  }

  async #send(data: string | Uint8Array<ArrayBuffer>): Promise<void> {
    if (this.#failure) throw this.#failure;
    const channel = this.#channel();
    const { high, low } = sendWatermarks(this.#bytesSent, sendingLinks.size);
    if (channel.bufferedAmountLowThreshold !== low) channel.bufferedAmountLowThreshold = low;
    while (channel.bufferedAmount > high) {
      await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#drained = undefined;
      if (this.#failure) throw this.#failure;
    }
    try {
      // Straight to the channel, no Buffer wrapping (two calls: send's overloads don't take a union).
      if (typeof data === 'string') channel.send(data);
      else channel.send(data);
      this.#bytesSent += typeof data === 'string' ? data.length : data.byteLength;
    } catch (error) {
      this.#end(new TransferFailure('CONNECTION', `Sending failed: ${error instanceof Error ? error.message : String(error)}`, 'peer'));
      throw this.#failure!;
    }
  }

  /** Ends the link with a failure noticed here, once, telling the other peer why. */
  fail(code: TransferErrorCode, message: string): void {
    if (this.#closed) return;
    if (this.#peer.connected) {
      try {
        this.#peer.send(JSON.stringify({ t: 'error', code, message: message.slice(0, 500) } satisfies WireMessage));
      } catch {
        // The channel is already closing: the other side will see the close instead.
      }
    }
    this.#end(new TransferFailure(code, message, 'self'));
  }

  #end(failure: TransferFailure): void {
    if (this.#closed) return;
    this.#failure = failure;
    this.#shutdown();
  }

  /** Ends the link normally. */
  close(): void {
    if (this.#closed) return;
    this.#failure ??= new TransferFailure('CANCELLED', 'The transfer is over.');
    this.#shutdown();
  }

  #shutdown(): void {
    this.#closed = true;
    sendingLinks.delete(this);
    this.#markEnded();
    for (const off of this.#unsubscribe) off();
    this.#onEnd(this.#failure!);
    this.#inbox.end(this.#failure!);
    this.#drained?.();
    this.#peer.destroy();
  }

  #receive(data: unknown): void {
    if (this.#closed) return;
    let item: Incoming;
    if (typeof data === 'string') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return this.fail('INTERNAL', 'The other peer sent a malformed message.');
      }
      const message = WireMessage.safeParse(parsed);
      if (!message.success) return this.fail('INTERNAL', 'The other peer sent an invalid message.');
      // The other peer reports its own failure to the tracker; its words are for the logs only.
      if (message.data.t === 'error') return this.#end(new TransferFailure(message.data.code, 'The other peer stopped the transfer.', 'told'));
      item = { kind: 'control', message: message.data };
    } else if (data instanceof ArrayBuffer) {
      item = { kind: 'bytes', bytes: new Uint8Array(data) };
    } else if (data instanceof Uint8Array) {
      // Through simple-peer (before the takeover): a Buffer view of the message's own ArrayBuffer.
      item = { kind: 'bytes', bytes: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength) };
    } else {
      return this.fail('INTERNAL', 'The other peer sent data of an unknown kind.');
    }
    if (!this.#inbox.deliver(item, typeof data === 'string' ? data.length : 0)) {
      this.fail('INTEGRITY', FLOODED);
    }
  }

  #channel(): RTCDataChannel {
    // HACK: simple-peer keeps its RTCDataChannel private; we need its bufferedAmount for
    // backpressure (simple-peer's own stream backpressure goes through a slow nextTick polyfill).
    return (this.#peer as unknown as { _channel: RTCDataChannel })._channel;
  }
}
