/**
 * How a file is kept in the cloud: `replicate:R` (R whole copies) or `rs:K+M` (K data and M
 * parity fragments of a Reed–Solomon code over the sealed chunks, shared/erasure.ts). Both are
 * one idea, a k-of-n scheme: any k of the n fragments give the file back; R copies are the
 * case k = 1, where every fragment is the whole sealed file. Each file records its scheme, so
 * that files stored under another setting stay readable.
 */
import { chunkCount, sealedChunkSize } from './chunking.ts';
import { MAX_FRAGMENTS } from './erasure.ts';

export interface Scheme {
  /** Fragments needed to read the file. */
  k: number;
  /** Fragments stored. */
  n: number;
}

export function schemeName(scheme: Scheme): string {
  return scheme.k === 1 ? `replicate:${scheme.n}` : `rs:${scheme.k}+${scheme.n - scheme.k}`;
}

/** "replicate:2" or "rs:4+4" → a scheme; undefined when the text is not one. */
export function parseScheme(text: string): Scheme | undefined {
  const trimmed = text.trim();
  const replicate = /^replicate:(\d{1,2})$/.exec(trimmed);
  if (replicate) {
    const n = Number(replicate[1]);
    return n >= 1 && n <= 16 ? { k: 1, n } : undefined;
  }
  const rs = /^rs:(\d{1,3})\+(\d{1,3})$/.exec(trimmed);
  if (rs) {
    const k = Number(rs[1]);
    const m = Number(rs[2]);
    return k >= 2 && m >= 1 && k + m <= Math.min(64, MAX_FRAGMENTS) ? { k, n: k + m } : undefined;
  }
  return undefined;
}

/** Bytes of fragment chunk `index` (one per stripe): the sealed chunk cut in k, rounded up. */
export function fragmentChunkSize(index: number, size: number, chunkSize: number, k: number): number {
  return Math.ceil(sealedChunkSize(index, size, chunkSize) / k);
}

/** Bytes one fragment of the file occupies on its host. */
export function fragmentBytes(size: number, chunkSize: number, k: number): number {
  let total = 0;
  for (let index = 0; index < chunkCount(size, chunkSize); index++) total += fragmentChunkSize(index, size, chunkSize, k);
  return total;
}

export type FragmentHealth = 'healthy' | 'protected' | 'at-risk' | 'unavailable' | 'lost';

/**
 * A stored file's health in fragments: all n live (healthy); more than k (protected: survives
 * live − k more peers leaving); exactly k (at risk: one more and it can't be read); fewer than
 * k live but k stored (unavailable until hosts come back); fewer than k stored (lost).
 */
export function fragmentHealth(scheme: Scheme, counts: { stored: number; live: number }): { health: FragmentHealth; survives: number } {
  const survives = Math.max(0, counts.live - scheme.k);
  if (counts.stored < scheme.k) return { health: 'lost', survives: 0 };
  if (counts.live < scheme.k) return { health: 'unavailable', survives: 0 };
  if (counts.live >= scheme.n) return { health: 'healthy', survives };
  if (counts.live === scheme.k) return { health: 'at-risk', survives: 0 };
  return { health: 'protected', survives };
}

/**
 * Whether a file needs a repair: fewer than n live fragments, and no more than the repair
 * threshold (`k+1` repairs only when the margin is down to one; `n-1` as soon as one is missing).
 */
export function needsRepair(scheme: Scheme, live: number, threshold: RepairThreshold): boolean {
  return live < scheme.n && live >= scheme.k && live <= repairThreshold(scheme, threshold);
}

export type RepairThreshold = 'k+1' | 'n-1' | number;

export function repairThreshold(scheme: Scheme, threshold: RepairThreshold): number {
  if (threshold === 'k+1') return Math.min(scheme.n - 1, scheme.k + 1);
  if (threshold === 'n-1') return scheme.n - 1;
  return threshold;
}
