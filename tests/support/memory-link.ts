/**
 * Two Links joined in memory, with PeerLink's contract: messages arrive in order, bytes in
 * frames of at most FRAME_BYTES, a failure on one side reaches the other as the peer's, a
 * closed side looks to the other like a closed channel. Every message sent is recorded, and a
 * test can slip in messages of its own (a lying peer) with `inject`.
 */
import type { TransferErrorCode } from '../../shared/protocol.ts';
import { FRAME_BYTES, WireMessage } from '../../shared/wire.ts';
import { FLOODED, Inbox } from '../../web/src/lib/transfer/inbox.ts';
import { TransferFailure, type Incoming, type Link } from '../../web/src/lib/transfer/link.ts';

export class MemoryLink implements Link {
  other!: MemoryLink;
  /** Everything this side sent, in order (bytes as their length). */
  readonly sent: (WireMessage | { bytes: number })[] = [];
  /** The page's own inbox, bound included: an honest protocol must never trip it. */
  readonly inbox = new Inbox();
  #failure: TransferFailure | undefined;
  #closed = false;
  #markEnded!: () => void;
  readonly ended = new Promise<void>((resolve) => (this.#markEnded = resolve));

  constructor(readonly name: string) {}

  connected(): Promise<void> {
    return this.#failure ? Promise.reject(this.#failure) : Promise.resolve();
  }

  get failure(): TransferFailure | undefined {
    return this.#failure;
  }

  get closed(): boolean {
    return this.#closed;
  }

  next(): Promise<Incoming> {
    return this.inbox.next();
  }

  async nextControl(): Promise<WireMessage> {
    const item = await this.next();
    if (item.kind === 'control') return item.message;
    this.fail('INTERNAL', 'The other peer sent data out of turn.');
    throw this.#failure!;
  }

  async sendControl(message: WireMessage): Promise<void> {
    this.#check();
    this.sent.push(message);
    // As over the wire: text, parsed by the receiver's schema.
    const text = JSON.stringify(message);
    this.other.#arrive({ kind: 'control', message: WireMessage.parse(JSON.parse(text)) }, text.length);
    await Promise.resolve();
  }

  async sendBytes(bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    for (let at = 0; at < bytes.byteLength; at += FRAME_BYTES) {
      this.#check();
      const frame = bytes.slice(at, Math.min(bytes.byteLength, at + FRAME_BYTES));
      this.sent.push({ bytes: frame.byteLength });
      this.other.#arrive({ kind: 'bytes', bytes: frame });
      await Promise.resolve();
    }
  }

  /** A message as if the other peer had sent it (a lying or broken peer). */
  inject(item: Incoming): void {
    this.#arrive(item, item.kind === 'control' ? JSON.stringify(item.message).length : 0);
  }

  fail(code: TransferErrorCode, message: string): void {
    if (this.#closed) return;
    this.other.#end(new TransferFailure(code, 'The other peer stopped the transfer.', 'told'));
    this.#end(new TransferFailure(code, message, 'self'));
  }

  close(): void {
    if (this.#closed) return;
    this.#failure ??= new TransferFailure('CANCELLED', 'The transfer is over.');
    this.#closed = true;
    this.#markEnded();
    this.inbox.end(this.#failure);
    this.other.#end(new TransferFailure('PEER_GONE', 'The other peer closed the connection.', 'peer'));
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #arrive(item: Incoming, textLength = 0): void {
    if (this.#closed) return;
    // As PeerLink: a sender past the bound has the transfer stopped, and hears why.
    if (!this.inbox.deliver(item, textLength)) this.fail('INTEGRITY', FLOODED);
  }

  #end(failure: TransferFailure): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#markEnded();
    this.#failure = failure;
    this.inbox.end(failure);
  }
}

export function memoryLinkPair(): [MemoryLink, MemoryLink] {
  const a = new MemoryLink('a');
  const b = new MemoryLink('b');
  a.other = b;
  b.other = a;
  return [a, b];
}
