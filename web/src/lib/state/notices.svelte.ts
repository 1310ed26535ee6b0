/**
 * Messages for the person at the page, in plain words. Errors never replace the page or
 * lose the user's place: they stack here until dismissed.
 */
import { PeercloudError, type ErrorCode } from '../../../../shared/errors.ts';
import { TransferFailure } from '../net/peer-link.ts';
import type { TransferErrorCode } from '../../../../shared/protocol.ts';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

const ERROR_WORDS: Partial<Record<ErrorCode, string>> = {
  OFFLINE: 'Not connected to the tracker. It will retry by itself.',
  TIMEOUT: 'The tracker did not answer in time.',
  RATE_LIMITED: 'Too many requests at once. Try again in a moment.',
  INTERNAL: 'Something went wrong on the tracker.',
};

const TRANSFER_WORDS: Record<TransferErrorCode, string> = {
  PEER_GONE: 'the other peer went offline',
  TIMEOUT: 'the transfer stalled',
  REJECTED: 'no host accepted it',
  INTEGRITY: 'the data did not verify',
  CONNECTION: 'the peer-to-peer connection failed',
  STORAGE: 'storage could not be read or written',
  CANCELLED: 'it was cancelled',
  INTERNAL: 'something went wrong',
};

/** A sentence for any error this app can meet. */
export function describeError(error: unknown): string {
  if (error instanceof PeercloudError) return ERROR_WORDS[error.code] ?? error.message;
  if (error instanceof TransferFailure) return `Transfer failed: ${TRANSFER_WORDS[error.code]}.`;
  if (error instanceof DOMException && error.name === 'QuotaExceededError') return 'This browser ran out of storage space.';
  return error instanceof Error ? error.message : String(error);
}

export class Notices {
  items = $state<Notice[]>([]);
  #next = 1;

  error(context: string, error: unknown): void {
    console.warn(context, error);
    this.#push('error', `${context}: ${describeError(error)}`);
  }

  info(text: string): void {
    this.#push('info', text);
  }

  /** Expected races (a transfer the tracker already ended, say): for developers, not people. */
  debug(context: string, detail: unknown): void {
    console.debug(context, detail);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((notice) => notice.id !== id);
  }

  #push(kind: Notice['kind'], text: string): void {
    this.items = [...this.items.slice(-4), { id: this.#next++, kind, text }];
  }
}
