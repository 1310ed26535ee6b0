/**
 * Errors in a person's words. An error this page did not put into words (a TypeError, a
 * browser's internal message) is never shown as it is: no stack-trace-like text reaches the
 * person, only a plain sentence; the error itself goes to the console.
 */
import { PeercloudError, type ErrorCode } from '../../../shared/errors.ts';
import { PeersUnreachable, TransferFailure } from './net/peer-link.ts';
import type { TransferErrorCode } from '../../../shared/protocol.ts';

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

/**
 * Why a transfer failed, for a sentence of the page: peers that never reached each other get
 * the page's own explanation (no direct path, and whether the cloud has a relay), the others
 * their code's words (the message of a failure may quote the other peer, so it is not shown).
 */
export function transferWords(failure: TransferFailure): string {
  return failure instanceof PeersUnreachable ? failure.message : TRANSFER_WORDS[failure.code];
}

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
  if (error instanceof PeersUnreachable) return error.message;
  if (error instanceof TransferFailure) return `Transfer failed: ${TRANSFER_WORDS[error.code]}.`;
  if (error instanceof DOMException && error.name === 'QuotaExceededError') return 'This browser ran out of storage space.';
  if (error instanceof DOMException && error.name === 'NotAllowedError') return 'The browser did not allow it.';
  return UNEXPECTED;
}
