/**
 * Reed–Solomon erasure coding of sealed chunks ("stripes") into fragments, for the rs:K+M
 * redundancy scheme (issue 12). A stripe is one sealed chunk: it is cut into k data
 * fragments of fragmentSize() bytes (the last one padded with zeros), and m parity fragments
 * are computed from them. Any k of the k + m fragments give the stripe back.
 *
 * The code is systematic: fragments 0..k−1 are the stripe's own bytes, so a download that
 * has all of them joins them and decodes nothing (missingDataFragments() says so), and
 * reconstruct() hands back present fragments as they are.
 *
 * Why a hand-written codec and not a package: docs/DURABILITY.md, "Choosing the codec". In
 * short, of the npm packages that run both in Node and in a browser worker, the only one with
 * a general API (@digitaldefiance/reed-solomon-erasure.wasm) fails to decode a third of the
 * loss patterns of rs:4+2 and traps in its allocator; the correct ones are Node-only or a
 * 1.8 MB bundle for another project with a 64 KiB fragment limit and a decoder 4–10× slower
 * than this one. The matrices are the de-facto standard ones (Backblaze, klauspost, the Rust
 * reed-solomon-erasure crate): parity is byte-identical to theirs, checked in the tests.
 *
 * Synchronous and dependency-free, so it runs the same in Node, a page and a worker.
 */
import { PeercloudError } from './errors.ts';
import { codeShards, encodingMatrix, GF256_MAX_SHARDS, invert, multiply, type Matrix } from './gf256.ts';

/** k + m at most: the code's matrix has one row per element of GF(256). */
export const MAX_FRAGMENTS = GF256_MAX_SHARDS;

/** Distinct loss patterns whose inverse matrix is kept; a download or a repair uses one or two. */
const INVERSE_CACHE_SIZE = 32;

export interface ErasureCodec {
  /** Data fragments per stripe. */
  readonly k: number;
  /** Parity fragments per stripe. */
  readonly m: number;
  /** The m parity fragments of k data fragments of equal length. */
  encode(dataFragments: readonly Uint8Array[]): Uint8Array[];
  /** The m parity fragments of k data fragments, written into `parity` (m arrays of their length). */
  encodeInto(dataFragments: readonly Uint8Array[], parity: readonly Uint8Array[]): void;
  /**
   * The fragments at the indexes `wanted` (0..k−1 data, k..k+m−1 parity), from the k + m
   * fragments of a stripe where a missing one is null. A wanted fragment that is present is
   * returned as it is (the same array, not a copy); missing ones are computed from the first
   * k present, so present data fragments are preferred and nothing is decoded when all the
   * wanted ones are there.
   */
  reconstruct(fragments: readonly (Uint8Array | null)[], wanted: readonly number[]): Uint8Array[];
}

/** Bytes of each fragment of a stripe of `sealedChunkBytes` cut in k: ⌈bytes / k⌉. */
export function fragmentSize(sealedChunkBytes: number, k: number): number {
  checkCount('k', k, 1, MAX_FRAGMENTS);
  if (!Number.isSafeInteger(sealedChunkBytes) || sealedChunkBytes < 0) throw invalid(`a stripe has a whole, non-negative number of bytes, not ${sealedChunkBytes}`);
  return Math.ceil(sealedChunkBytes / k);
}

/**
 * The k data fragments of a stripe, the last padded with zeros. Each is a fresh array of its
 * own (the copy costs little next to coding, and keeps the word-aligned fast path of the
 * codec whatever the fragment size).
 */
export function splitStripe(stripe: Uint8Array, k: number): Uint8Array[] {
  const size = fragmentSize(stripe.length, k);
  return Array.from({ length: k }, (_, i) => {
    const fragment = new Uint8Array(size);
    fragment.set(stripe.subarray(Math.min(stripe.length, i * size), Math.min(stripe.length, (i + 1) * size)));
    return fragment;
  });
}

/**
 * A stripe's n fragments in one buffer: fragment i at i × stride, `size` bytes long (stride is
 * size rounded up to a whole word, so that every fragment takes the codec's word loop). One
 * buffer per stripe, reused from stripe to stripe, instead of n fresh ones: a page that moves a
 * GiB of stripes leaves nothing behind for the collector (which lets dead buffers pile up to
 * tens of MiB before it looks).
 */
export interface StripeLayout {
  k: number;
  n: number;
  size: number;
  stride: number;
  /** The buffer's length: n × stride. */
  bytes: number;
}

export function stripeLayout(sealedChunkBytes: number, k: number, n: number): StripeLayout {
  checkCount('n', n, k, MAX_FRAGMENTS);
  const size = fragmentSize(sealedChunkBytes, k);
  const stride = Math.ceil(size / 4) * 4;
  return { k, n, size, stride, bytes: n * stride };
}

/** The n fragments of a buffer laid out by `layout`, as views of it. */
export function layoutFragments(slab: Uint8Array, layout: StripeLayout): Uint8Array[] {
  if (slab.byteLength < layout.bytes) throw invalid(`a stripe of ${layout.n} fragments of ${layout.size} bytes needs ${layout.bytes} bytes, not ${slab.byteLength}`);
  return Array.from({ length: layout.n }, (_, i) => slab.subarray(i * layout.stride, i * layout.stride + layout.size));
}

/** Copies a stripe into the data fragments of `slab` (the last padded with zeros): splitStripe, into a buffer of its own. */
export function splitStripeInto(stripe: Uint8Array, slab: Uint8Array, layout: StripeLayout): void {
  if (fragmentSize(stripe.length, layout.k) !== layout.size) throw invalid(`a stripe of ${stripe.length} bytes in ${layout.k} has fragments of ${fragmentSize(stripe.length, layout.k)} bytes, not ${layout.size}`);
  layoutFragments(slab, layout)
    .slice(0, layout.k)
    .forEach((fragment, i) => {
      const part = stripe.subarray(Math.min(stripe.length, i * layout.size), Math.min(stripe.length, (i + 1) * layout.size));
      fragment.set(part);
      fragment.fill(0, part.length);
    });
}

/** The stripe of `stripeBytes` bytes back from its k data fragments (padding dropped); into the start of `into` when given (a reused buffer). */
export function joinStripe(dataFragments: readonly Uint8Array[], stripeBytes: number, into?: Uint8Array): Uint8Array {
  const size = fragmentSize(stripeBytes, dataFragments.length);
  dataFragments.forEach((fragment, i) => {
    if (fragment.length !== size) throw invalid(`data fragment ${i} has ${fragment.length} bytes; a stripe of ${stripeBytes} bytes in ${dataFragments.length} has fragments of ${size}`);
  });
  if (into && into.byteLength < stripeBytes) throw invalid(`a stripe of ${stripeBytes} bytes does not fit in ${into.byteLength}`);
  const stripe = into ? into.subarray(0, stripeBytes) : new Uint8Array(stripeBytes);
  dataFragments.forEach((fragment, i) => {
    // The last fragments may hold nothing but padding (a 1-byte stripe in 4).
    const bytes = Math.min(size, stripeBytes - i * size);
    if (bytes > 0) stripe.set(fragment.subarray(0, bytes), i * size);
  });
  return stripe;
}

/** Indexes of the data fragments that are missing: none means the stripe is joined without decoding. */
export function missingDataFragments(fragments: readonly (Uint8Array | null)[], k: number): number[] {
  const missing: number[] = [];
  for (let i = 0; i < k; i++) if (!fragments[i]) missing.push(i);
  return missing;
}

export function createCodec(k: number, m: number): ErasureCodec {
  checkCount('k', k, 1, MAX_FRAGMENTS);
  checkCount('m', m, 0, MAX_FRAGMENTS);
  if (k + m > MAX_FRAGMENTS) throw invalid(`k + m is at most ${MAX_FRAGMENTS}, not ${k + m}`);
  return new Gf256Codec(k, m);
}

class Gf256Codec implements ErasureCodec {
  readonly k: number;
  readonly m: number;
  readonly #matrix: Matrix;
  readonly #inverses = new Map<string, Matrix>();

  constructor(k: number, m: number) {
    this.k = k;
    this.m = m;
    this.#matrix = encodingMatrix(k, m);
  }

  encode(dataFragments: readonly Uint8Array[]): Uint8Array[] {
    if (dataFragments.length !== this.k) throw invalid(`rs:${this.k}+${this.m} encodes ${this.k} data fragments, not ${dataFragments.length}`);
    const size = commonLength(dataFragments.map((fragment, index) => [index, fragment]));
    const parity = Array.from({ length: this.m }, () => new Uint8Array(size));
    this.encodeInto(dataFragments, parity);
    return parity;
  }

  encodeInto(dataFragments: readonly Uint8Array[], parity: readonly Uint8Array[]): void {
    if (dataFragments.length !== this.k) throw invalid(`rs:${this.k}+${this.m} encodes ${this.k} data fragments, not ${dataFragments.length}`);
    if (parity.length !== this.m) throw invalid(`rs:${this.k}+${this.m} has ${this.m} parity fragments, not ${parity.length}`);
    const size = commonLength([...dataFragments, ...parity].map((fragment, index) => [index, fragment]));
    codeShards(this.#matrix.slice(this.k), dataFragments, parity, size);
  }

  reconstruct(fragments: readonly (Uint8Array | null)[], wanted: readonly number[]): Uint8Array[] {
    const total = this.k + this.m;
    if (fragments.length !== total) throw invalid(`rs:${this.k}+${this.m} has ${total} fragments per stripe, not ${fragments.length}`);
    for (const index of wanted) if (!Number.isInteger(index) || index < 0 || index >= total) throw invalid(`no fragment ${index} in rs:${this.k}+${this.m}`);
    const presentIndexes = fragments.flatMap((fragment, index) => (fragment ? [index] : []));
    const size = commonLength(presentIndexes.map((index) => [index, fragments[index]!]));
    const missing = wanted.filter((index) => !fragments[index]);
    if (missing.length === 0) return wanted.map((index) => fragments[index]!);
    if (presentIndexes.length < this.k) {
      throw new PeercloudError('UNAVAILABLE', `rs:${this.k}+${this.m} needs ${this.k} fragments of a stripe to rebuild the others; ${presentIndexes.length} are present`);
    }
    const sources = presentIndexes.slice(0, this.k);
    // Row w of (encoding matrix × inverse of the sources' rows) turns the sources into fragment w.
    const rows = multiply(
      missing.map((index) => this.#matrix[index]!),
      this.#inverse(sources),
    );
    const rebuilt = missing.map(() => new Uint8Array(size));
    codeShards(
      rows,
      sources.map((index) => fragments[index]!),
      rebuilt,
      size,
    );
    const byIndex = new Map(missing.map((index, i) => [index, rebuilt[i]!]));
    return wanted.map((index) => fragments[index] ?? byIndex.get(index)!);
  }

  #inverse(sources: readonly number[]): Matrix {
    const key = sources.join(',');
    let inverse = this.#inverses.get(key);
    if (!inverse) {
      inverse = invert(sources.map((index) => this.#matrix[index]!));
      if (this.#inverses.size >= INVERSE_CACHE_SIZE) this.#inverses.delete(this.#inverses.keys().next().value!);
      this.#inverses.set(key, inverse);
    }
    return inverse;
  }
}

/** The length every fragment of a stripe shares; a fragment of another length is an error, not padding. */
function commonLength(fragments: readonly [index: number, fragment: Uint8Array][]): number {
  const [firstIndex, first] = fragments[0] ?? [0, new Uint8Array(0)];
  for (const [index, fragment] of fragments) {
    if (fragment.length !== first.length) throw invalid(`fragments of a stripe have one length: fragment ${index} has ${fragment.length} bytes, fragment ${firstIndex} has ${first.length}`);
  }
  return first.length;
}

function checkCount(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${name} is a whole number from ${min} to ${max}, not ${value}`);
}

function invalid(message: string): PeercloudError {
  return new PeercloudError('INVALID', message);
}
