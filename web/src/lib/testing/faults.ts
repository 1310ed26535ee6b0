/**
 * Fault injection for the end-to-end tests, switched on from a test through
 * `window.__peercloudFaults`. Each fault only makes *this* peer misbehave, in ways a broken or
 * hostile peer could behave anyway (serve corrupt bytes, run out of space): shipping them
 * gives no peer any power over another, and lets the tests prove the others cope.
 */
import { AUDIT_BLOCK_BYTES } from '../../../../shared/merkle.ts';
export interface Faults {
  /**
   * Flip a byte in every audit block of every chunk this host reads back from this index on,
   * to serve or to answer an audit with: a disk that no longer holds what was written
   * (undefined: faithful).
   */
  corruptServedFrom: number | undefined;
  /** Pretend the browser's storage is full beyond this many hosted bytes (QuotaExceededError). */
  quotaBytes: number | undefined;
  /** Never answer the tracker's audits (a host that lost or never kept what it claims). */
  silentAudits: boolean;
}

export const faults: Faults = { corruptServedFrom: undefined, quotaBytes: undefined, silentAudits: false };

(globalThis as unknown as { __peercloudFaults: Faults }).__peercloudFaults = faults;

/** A chunk as this host's (possibly faulty) storage gives it back. */
export function asStored(index: number, bytes: Uint8Array): Uint8Array {
  if (faults.corruptServedFrom === undefined || index < faults.corruptServedFrom) return bytes;
  const corrupted = bytes.slice();
  for (let at = Math.floor(Math.min(AUDIT_BLOCK_BYTES, corrupted.length) / 2); at < corrupted.length; at += AUDIT_BLOCK_BYTES) corrupted[at]! ^= 0x5a;
  return corrupted;
}
