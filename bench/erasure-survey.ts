/**
 * The measurement behind the choice of Reed–Solomon implementation (docs/DURABILITY.md,
 * "Choosing the codec"). Not part of `npm run bench`: the candidates are not dependencies,
 * so they are installed in a scratch directory first and this script loads them from it:
 *
 *   mkdir -p /tmp/rs-survey && cd /tmp/rs-survey && npm init -y && npm install --ignore-scripts \
 *     @digitaldefiance/reed-solomon-erasure.wasm wasm-reed-solomon-erasure @typeberry/native @bnb-chain/reed-solomon
 *   flock /tmp/peercloud-e2e.lock node --import tsx bench/erasure-survey.ts /tmp/rs-survey/node_modules
 *
 * For every scheme, a stripe is one sealed 1 MiB chunk (1048592 bytes) cut in k fragments;
 * encode = the m parity fragments from the k data fragments; decode = rebuilding min(m, k)
 * lost data fragments from the others. MB/s counts the stripe's bytes (10^6 bytes) per second of
 * CPU time, best of 5 rounds.
 * Every candidate's output is checked against the hand-written control before it is timed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCodec, missingDataFragments, type ErasureCodec } from '../shared/erasure.ts';
import { measureRate } from './erasure-core.ts';

const STRIPE_BYTES = 1048592;
const SCHEMES: [number, number][] = [
  [4, 2],
  [6, 3],
  [3, 7],
];
/** CPU seconds per measurement round. */
const MIN_SECONDS = Number(process.env.SURVEY_SECONDS ?? 0.3);

/** One candidate, reduced to the two operations measured. */
interface Candidate {
  name: string;
  /** Parity fragments of `data` (k fragments of `size` bytes). */
  encode(k: number, m: number, data: Uint8Array[], size: number): Uint8Array[];
  /** The lost data fragments, in index order, rebuilt from `shards` (null = lost). */
  decode?(k: number, m: number, shards: (Uint8Array | null)[], size: number): Uint8Array[];
  /** Fragment size the implementation accepts for this stripe (some need even or 64-byte multiples). */
  size?(k: number): number;
  /** A fresh instance after a failure (a WASM trap can leave the old one's memory corrupt). */
  reset?(): void;
}

function control(): Candidate {
  const codecs = new Map<string, ErasureCodec>();
  const codec = (k: number, m: number) => {
    const key = `${k}+${m}`;
    let c = codecs.get(key);
    if (!c) codecs.set(key, (c = createCodec(k, m)));
    return c;
  };
  return {
    name: 'hand-written GF(256), shared/erasure.ts',
    encode: (k, m, data) => codec(k, m).encode(data),
    decode: (k, m, shards) =>
      codec(k, m).reconstruct(
        shards,
        missingDataFragments(shards, k),
      ),
  };
}

interface RseWasm {
  encode(shards: Uint8Array, k: number, m: number): number;
  reconstruct(shards: Uint8Array, k: number, m: number, available: boolean[]): number;
}

/** The Rust reed-solomon-erasure crate compiled to WASM; one contiguous buffer of k + m fragments. */
async function rustErasureWasm(modules: string): Promise<Candidate> {
  const dir = join(modules, '@digitaldefiance/reed-solomon-erasure.wasm/dist');
  const { ReedSolomonErasure } = await import(pathToFileURL(join(dir, 'browser.mjs')).href);
  // Its Node entry reads the file through __dirname, which ES modules lack: load the bytes here.
  const bytes = readFileSync(join(dir, 'reed_solomon_erasure_bg.wasm'));
  let rs: RseWasm = ReedSolomonErasure.fromBytes(bytes);
  return {
    name: '@digitaldefiance/reed-solomon-erasure.wasm 1.0.2',
    reset: () => (rs = ReedSolomonErasure.fromBytes(bytes)),
    encode(k, m, data, size) {
      const buffer = new Uint8Array(size * (k + m));
      data.forEach((shard, i) => buffer.set(shard, i * size));
      const code = rs.encode(buffer, k, m);
      if (code !== 0) throw new Error(`encode: ${code}`);
      return Array.from({ length: m }, (_, i) => buffer.subarray((k + i) * size, (k + i + 1) * size));
    },
    decode(k, m, shards, size) {
      const buffer = new Uint8Array(size * (k + m));
      shards.forEach((shard, i) => shard && buffer.set(shard, i * size));
      const code = rs.reconstruct(
        buffer,
        k,
        m,
        shards.map((s) => s !== null),
      );
      if (code !== 0) throw new Error(`reconstruct: ${code}`);
      return [...Array(k).keys()].filter((i) => !shards[i]).map((i) => buffer.subarray(i * size, (i + 1) * size));
    },
  };
}

/** Same Rust crate through wasm-bindgen's Node-only glue (wasm-pack --target nodejs). */
function reudWasm(modules: string): Candidate {
  const require = createRequire(join(modules, 'x.js'));
  const lib = require('wasm-reed-solomon-erasure') as {
    encode(data: Uint8Array[], m: number): Uint8Array[];
    reconstruct(shards: Uint8Array[], m: number, dead: Uint32Array): Uint8Array[];
  };
  return {
    name: 'wasm-reed-solomon-erasure 0.2.2 (Node only)',
    encode: (k, m, data) => lib.encode(data, m).slice(k),
    decode(k, m, shards, size) {
      const dead = shards.flatMap((s, i) => (s ? [] : [i]));
      const all = lib.reconstruct(
        shards.map((s) => s ?? new Uint8Array(size)),
        m,
        new Uint32Array(dead),
      );
      return dead.filter((i) => i < k).map((i) => all[i]!);
    },
  };
}

interface ShardsCollection {
  take_data(): Uint8Array;
  take_indices(): Uint16Array | undefined;
}

/**
 * reed-solomon-simd (Leopard, GF(2^16)) compiled to WASM, shipped inside @typeberry/native.
 * Its ShardsCollection keeps the fragment length in 16 bits, so a fragment is coded in
 * pieces of at most SEGMENT bytes (a multiple of 64, as reed-solomon-simd 2 requires).
 */
async function leopardWasm(modules: string): Promise<Candidate> {
  const SEGMENT = 65472;
  const lib = await import(pathToFileURL(join(modules, '@typeberry/native/index.js')).href);
  await lib.init.reedSolomon();
  const { ShardsCollection, encode, decode } = lib.reedSolomon as {
    ShardsCollection: new (shardLen: number, data: Uint8Array, indices?: Uint16Array | null) => ShardsCollection;
    encode(m: number, shards: ShardsCollection): ShardsCollection;
    decode(k: number, m: number, shards: ShardsCollection): ShardsCollection;
  };
  return {
    name: '@typeberry/native 0.5.1 (reed-solomon-simd, WASM)',
    size: (k) => Math.ceil(Math.ceil(STRIPE_BYTES / k) / 64) * 64,
    encode(k, m, data, size) {
      const parity = Array.from({ length: m }, () => new Uint8Array(size));
      for (let start = 0; start < size; start += SEGMENT) {
        const len = Math.min(SEGMENT, size - start);
        const joined = new Uint8Array(len * k);
        data.forEach((shard, i) => joined.set(shard.subarray(start, start + len), i * len));
        const out = encode(m, new ShardsCollection(len, joined)).take_data();
        parity.forEach((p, i) => p.set(out.subarray(i * len, (i + 1) * len), start));
      }
      return parity;
    },
    decode(k, m, shards, size) {
      const indices: number[] = [];
      shards.forEach((s, i) => s && indices.length < k && indices.push(i));
      const lost = [...Array(k).keys()].filter((i) => !shards[i]);
      const rebuilt = lost.map(() => new Uint8Array(size));
      for (let start = 0; start < size; start += SEGMENT) {
        const len = Math.min(SEGMENT, size - start);
        const joined = new Uint8Array(len * k);
        indices.forEach((index, i) => joined.set(shards[index]!.subarray(start, start + len), i * len));
        const restored = decode(k, m, new ShardsCollection(len, joined, Uint16Array.from(indices)));
        const order = [...(restored.take_indices() ?? [])];
        const out = restored.take_data();
        lost.forEach((index, j) => rebuilt[j]!.set(out.subarray(order.indexOf(index) * len, (order.indexOf(index) + 1) * len), start));
      }
      return rebuilt;
    },
  };
}

/** Greenfield's pure-JS port of klauspost/reedsolomon: encoding only, GPL-3.0. */
function bnbJs(modules: string): Candidate {
  const require = createRequire(join(modules, 'x.js'));
  const { ReedSolomon } = require('@bnb-chain/reed-solomon') as {
    ReedSolomon: new (k: number, m: number, segment: number) => { encodeSegment(data: Uint8Array): Uint8Array[] };
  };
  return {
    name: '@bnb-chain/reed-solomon 1.1.4 (pure JS, encode only)',
    encode(k, m, data, size) {
      const joined = new Uint8Array(size * k);
      data.forEach((shard, i) => joined.set(shard, i * size));
      return new ReedSolomon(k, m, 16 * 1024 * 1024).encodeSegment(joined).slice(k);
    },
  };
}

/** Every combination of `count` indexes among `n`. */
function* combinations(n: number, count: number, from = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === count) yield chosen;
  else for (let i = from; i < n; i++) yield* combinations(n, count, i + 1, [...chosen, i]);
}

/**
 * Loses every combination of m fragments of a small stripe and checks the data comes back
 * byte-identical: the number of patterns that failed (wrong bytes or an exception).
 */
function failedLossPatterns(candidate: Candidate, k: number, m: number): { failed: number; total: number; first?: string } {
  const size = 1024;
  const data = Array.from({ length: k }, (_, i) => Uint8Array.from({ length: size }, (_, b) => (b * 131 + i * 71 + 5) & 0xff));
  const all = [...data, ...candidate.encode(k, m, data, size)];
  let failed = 0;
  let total = 0;
  let first: string | undefined;
  for (const lost of combinations(k + m, m)) {
    total++;
    const shards = all.map((shard, i) => (lost.includes(i) ? null : shard));
    try {
      const rebuilt = candidate.decode!(k, m, shards, size);
      const lostData = lost.filter((i) => i < k);
      if (rebuilt.length !== lostData.length || !rebuilt.every((shard, j) => equal(shard, data[lostData[j]!]!))) throw new Error('wrong bytes');
    } catch (error) {
      failed++;
      first ??= `lost ${lost.join(',')}: ${(error as Error).message.split('\n')[0]}`;
      candidate.reset?.();
    }
  }
  return { failed, total, ...(first ? { first } : {}) };
}

/**
 * MB per second of this process's CPU time (user + system), best of 5 rounds, as
 * bench/erasure.ts measures: the machine's two cores are shared with other work, which
 * inflates wall-clock times by a varying factor but CPU time much less.
 */
function mbPerSecond(bytes: number, run: () => void): number {
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  return measureRate(bytes, run, cpuMs, { rounds: 5, roundMs: MIN_SECONDS * 1000 }).best;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

async function main(): Promise<void> {
  const modules = process.argv[2];
  if (!modules) throw new Error('usage: node --import tsx bench/erasure-survey.ts <node_modules of the candidates>');
  const candidates: Candidate[] = [control()];
  for (const load of [rustErasureWasm, reudWasm, leopardWasm, bnbJs]) {
    try {
      candidates.push(await load(modules));
    } catch (error) {
      console.error(`skipped ${load.name}: ${(error as Error).message}`);
    }
  }
  const reference = candidates[0]!;
  const rows: string[] = [];
  for (const [k, m] of SCHEMES) {
    for (const candidate of candidates) {
      const size = candidate.size?.(k) ?? Math.ceil(STRIPE_BYTES / k);
      const data = Array.from({ length: k }, (_, i) => Uint8Array.from({ length: size }, (_, b) => (b * 31 + i * 17 + (b >> 8)) & 0xff));
      const parity = candidate.encode(k, m, data, size);
      const expected = reference.encode(k, m, data, size);
      const sameParity = parity.every((p, i) => equal(p, expected[i]!));
      const encodeRate = mbPerSecond(k * size, () => candidate.encode(k, m, data, size));
      let decodeCell = '—';
      let sweepCell = '—';
      if (candidate.decode) {
        const sweep = failedLossPatterns(candidate, k, m);
        sweepCell = sweep.failed === 0 ? `all ${sweep.total}` : `${sweep.failed} of ${sweep.total} FAIL (${sweep.first})`;
        // Timed on the first loss pattern that works: min(m, k) data fragments lost, or fewer.
        const lost = Math.min(m, k);
        const shards: (Uint8Array | null)[] = [...data, ...parity].map((s, i) => (i < lost ? null : s));
        try {
          const rebuilt = candidate.decode(k, m, shards, size);
          if (!rebuilt.every((shard, i) => equal(shard, data[i]!))) throw new Error('wrong bytes');
          decodeCell = mbPerSecond(k * size, () => candidate.decode!(k, m, shards, size)).toFixed(0);
        } catch (error) {
          candidate.reset?.();
          decodeCell = `fails: ${(error as Error).message.split('\n')[0]}`;
        }
      }
      const row = `| rs:${k}+${m} | ${candidate.name} | ${size} | ${encodeRate.toFixed(0)} | ${decodeCell} | ${sameParity ? 'yes' : 'no'} | ${sweepCell} |`;
      console.log(row);
      rows.push(row);
    }
  }
  console.log(
    ['', '| scheme | implementation | fragment bytes | encode MB/s | decode MB/s | parity = control | loss patterns of m decoded |', '| --- | --- | ---: | ---: | ---: | --- | --- |', ...rows].join('\n'),
  );
}

await main();
