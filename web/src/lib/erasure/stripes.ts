/**
 * Sealed chunks as fragments: a stripe (one sealed chunk) is cut into k data fragments and m
 * parity ones (shared/erasure.ts); any k of them give it back. For whole copies (k = 1) every
 * fragment is the sealed chunk itself. Pure and synchronous: it runs in the coding worker, or
 * inline where there is no worker (tests).
 */
import { createCodec, joinStripe, layoutFragments, missingDataFragments, type ErasureCodec, type StripeLayout } from '../../../../shared/erasure.ts';

const codecs = new Map<string, ErasureCodec>();

function codecFor(k: number, n: number): ErasureCodec {
  const key = `${k}+${n - k}`;
  let codec = codecs.get(key);
  if (!codec) codecs.set(key, (codec = createCodec(k, n - k)));
  return codec;
}

/** The parity fragments of a stripe laid out in `slab` (its data fragments already there), written in place. */
export function encodeStripeInto(slab: Uint8Array, layout: StripeLayout): void {
  const fragments = layoutFragments(slab, layout);
  codecFor(layout.k, layout.n).encodeInto(fragments.slice(0, layout.k), fragments.slice(layout.k));
}

/** The sealed chunk of `length` bytes back from any k fragments (null where missing). Decodes nothing when every data fragment is there. */
export function decodeStripe(fragments: readonly (Uint8Array | null)[], k: number, n: number, length: number): Uint8Array {
  if (k === 1) {
    const copy = fragments.find((fragment) => fragment !== null);
    if (!copy) throw new Error('no copy of this chunk');
    return copy.subarray(0, length);
  }
  const data = missingDataFragments(fragments, k).length === 0 ? (fragments.slice(0, k) as Uint8Array[]) : codecFor(k, n).reconstruct(fragments, Array.from({ length: k }, (_, index) => index));
  return joinStripe(data, length);
}

/** Fragment `wanted` of a stripe from any k others: what a repair rebuilds. */
export function rebuildFragment(fragments: readonly (Uint8Array | null)[], k: number, n: number, wanted: number): Uint8Array {
  if (k === 1) {
    const copy = fragments.find((fragment) => fragment !== null);
    if (!copy) throw new Error('no copy of this chunk');
    return copy;
  }
  return codecFor(k, n).reconstruct(fragments, [wanted])[0]!;
}
