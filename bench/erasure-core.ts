/**
 * The erasure-coding measurement itself, shared by Node (bench/erasure.ts) and the browser
 * worker (bench/erasure-worker.ts): no `node:` imports, the clock is passed in.
 *
 * A stripe is one sealed 1 MiB chunk (1 MiB + the AES-GCM tag) cut in k fragments. Encode =
 * the m parity fragments of the k data fragments; decode = rebuilding min(m, k) lost data
 * fragments from the fragments left, the worst a download meets. MB/s counts the stripe's
 * bytes (10^6 bytes per second).
 */
import { SEAL_OVERHEAD } from '../shared/chunking.ts';
import { createCodec, splitStripe } from '../shared/erasure.ts';
import { MiB } from '../shared/units.ts';

export const STRIPE_BYTES = MiB + SEAL_OVERHEAD;

/** The schemes of issue 12, and rs:4+4 and rs:4+8 that docs/DURABILITY.md proposes. */
export const BENCH_SCHEMES: readonly (readonly [k: number, m: number])[] = [
  [4, 2],
  [6, 3],
  [3, 7],
  [4, 4],
  [4, 8],
];

/** Milliseconds of the clock that counts: CPU time in Node, wall time in a browser. */
export type Clock = () => number;

export interface RateOptions {
  /** Measurement rounds; the best is reported (the machine's noise only ever slows a round down). */
  rounds: number;
  /** Clock milliseconds per round. */
  roundMs: number;
}

export interface Rates {
  /** MB/s of the fastest round. */
  best: number;
  /** MB/s of every round, in order. */
  runs: number[];
}

/**
 * MB/s of `run`, which handles `bytes` per call: a few calls to warm the JIT up, then rounds
 * of calls until `roundMs` of the clock have passed.
 */
export function measureRate(bytes: number, run: () => void, clock: Clock, options: RateOptions): Rates {
  for (let i = 0; i < 3; i++) run();
  const runs: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const start = clock();
    let calls = 0;
    let elapsed = 0;
    while (elapsed < options.roundMs) {
      run();
      calls++;
      elapsed = clock() - start;
    }
    runs.push((bytes * calls) / (elapsed / 1000) / 1e6);
  }
  return { best: Math.max(...runs), runs };
}

export interface SchemeRates {
  k: number;
  m: number;
  fragmentBytes: number;
  encode: Rates;
  decode: Rates;
}

/** A stripe of bytes that are not all alike, so a wrong table shows. */
function sampleStripe(bytes: number): Uint8Array {
  const stripe = new Uint8Array(bytes);
  let x = 0x9e3779b9;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    stripe[i] = x & 0xff;
  }
  return stripe;
}

/** Encode and decode rates of shared/erasure.ts for each scheme, checking the decoded bytes once. */
export function measureSchemes(schemes: readonly (readonly [number, number])[], clock: Clock, options: RateOptions): SchemeRates[] {
  const stripe = sampleStripe(STRIPE_BYTES);
  return schemes.map(([k, m]) => {
    const codec = createCodec(k, m);
    const data = splitStripe(stripe, k);
    const parity = codec.encode(data);
    const lost = Math.min(m, k);
    const fragments = [...data, ...parity].map((fragment, i) => (i < lost ? null : fragment));
    const wanted = Array.from({ length: lost }, (_, i) => i);
    const rebuilt = codec.reconstruct(fragments, wanted);
    rebuilt.forEach((fragment, i) => {
      if (!fragment.every((byte, b) => byte === data[i]![b])) throw new Error(`rs:${k}+${m}: fragment ${i} decoded wrong`);
    });
    return {
      k,
      m,
      fragmentBytes: data[0]!.length,
      encode: measureRate(STRIPE_BYTES, () => codec.encode(data), clock, options),
      decode: measureRate(STRIPE_BYTES, () => codec.reconstruct(fragments, wanted), clock, options),
    };
  });
}
