import { describe, expect, it } from 'vitest';
import { SEAL_OVERHEAD } from '../../shared/chunking.ts';
import { createCodec, fragmentSize, joinStripe, layoutFragments, MAX_FRAGMENTS, missingDataFragments, splitStripe, splitStripeInto, stripeLayout } from '../../shared/erasure.ts';
import { PeercloudError } from '../../shared/errors.ts';
import { encodingMatrix, gfDiv, gfMul, identity, invert, multiply } from '../../shared/gf256.ts';
import { MiB } from '../../shared/units.ts';

/** Deterministic bytes that differ from stripe to stripe. */
function stripeOf(bytes: number, seed = 1): Uint8Array {
  const stripe = new Uint8Array(bytes);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    stripe[i] = x & 0xff;
  }
  return stripe;
}

function* combinations(n: number, count: number, from = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === count) yield chosen;
  else for (let i = from; i < n; i++) yield* combinations(n, count, i + 1, [...chosen, i]);
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

/** Every fragment of a stripe of `bytes` bytes under rs:k+m. */
function encoded(k: number, m: number, bytes: number, seed = 1) {
  const stripe = stripeOf(bytes, seed);
  const codec = createCodec(k, m);
  const data = splitStripe(stripe, k);
  return { stripe, codec, data, all: [...data, ...codec.encode(data)] };
}

describe('fragment size', () => {
  it.each([
    [MiB + SEAL_OVERHEAD, 4, 262148],
    [MiB + SEAL_OVERHEAD, 6, 174766],
    [MiB + SEAL_OVERHEAD, 3, 349531],
    [0, 4, 0],
    [1, 4, 1],
    [5, 4, 2],
    [8, 4, 2],
    [7, 1, 7],
  ])('%i bytes in %i → %i', (bytes, k, size) => {
    expect(fragmentSize(bytes, k)).toBe(size);
  });

  it.each([
    [-1, 4],
    [1.5, 4],
    [10, 0],
    [10, MAX_FRAGMENTS + 1],
  ])('refuses %d bytes in %d', (bytes, k) => {
    expect(() => fragmentSize(bytes, k)).toThrow(PeercloudError);
  });
});

describe('stripes split in k data fragments and joined back', () => {
  it.each([
    [0, 4],
    [1, 4],
    [1, 1],
    [3, 4],
    [1000, 3],
    [1001, 6],
    [4096, 4],
  ])('%i bytes in %i', (bytes, k) => {
    const stripe = stripeOf(bytes);
    const fragments = splitStripe(stripe, k);
    expect(fragments).toHaveLength(k);
    for (const fragment of fragments) expect(fragment.length).toBe(fragmentSize(bytes, k));
    // The padding is zeros, so every host stores the same bytes for the same stripe.
    const padded = new Uint8Array(k * fragmentSize(bytes, k));
    fragments.forEach((fragment, i) => padded.set(fragment, i * fragment.length));
    expect(padded.subarray(bytes).every((byte) => byte === 0)).toBe(true);
    expect(hex(joinStripe(fragments, bytes))).toBe(hex(stripe));
  });

  it('refuses to join fragments that do not match the stripe length', () => {
    const fragments = splitStripe(stripeOf(100), 4);
    expect(() => joinStripe(fragments, 120)).toThrow(/data fragment 0 has 25 bytes; a stripe of 120 bytes in 4 has fragments of 30/);
  });
});

describe('parity is the standard systematic Reed–Solomon code', () => {
  // Computed with the Rust reed-solomon-erasure crate 4.0.2 (wasm-reed-solomon-erasure 0.2.2),
  // itself a port of klauspost/reedsolomon and Backblaze's JavaReedSolomon: fragments written
  // by this codec can be read by those, and the other way round.
  it.each([
    [4, 2, ['00254a6f94b9de03', '284d7297bce1062b', '50759abfe4092e53', '789dc2e70c31567b'], ['a06d9e4e4f1722a3', '8822fb51dd121d8b']],
    [3, 7, ['00254a6f94', 'b9de03284d', '7297bce106'], ['cb6cf5a6df', '9025366e59', '29de7f2980', 'e297c0e0cb', '5b6c89a712', 'f0dcbc6de4', '4927f52a3d']],
    [6, 3, ['00254a6f', '94b9de03', '284d7297', 'bce1062b', '50759abf', 'e4092e53'], ['3800453d', '8c4c1101', 'ffd880fc']],
  ])('rs:%i+%i', (k, m, data, parity) => {
    expect(createCodec(k, m).encode(data.map(fromHex)).map(hex)).toEqual(parity);
  });

  it('keeps the data fragments as they are (systematic)', () => {
    const matrix = encodingMatrix(5, 3);
    expect(matrix.slice(0, 5)).toEqual(identity(5));
  });
});

describe('any m fragments lost, the others rebuild them byte for byte', () => {
  // Every loss pattern for the schemes; odd sizes take the byte loop for the tail.
  it.each([
    [4, 2, 1001],
    [3, 7, 999],
    [6, 3, 4096],
    [8, 4, 777],
  ])('rs:%i+%i, every pattern, stripe of %i bytes', (k, m, bytes) => {
    const { stripe, codec, data, all } = encoded(k, m, bytes);
    let patterns = 0;
    for (const lost of combinations(k + m, m)) {
      const fragments = all.map((fragment, i) => (lost.includes(i) ? null : fragment));
      const rebuilt = codec.reconstruct(fragments, lost);
      expect(rebuilt.map(hex)).toEqual(lost.map((i) => hex(all[i]!)));
      const dataBack = codec.reconstruct(
        fragments,
        data.map((_, i) => i),
      );
      expect(hex(joinStripe(dataBack, bytes))).toBe(hex(stripe));
      patterns++;
    }
    expect(patterns).toBeGreaterThan(0);
  });

  it('rs:10+5 and rs:20+10 on a sample of loss patterns', () => {
    for (const [k, m] of [
      [10, 5],
      [20, 10],
    ] as const) {
      const { codec, all } = encoded(k, m, 5000, k);
      let seed = 7;
      for (let sample = 0; sample < 40; sample++) {
        // A random m-subset: a seeded shuffle's first m indexes.
        const order = all.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const j = seed % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const lost = order.slice(0, m).sort((a, b) => a - b);
        const fragments = all.map((fragment, i) => (lost.includes(i) ? null : fragment));
        expect(codec.reconstruct(fragments, lost).map(hex)).toEqual(lost.map((i) => hex(all[i]!)));
      }
    }
  });

  it('a full sealed 1 MiB chunk under rs:4+2, both data fragments of a half lost', () => {
    const { stripe, codec, all } = encoded(4, 2, MiB + SEAL_OVERHEAD);
    const fragments = all.map((fragment, i) => (i === 1 || i === 2 ? null : fragment));
    const data = codec.reconstruct(fragments, [0, 1, 2, 3]);
    // Compared as Buffers: a deep equality of a million elements is slow.
    expect(Buffer.compare(joinStripe(data, stripe.length), stripe)).toBe(0);
  });

  it('reads fragments at any offset in memory (received bytes are views into larger buffers)', () => {
    const { codec, all } = encoded(4, 2, 4003);
    const backing = new Uint8Array(1 + all.length * all[0]!.length);
    const shifted = all.map((fragment, i) => {
      const view = backing.subarray(1 + i * fragment.length, 1 + (i + 1) * fragment.length);
      view.set(fragment);
      return view;
    });
    expect(codec.encode(shifted.slice(0, 4)).map(hex)).toEqual(all.slice(4).map(hex));
    const fragments = shifted.map((fragment, i) => (i === 0 || i === 3 ? null : fragment));
    expect(codec.reconstruct(fragments, [0, 3]).map(hex)).toEqual([hex(all[0]!), hex(all[3]!)]);
  });
});

describe('a stripe laid out in one reused buffer', () => {
  it.each([
    [MiB + SEAL_OVERHEAD, 4, 6, 262148, 262148],
    [MiB + SEAL_OVERHEAD, 3, 10, 349531, 349532],
    [MiB + SEAL_OVERHEAD, 6, 9, 174766, 174768],
    [0, 4, 6, 0, 0],
    [5, 4, 6, 2, 4],
  ])('%i bytes under k = %i of %i: fragments of %i bytes, %i apart (a whole word)', (bytes, k, n, size, stride) => {
    expect(stripeLayout(bytes, k, n)).toEqual({ k, n, size, stride, bytes: n * stride });
  });

  it.each([
    [4, 2, MiB + SEAL_OVERHEAD],
    [3, 7, 1000],
    [6, 3, 777],
    [4, 2, 5],
  ])('rs:%i+%i, %i bytes: the same fragments as fresh arrays, over whatever the buffer held before', (k, m, bytes) => {
    const { stripe, codec, all } = encoded(k, m, bytes, 3);
    const layout = stripeLayout(bytes, k, k + m);
    // A buffer with another stripe's bytes in it, as a reused one has.
    const slab = stripeOf(layout.bytes, 9);
    splitStripeInto(stripe, slab, layout);
    const fragments = layoutFragments(slab, layout);
    codec.encodeInto(fragments.slice(0, k), fragments.slice(k));
    expect(fragments.map(hex)).toEqual(all.map(hex));
    expect(hex(joinStripe(fragments.slice(0, k), bytes))).toBe(hex(stripe));
  });

  it('joins a stripe into the start of a larger buffer given', () => {
    const { stripe, data } = encoded(4, 2, 1001);
    const into = new Uint8Array(2000).fill(7);
    const joined = joinStripe(data, 1001, into);
    expect(joined.buffer).toBe(into.buffer);
    expect(hex(joined)).toBe(hex(stripe));
    expect(() => joinStripe(data, 1001, new Uint8Array(1000))).toThrow(/does not fit/);
  });

  it('refuses a stripe of another size, and a buffer too small', () => {
    const layout = stripeLayout(100, 4, 6);
    expect(() => splitStripeInto(new Uint8Array(120), new Uint8Array(layout.bytes), layout)).toThrow(PeercloudError);
    expect(() => layoutFragments(new Uint8Array(layout.bytes - 1), layout)).toThrow(/needs 168 bytes, not 167/);
  });
});

describe('with every data fragment present nothing is decoded', () => {
  it('says no data fragment is missing, and hands the present fragments back as they are', () => {
    const { stripe, codec, data, all } = encoded(4, 2, 1000);
    const fragments = all.map((fragment, i) => (i >= 4 ? null : fragment));
    expect(missingDataFragments(fragments, 4)).toEqual([]);
    const back = codec.reconstruct(fragments, [0, 1, 2, 3]);
    back.forEach((fragment, i) => expect(fragment).toBe(data[i]));
    expect(joinStripe(back, 1000)).toEqual(stripe);
  });

  it('names the missing data fragments otherwise', () => {
    const { all } = encoded(6, 3, 100);
    expect(missingDataFragments([null, ...all.slice(1, 4), null, ...all.slice(5)], 6)).toEqual([0, 4]);
  });
});

describe('zero-length and one-byte stripes', () => {
  it.each([0, 1])('%i byte(s) under rs:4+2 and rs:3+7', (bytes) => {
    for (const [k, m] of [
      [4, 2],
      [3, 7],
    ] as const) {
      const { stripe, codec, all } = encoded(k, m, bytes);
      for (const fragment of all) expect(fragment.length).toBe(bytes === 0 ? 0 : 1);
      const lost = Array.from({ length: m }, (_, i) => i);
      const fragments = all.map((fragment, i) => (lost.includes(i) ? null : fragment));
      const data = codec.reconstruct(
        fragments,
        Array.from({ length: k }, (_, i) => i),
      );
      expect(joinStripe(data, bytes)).toEqual(stripe);
    }
  });
});

describe('bad input is refused with a clear error', () => {
  const { codec, all } = encoded(4, 2, 100);

  it.each<[string, () => unknown, string, RegExp]>([
    ['k of 0', () => createCodec(0, 2), 'INVALID', /k is a whole number from 1 to 256, not 0/],
    ['negative m', () => createCodec(4, -1), 'INVALID', /m is a whole number/],
    ['k + m over 256', () => createCodec(200, 57), 'INVALID', /k \+ m is at most 256, not 257/],
    ['too few data fragments to encode', () => codec.encode(all.slice(0, 3)), 'INVALID', /rs:4\+2 encodes 4 data fragments, not 3/],
    ['data fragments of different lengths', () => codec.encode([...all.slice(0, 3), new Uint8Array(24)]), 'INVALID', /fragment 3 has 24 bytes, fragment 0 has 25/],
    ['a present fragment of another length', () => codec.reconstruct([null, all[1]!, all[2]!, all[3]!, all[4]!.subarray(1), all[5]!], [0]), 'INVALID', /fragment 4 has 24 bytes, fragment 1 has 25/],
    ['a stripe with the wrong number of fragments', () => codec.reconstruct(all.slice(0, 5), [0]), 'INVALID', /rs:4\+2 has 6 fragments per stripe, not 5/],
    ['a wanted fragment out of range', () => codec.reconstruct(all, [6]), 'INVALID', /no fragment 6 in rs:4\+2/],
    ['fewer than k fragments', () => codec.reconstruct([null, null, null, all[3]!, all[4]!, all[5]!], [0]), 'UNAVAILABLE', /needs 4 fragments of a stripe to rebuild the others; 3 are present/],
  ])('%s', (_, act, code, message) => {
    let error: unknown;
    try {
      act();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PeercloudError);
    expect((error as PeercloudError).code).toBe(code);
    expect((error as PeercloudError).message).toMatch(message);
  });
});

describe('GF(256)', () => {
  it('multiplication has inverses and 2 generates the field', () => {
    const seen = new Set<number>();
    let x = 1;
    for (let i = 0; i < 255; i++) {
      seen.add(x);
      x = gfMul(x, 2);
    }
    expect(seen.size).toBe(255);
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfDiv(1, a))).toBe(1);
    expect(gfMul(0, 77)).toBe(0);
  });

  it('a sub-matrix of any k rows of the encoding matrix inverts', () => {
    const matrix = encodingMatrix(3, 4);
    for (const rows of combinations(7, 3)) {
      const square = rows.map((r) => matrix[r]!);
      expect(multiply(square, invert(square))).toEqual(identity(3));
    }
  });
});
