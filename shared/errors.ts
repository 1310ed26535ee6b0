/**
 * The closed set of error codes an ack can carry. Both sides switch on these,
 * so adding one is a protocol change.
 */
export const ERROR_CODES = [
  'INVALID', // the message did not match its schema
  'UNAUTHORIZED', // no valid identity proof
  'FORBIDDEN', // authenticated, but not allowed to touch this object
  'NOT_FOUND',
  'CONFLICT', // the object is not in a state that allows this
  'NO_HOST', // no online peer can take the file
  'UNAVAILABLE', // the file exists but none of its hosts is online
  'QUOTA', // a size or count limit
  'RATE_LIMITED',
  'INTERNAL',
  // Raised by the client side itself, never sent by the tracker:
  'OFFLINE', // not connected to the tracker
  'TIMEOUT', // the tracker did not answer in time
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type Ack<T> = { ok: true; data: T } | { ok: false; code: ErrorCode; message: string };

export class PeercloudError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PeercloudError';
  }
}

export function ok<T>(data: T): Ack<T> {
  return { ok: true, data };
}

export function fail(code: ErrorCode, message: string): Ack<never> {
  return { ok: false, code, message };
}

/** Unwraps an ack, turning a refusal back into a typed error. */
export function unwrap<T>(ack: Ack<T>): T {
  if (ack.ok) return ack.data;
  throw new PeercloudError(ack.code, ack.message);
}
