/**
 * Fault injection for the end-to-end tests, switched on from a test through
 * `window.__peercloudFaults`. Each fault only makes *this* peer misbehave, in ways a broken or
 * hostile peer could behave anyway (serve corrupt bytes, run out of space): shipping them
 * gives no peer any power over another, and lets the tests prove the others cope.
 */
import { AUDIT_BLOCK_BYTES } from '../../../../shared/merkle.ts';
import type { HostedChunk, HostedStore } from '../storage/browser-db.ts';

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
  /**
   * A slow uplink: each data channel sends at most this many bytes a second (undefined: as fast
   * as the channel goes), read at each frame. Lets a test catch a transfer midway with a few
   * MiB, where it would otherwise need a file big enough to outlast its own steps, then lift the
   * limit so the rest does not keep the test waiting.
   */
  uplinkBytesPerSecond: number | undefined;
}

export const faults: Faults = { corruptServedFrom: undefined, quotaBytes: undefined, silentAudits: false, uplinkBytesPerSecond: undefined };

(globalThis as unknown as { __peercloudFaults: Faults }).__peercloudFaults = faults;

/**
 * The host's storage as the faults make it: what it reads back is corrupted from
 * `corruptServedFrom` on, and writes beyond `quotaBytes` hosted fail as a full disk would.
 * With no fault switched on it behaves as the store it wraps; the hosting code never looks at
 * the faults itself.
 */
export function withFaults(store: HostedStore, switches: Faults = faults): HostedStore {
  const corrupted = (index: number, chunk: HostedChunk | undefined): HostedChunk | undefined => {
    if (!chunk || switches.corruptServedFrom === undefined || index < switches.corruptServedFrom) return chunk;
    const data = chunk.data;
    // Read lazily, as the Blob itself would be: only the pieces someone reads are corrupted.
    return { sha256: chunk.sha256, data: { arrayBuffer: async () => corrupt(new Uint8Array(await data.arrayBuffer())).buffer } as Blob };
  };
  return {
    ...store,
    chunk: async (fileId, index) => corrupted(index, await store.chunk(fileId, index)),
    chunks: async (fileId, indexes) => (await store.chunks(fileId, indexes)).map((chunk, k) => corrupted(indexes[k]!, chunk)),
    putChunks: async (fileId, chunks) => {
      if (switches.quotaBytes !== undefined) {
        const hosted = (await store.replicas()).reduce((sum, replica) => sum + replica.bytes, 0);
        if (hosted > switches.quotaBytes) throw new DOMException('The storage quota was exceeded (fault injected).', 'QuotaExceededError');
      }
      return store.putChunks(fileId, chunks);
    },
  };
}

/** Flips a byte in every audit block: a disk that no longer holds what was written. */
function corrupt(bytes: Uint8Array): Uint8Array {
  const corrupted = bytes.slice();
  for (let at = Math.floor(Math.min(AUDIT_BLOCK_BYTES, corrupted.length) / 2); at < corrupted.length; at += AUDIT_BLOCK_BYTES) corrupted[at]! ^= 0x5a;
  return corrupted;
}
