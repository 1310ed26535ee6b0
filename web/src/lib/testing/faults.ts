/**
 * Fault injection for the end-to-end tests, switched on from a test through
 * `window.__peercloudFaults`. Each fault only makes *this* peer misbehave, in ways a broken or
 * hostile peer could behave anyway (serve corrupt bytes, run out of space): shipping them
 * gives no peer any power over another, and lets the tests prove the others cope.
 */
export interface Faults {
  /** Flip a byte in every chunk this host serves from this index on (undefined: serve faithfully). */
  corruptServedFrom: number | undefined;
  /** Pretend the browser's storage is full beyond this many hosted bytes (QuotaExceededError). */
  quotaBytes: number | undefined;
}

export const faults: Faults = { corruptServedFrom: undefined, quotaBytes: undefined };

(globalThis as unknown as { __peercloudFaults: Faults }).__peercloudFaults = faults;
