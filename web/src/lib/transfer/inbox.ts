/**
 * What a link holds from the other peer until the transfer reads it. A browser's data channel
 * has no flow control on the receiving side: every message lands in the page as it arrives,
 * whether or not the code is ready for it (it may be waiting on a write). An honest sender stays
 * within its window; a hostile one (a host serving a download, an owner uploading) could send
 * without end. So the inbox counts what it holds unread, bytes and control messages alike, and
 * refuses past MAX_UNREAD_BYTES: the link then stops the transfer instead of filling memory.
 * `PeerLink` (the data channel) and the tests' in-memory links share it, so the protocols'
 * unit tests run through the same bound as the page.
 */
import { MAX_UNREAD_BYTES, unreadCost } from '../../../../shared/wire.ts';
import type { Incoming, TransferFailure } from './link.ts';

/** Why a link that refused a message (Inbox.deliver said false) fails, as INTEGRITY. */
export const FLOODED = 'The other peer sent far more than it may before an answer.';

export class Inbox {
  readonly #queue: { item: Incoming; cost: number }[] = [];
  #unread = 0;
  #waiter: { resolve: (item: Incoming) => void; reject: (error: TransferFailure) => void } | undefined;
  #failure: TransferFailure | undefined;

  constructor(readonly limit: number = MAX_UNREAD_BYTES) {}

  /** What is held unread, as counted against the limit. */
  get unread(): number {
    return this.#unread;
  }

  /**
   * A message from the other peer: handed to a waiting reader, or held. False when holding it
   * would pass the limit (the sender ignores the window): the caller fails the link.
   * `textLength`: a control message's length on the wire (its cost grows with it).
   */
  deliver(item: Incoming, textLength = 0): boolean {
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve(item);
      return true;
    }
    const cost = unreadCost(item, textLength);
    if (this.#unread + cost > this.limit) return false;
    this.#unread += cost;
    this.#queue.push({ item, cost });
    return true;
  }

  /** The next message; what arrived before the link ended is still read first. */
  next(): Promise<Incoming> {
    const held = this.#queue.shift();
    if (held) {
      this.#unread -= held.cost;
      return Promise.resolve(held.item);
    }
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** The link is over: a waiting reader gets the failure, and so does every later read once the inbox is empty. */
  end(failure: TransferFailure): void {
    this.#failure = failure;
    this.#waiter?.reject(failure);
    this.#waiter = undefined;
  }
}
