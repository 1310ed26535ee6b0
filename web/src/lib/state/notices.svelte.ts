/**
 * Messages for the person at the page, in plain words. Errors never replace the page or
 * lose the user's place: they stack here until dismissed. Notices about one thing share a
 * key: a newer one replaces the older, and the thing can clear them once they are no longer
 * true (a resume that failed, then worked).
 *
 * No stack-trace-like text reaches the person: an error this page did not put into words is
 * logged to the console and shown as a plain sentence.
 */
import { PeercloudError, type ErrorCode } from '../../../../shared/errors.ts';
import { TransferFailure } from '../net/peer-link.ts';
import type { TransferErrorCode } from '../../../../shared/protocol.ts';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
  key?: string;
}

const ERROR_WORDS: Partial<Record<ErrorCode, string>> = {
  OFFLINE: 'Not connected to the tracker. It will retry by itself.',
  TIMEOUT: 'The tracker did not answer in time.',
  RATE_LIMITED: 'Too many requests at once. Try again in a moment.',
  INTERNAL: 'Something went wrong on the tracker.',
};

export const TRANSFER_WORDS: Record<TransferErrorCode, string> = {
  PEER_GONE: 'the other peer went offline',
  TIMEOUT: 'the transfer stalled',
  REJECTED: 'no host accepted it',
  INTEGRITY: 'the data did not verify',
  CONNECTION: 'the peer-to-peer connection failed',
  STORAGE: 'storage could not be read or written',
  CANCELLED: 'it was cancelled',
  INTERNAL: 'something went wrong',
};

/** What an error the page did not foresee says to a person (the details go to the console). */
export const UNEXPECTED = 'Something unexpected went wrong in this page. Reloading it usually helps.';

/**
 * A sentence for any error this app can meet. A string is taken as words already written
 * for people; the tracker's own messages are (it writes them for the page); anything else
 * (a TypeError, a browser's internal message) is not shown as it is.
 */
export function describeError(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error instanceof PeercloudError) return ERROR_WORDS[error.code] ?? error.message;
  if (error instanceof TransferFailure) return `Transfer failed: ${TRANSFER_WORDS[error.code]}.`;
  if (error instanceof DOMException && error.name === 'QuotaExceededError') return 'This browser ran out of storage space.';
  if (error instanceof DOMException && error.name === 'NotAllowedError') return 'The browser did not allow it.';
  return UNEXPECTED;
}

export class Notices {
  items = $state<Notice[]>([]);
  #next = 1;

  error(context: string, error: unknown, key?: string): void {
    if (typeof error !== 'string') console.warn(context, error);
    this.#push('error', `${context}: ${describeError(error)}`, key);
  }

  info(text: string, key?: string): void {
    this.#push('info', text, key);
  }

  /** Expected races (a transfer the tracker already ended, say): for developers, not people. */
  debug(context: string, detail: unknown): void {
    console.debug(context, detail);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((notice) => notice.id !== id);
  }

  /** Removes the notices about one thing, once what they said is no longer true. */
  clear(key: string): void {
    this.items = this.items.filter((notice) => notice.key !== key);
  }

  #push(kind: Notice['kind'], text: string, key?: string): void {
    const kept = key === undefined ? this.items : this.items.filter((notice) => notice.key !== key);
    this.items = [...kept.slice(-4), { id: this.#next++, kind, text, key }];
  }
}
