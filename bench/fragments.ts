/**
 * Fragments (issue 12) against whole copies, in one run: two clouds, each its own tracker (real
 * SQLite, real Socket.IO) with its own peers, each peer a headless Chromium of its own with its
 * profile on disk (bench/peer-tabs.ts `openPersistentPeer`), driven as a person would
 * (choose a file, click Download): REDUNDANCY=replicate:1 with one host, the baseline, and
 * REDUNDANCY=rs:K+M (BENCH_FRAGMENT_SCHEME, default rs:4+2) with K+M hosts. Every run measures,
 * in turn, a raw RTCDataChannel (bench/baseline.ts), and an upload then a download of the same
 * file in each cloud (which cloud goes first alternates between runs); ratios are per run.
 * Then the erasure coder's MB/s in Node and in a browser worker (bench/erasure.ts), and the
 * memory of every page during a large fragment upload and download.
 *
 * `npm run bench` runs it after the main section (BENCH_FRAGMENTS=0 skips it);
 * `BENCH_ONLY=fragments npm run bench` runs only it and rewrites only the "Fragments" section of
 * docs/BENCHMARKS.md. BENCH_FRAGMENT_MIB (default 256), BENCH_FRAGMENT_RUNS (default 3) and
 * BENCH_FRAGMENT_MEMORY_MIB (default 1024; 0 skips it) size it; ERASURE_ROUNDS and
 * ERASURE_ROUND_MS the coder's measurement; BENCH_FRAGMENT_STALLED_S (600, or longer for a large file) how long an upload may take before the
 * benchmark gives up and shows what the owner's page says. BENCH_MEMORY_TRACE=<file> appends the
 * owner's every memory sample there (JSON lines), and what is left of its heap after a collection
 * at the end of each transfer: the curve behind a peak, and how much of it was garbage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import { loadConfig } from '../server/config.ts';
import { migrate, openDatabase } from '../server/db/database.ts';
import { silentLogger } from '../server/logger.ts';
import { createTracker } from '../server/tracker.ts';
import { systemClock } from '../server/clock.ts';
import { parseScheme, type Scheme } from '../shared/redundancy.ts';
import { MiB } from '../shared/units.ts';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from '../tests/support/chromium.ts';
import { measureBaseline } from './baseline.ts';
import { CpuMeter, cpuBetween } from './cpu.ts';
import { erasureTable, measureErasureInChromium, measureErasureInNode } from './erasure.ts';
import type { SchemeRates } from './erasure-core.ts';
import { closePeer, offer, openPersistentPeer, processesObservable, timeDownload, timeUpload, traceMemory, watchHeaps, watchPeerMemory, writeRandomFile, type HeapGrowth, type PeerMemory, type PeerTab } from './peer-tabs.ts';
import { PROCESS_KINDS } from './process-kind.ts';
import { machineInfo, median, wholeNumberEnv } from './report.ts';

export interface FragmentBenchOptions {
  /** The fragment scheme measured, "rs:K+M". */
  scheme: string;
  mebibytes: number;
  runs: number;
  /** The size of the memory measurement; 0 skips it. */
  memoryMebibytes: number;
}

/** The fragment scheme the fragments benches measure: BENCH_FRAGMENT_SCHEME, rs:K+M with K ≥ 2 (rs:4+2 by default). */
export function benchFragmentScheme(env: NodeJS.ProcessEnv = process.env): string {
  const scheme = env.BENCH_FRAGMENT_SCHEME ?? 'rs:4+2';
  const parsed = parseScheme(scheme);
  if (!parsed || parsed.k < 2) throw new Error(`BENCH_FRAGMENT_SCHEME must be rs:K+M (got "${scheme}")`);
  return scheme;
}

export function fragmentBenchOptions(): FragmentBenchOptions {
  return {
    scheme: benchFragmentScheme(),
    mebibytes: wholeNumberEnv('BENCH_FRAGMENT_MIB', 256),
    runs: wholeNumberEnv('BENCH_FRAGMENT_RUNS', 3),
    memoryMebibytes: wholeNumberEnv('BENCH_FRAGMENT_MEMORY_MIB', 1024, 0),
  };
}

/**
 * Hosts here are newcomers, credited by default with 256 MiB until they prove more
 * (NEWCOMER_SPACE), less than a 256 MiB file's sealed copy, and an owner may keep 1 GiB
 * (OWNER_ALLOWANCE) beyond what it lends. The benchmarks measure transfers, not these
 * policies: hosts are credited with what they offer, owners with what they upload.
 */
export const BENCH_SPACE_POLICY = { NEWCOMER_SPACE: '1TiB', OWNER_ALLOWANCE: '1TiB' } as const;

/** One tracker and its peers, each a browser of its own: an owner that offers nothing and `scheme.n` hosts. */
export interface Cloud {
  redundancy: string;
  scheme: Scheme;
  url: string;
  owner: PeerTab;
  hosts: PeerTab[];
  /** Distinct fragments of the file `name` that hosts have stored and the tracker counts. */
  storedFragments(name: string): Promise<number>;
  close(): Promise<void>;
}

/** `webRoot`: the build of the page its tracker serves (another one for an A/B of two builds, bench/upload-memory.ts). */
export async function openCloud(redundancy: string, offerMiB: number, webRoot = 'dist/web'): Promise<Cloud> {
  const scheme = parseScheme(redundancy)!;
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-fragbench-'));
  const config = loadConfig({ DB_PATH: join(dir, 'tracker.db'), WEB_ROOT: webRoot, REDUNDANCY: redundancy, TRANSFER_IDLE_TIMEOUT: '60s', LOG_LEVEL: 'warn', ...BENCH_SPACE_POLICY });
  const database = openDatabase(config);
  await migrate(database.db);
  const tracker = createTracker({ db: database.db, clock: systemClock, config, log: silentLogger });
  const { url } = await tracker.listen(0, '127.0.0.1');
  const tabs: PeerTab[] = [];
  const close = async () => {
    await Promise.all(tabs.map(closePeer));
    await tracker.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A browser of its own per peer, its profile on disk (bench/peer-tabs.ts says why).
    const owner = await openPersistentPeer(url);
    tabs.push(owner);
    const hosts: PeerTab[] = [];
    for (let i = 0; i < scheme.n; i++) {
      const host = await openPersistentPeer(url);
      tabs.push(host);
      await offer(host.page, offerMiB);
      hosts.push(host);
    }
    return {
      redundancy,
      scheme,
      url,
      owner,
      hosts,
      async storedFragments(name) {
        const rows = await database.db
          .selectFrom('files')
          .innerJoin('replicas', 'replicas.file_id', 'files.id')
          .select('replicas.fragment')
          .where('files.name', '=', name)
          .where('replicas.state', '=', 'stored')
          .where('replicas.retired_at', 'is', null)
          .execute();
        return new Set(rows.map((row) => row.fragment)).size;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * How long an upload of `bytes` may take before the benchmark gives up: BENCH_FRAGMENT_STALLED_S,
 * else 600 s or 0.5 MB/s, whichever is longer. A flat 600 s ended a 1 GiB upload that was moving
 * at about 1 MB/s on the loaded machine (its fastest host had all of its fragment after 8 minutes).
 */
function stalledMs(bytes: number): number {
  return wholeNumberEnv('BENCH_FRAGMENT_STALLED_S', Math.max(600, Math.ceil(bytes / 0.5e6))) * 1000;
}

interface Transfer {
  seconds: number;
  mbps: number;
  /** CPU of every Chromium process of this benchmark and of Node, per MB moved. */
  cpuMsPerMB: number;
}

interface Download extends Transfer {
  firstByteMs: number;
}

/** Upload until every fragment (or the one copy) is stored and verified, as the tracker records it. */
async function upload(cloud: Cloud, meter: CpuMeter, path: string, name: string, bytes: number): Promise<Transfer> {
  const before = meter.now();
  const started = performance.now();
  const mbps = await timeUpload(cloud.owner.page, path, name, bytes, async () => {
    if ((await cloud.storedFragments(name)) >= cloud.scheme.n) return true;
    // A stalled upload says why on the page: better shown than waited on for ever.
    if (performance.now() - started > stalledMs(bytes)) throw new Error(`${cloud.redundancy}: ${name} not stored after ${Math.round(stalledMs(bytes) / 1000)} s; the owner's page says:\n${(await cloud.owner.page.locator('main').innerText()).slice(0, 3000)}`);
    return false;
  });
  const cpu = cpuBetween(before, meter.now());
  return { mbps, seconds: bytes / 1e6 / mbps, cpuMsPerMB: cpu.totalMs / (bytes / 1e6) };
}

/** Download until the browser saved it all; the saved file must be byte-identical (SHA-256). */
async function download(cloud: Cloud, meter: CpuMeter, name: string, bytes: number, sha256: string): Promise<Download> {
  const before = meter.now();
  const { mbps, firstByteMs } = await timeDownload(cloud.owner.page, name, bytes, { sha256 });
  const cpu = cpuBetween(before, meter.now());
  return { mbps, firstByteMs, seconds: bytes / 1e6 / mbps, cpuMsPerMB: cpu.totalMs / (bytes / 1e6) };
}

/** The memory of every peer during one transfer: the owner's, and the largest of the hosts'. */
interface MemoryFigures {
  mbps: number;
  owner: HeapGrowth;
  hosts: HeapGrowth;
  /** Each peer's resident growth (owner first), from /proc; undefined figures without it. */
  processes: PeerMemory[];
}

async function measureMemory(cloud: Cloud, transfer: () => Promise<Transfer>): Promise<MemoryFigures> {
  const peers = [cloud.owner, ...cloud.hosts];
  const stopHeaps = await watchHeaps(peers);
  const stopProcesses = watchPeerMemory(processesObservable ? peers : []);
  let mbps: number;
  try {
    ({ mbps } = await transfer());
  } catch (error) {
    // A failed transfer must not leave the samplers running; its own error is the one to report.
    await stopHeaps().catch(() => undefined);
    await stopProcesses();
    throw error;
  }
  const heaps = await stopHeaps();
  const processes = await stopProcesses();
  const hostHeaps = heaps.slice(1);
  return {
    mbps,
    owner: heaps[0]!,
    hosts: { heap: Math.max(...hostHeaps.map((growth) => growth.heap)), withBuffers: largest(hostHeaps.map((growth) => growth.withBuffers)) },
    processes,
  };
}

/** The largest of figures that are all known, else undefined. */
function largest(values: (number | undefined)[]): number | undefined {
  return values.length === 0 || values.some((value) => value === undefined) ? undefined : Math.max(...(values as number[]));
}

export interface FragmentResults {
  machine: ReturnType<typeof machineInfo>;
  options: FragmentBenchOptions;
  k: number;
  n: number;
  raw: number[];
  /** The machine's 1-minute load average as each run began. */
  load: number[];
  replicate: { upload: Transfer[]; download: Download[] };
  fragments: { upload: Transfer[]; download: Download[] };
  erasure: { node: SchemeRates[]; chromium: SchemeRates[] };
  memory?: { upload: MemoryFigures; download: MemoryFigures } | undefined;
  /** Why the memory measurement has no figures, when it failed. */
  memoryError?: string | undefined;
}

export async function measureFragments(options: FragmentBenchOptions): Promise<FragmentResults> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_HELP);
  const scheme = parseScheme(options.scheme)!;
  const bytes = options.mebibytes * MiB;
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const meter = new CpuMeter();
  meter.start();
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-fragbench-files-'));
  const clouds: Cloud[] = [];
  try {
    console.log('Fragments: the erasure coder, in Node and in a worker of Chromium…');
    const erasure = { node: measureErasureInNode(), chromium: await measureErasureInChromium(browser) };

    // Every run's file stays stored (no deletes to wait out): hosts offer room for all of them.
    const replicate = await openCloud('replicate:1', Math.ceil(options.mebibytes * options.runs * 1.1) + 64);
    clouds.push(replicate);
    const fragments = await openCloud(options.scheme, Math.ceil(((options.mebibytes * options.runs + options.memoryMebibytes) / scheme.k) * 1.1) + 64);
    clouds.push(fragments);

    const path = join(dir, 'fragbench.bin');
    const sha256 = await writeRandomFile(path, bytes);
    const results: FragmentResults = {
      machine: machineInfo(browser.version()),
      options,
      k: scheme.k,
      n: scheme.n,
      raw: [],
      load: [],
      replicate: { upload: [], download: [] },
      fragments: { upload: [], download: [] },
      erasure,
    };
    for (let run = 0; run < options.runs; run++) {
      results.load.push(loadavg()[0]!);
      const raw = await measureBaseline(browser, replicate.url, bytes);
      results.raw.push(raw);
      console.log(`Fragments, ${options.mebibytes} MiB, run ${run + 1}/${options.runs}: raw channel ${raw.toFixed(1)} MB/s`);
      // Alternating which cloud goes first: the machine's speed drifts within a run too.
      const order = run % 2 === 0 ? [replicate, fragments] : [fragments, replicate];
      for (const cloud of order) {
        const figures = cloud === replicate ? results.replicate : results.fragments;
        const name = `fragbench-${cloud.scheme.k}-${run}.bin`;
        const up = await upload(cloud, meter, path, name, bytes);
        const down = await download(cloud, meter, name, bytes, sha256);
        figures.upload.push(up);
        figures.download.push(down);
        console.log(`  ${cloud.redundancy}: upload ${up.seconds.toFixed(1)} s (${up.mbps.toFixed(1)} MB/s), download ${down.seconds.toFixed(1)} s (${down.mbps.toFixed(1)} MB/s)`);
      }
    }
    rmSync(path, { force: true });

    if (options.memoryMebibytes > 0) {
      const size = options.memoryMebibytes * MiB;
      const big = join(dir, 'fragbench-memory.bin');
      const bigSha = await writeRandomFile(big, size);
      const name = `fragbench-memory-${options.memoryMebibytes}.bin`;
      console.log(`Fragments: memory of every page during a ${options.memoryMebibytes} MiB ${options.scheme} upload and download…`);
      // The timed runs above stand on their own: a failure here is reported, not fatal.
      try {
        traceMemory({ what: 'upload' });
        const up = await measureMemory(fragments, () => upload(fragments, meter, big, name, size));
        traceMemory({ what: 'download' });
        const down = await measureMemory(fragments, () => download(fragments, meter, name, size, bigSha));
        traceMemory({ what: 'end' });
        results.memory = { upload: up, download: down };
        console.log(`  upload ${up.mbps.toFixed(1)} MB/s, download ${down.mbps.toFixed(1)} MB/s; owner heap +${(up.owner.heap / MiB).toFixed(1)} / +${(down.owner.heap / MiB).toFixed(1)} MiB`);
      } catch (error) {
        results.memoryError = String(error instanceof Error ? error.message : error).split('\n')[0]!;
        console.warn(`Fragments: the memory measurement failed: ${results.memoryError}`);
      }
      rmSync(big, { force: true });
    }
    return results;
  } finally {
    meter.stop();
    for (const cloud of clouds) await cloud.close();
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const MEMORY_GOAL = 64 * MiB;

const one = (value: number) => (Number.isFinite(value) ? (Math.round(value * 10) / 10).toString() : 'n/a');
const mib = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : `${one(bytes / MiB)} MiB`);

/** Median over runs of fragments' figure ÷ replicate's figure, run by run. */
function ratio(fragments: number[], replicate: number[]): number {
  return median(fragments.map((value, run) => value / replicate[run]!));
}

function cell(transfers: Transfer[]): string {
  return `${one(median(transfers.map((t) => t.seconds)))} s (${transfers.map((t) => one(t.seconds)).join(' / ')}); ${one(median(transfers.map((t) => t.mbps)))} MB/s`;
}

/** The "Fragments" section of docs/BENCHMARKS.md: the figures, and what they say against the goals. */
export function fragmentsSection(results: FragmentResults): string {
  const { options, k, n, machine } = results;
  const rs = options.scheme;
  const rep = results.replicate;
  const frag = results.fragments;
  const seconds = (transfers: Transfer[]) => transfers.map((t) => t.seconds);
  const cpu = (transfers: Transfer[]) => transfers.map((t) => t.cpuMsPerMB);
  const downRatio = ratio(seconds(frag.download), seconds(rep.download));
  const upRatio = ratio(seconds(frag.upload), seconds(rep.upload));
  const raw = median(results.raw);
  const rows = [
    `| download | ${cell(rep.download)} | ${cell(frag.download)} | ${one(downRatio)} |`,
    `| upload | ${cell(rep.upload)} | ${cell(frag.upload)} | ${one(upRatio)} |`,
    `| download, time to first byte | ${one(median(rep.download.map((d) => d.firstByteMs)))} ms | ${one(median(frag.download.map((d) => d.firstByteMs)))} ms | |`,
    `| download, CPU per MB | ${one(median(cpu(rep.download)))} ms/MB | ${one(median(cpu(frag.download)))} ms/MB | ${one(ratio(cpu(frag.download), cpu(rep.download)))} |`,
    `| upload, CPU per MB | ${one(median(cpu(rep.upload)))} ms/MB | ${one(median(cpu(frag.upload)))} ms/MB | ${one(ratio(cpu(frag.upload), cpu(rep.upload)))} |`,
  ];
  const upOverRaw = (transfers: Transfer[]) => one(ratio(transfers.map((t) => t.mbps), results.raw));

  const cpuBound = `All tabs share one machine's two cores and the channel is CPU-bound (see "What limits throughput here"): ${k} channels at once cost about the same CPU per MB as one (the CPU rows above), so they share one ceiling. The parallel-k advantage needs links slower than the CPU: hosts on separate machines behind home uplinks (see "Shaped links").`;
  const parallel =
    downRatio <= (1.25 * 1) / k
      ? `the ${k} hosts add up: the download took ${one(downRatio)} × the single host's time.`
      : downRatio < 0.75
        ? `the ${k} hosts add up only in part: the download took ${one(downRatio)} × the single host's time, not the 1/${k} that ${k} independent links would give. ${cpuBound}`
        : `the ${k} hosts do not add up here: the download took ${one(downRatio)} × the single host's time, where ${k} independent links would give 1/${k}. ${cpuBound}`;
  const encoding = `it sends ${one(n / k)} × the file's bytes under ${rs} (${n} fragments of 1/${k}) against 1 × for one copy, plus encoding; it took ${one(upRatio)} × replicate:1's time. As a share of the raw channel's MB/s in the same run: replicate:1 ${upOverRaw(rep.upload)}, ${rs} ${upOverRaw(frag.upload)} (file bytes per second; ${rs} puts ${one(n / k)} × as many on the wire).`;

  let memory = results.memoryError
    ? `**Failed** in this run, ${options.memoryMebibytes} MiB under ${rs}: ${results.memoryError}. No figures: the goal is unproven.`
    : `Not measured in this run (BENCH_FRAGMENT_MEMORY_MIB=0).`;
  if (results.memory) {
    const { upload: up, download: down } = results.memory;
    const owner = (m: MemoryFigures) => m.processes[0] ?? { renderer: undefined, browser: undefined, rendererBase: undefined, browserBase: undefined };
    const hostsLargest = (m: MemoryFigures, pick: (p: PeerMemory) => number | undefined) => largest(m.processes.slice(1).map(pick));
    const row = (label: string, m: MemoryFigures) =>
      `| ${label} | ${one(m.mbps)} | ${mib(m.owner.heap)} | ${mib(m.owner.withBuffers)} | ${mib(owner(m).renderer)} | ${mib(owner(m).browser)} | ${mib(m.hosts.heap)} | ${mib(m.hosts.withBuffers)} | ${mib(hostsLargest(m, (p) => p.renderer))} | ${mib(hostsLargest(m, (p) => p.browser))} |`;
    const worstOf = (pick: (m: MemoryFigures) => (number | undefined)[]) => {
      const values = [up, down].flatMap(pick).filter((value): value is number => value !== undefined);
      return values.length > 0 ? Math.max(...values) : undefined;
    };
    // The goal is per page: what one Peercloud tab costs, its renderer process (its heaps, buffers,
    // workers and WebRTC's stacks; the heap figures are parts of it). The whole browser is judged
    // too, counted by proportional set size: Chromium's services grow on the page's behalf
    // (the browser process writes a host's IndexedDB blobs), and a person pays for them.
    const measures: [string, number | undefined][] = [
      ['JS heap', worstOf((m) => [m.owner.heap, m.hosts.heap])],
      ['JS heap + ArrayBuffers', worstOf((m) => [m.owner.withBuffers, m.hosts.withBuffers])],
      ['renderer process (the page)', worstOf((m) => m.processes.map((p) => p.renderer))],
      ["a peer's whole browser, each page counted once", worstOf((m) => m.processes.map((p) => p.browserPss))],
    ];
    const said = measures.filter(([, bytes]) => bytes !== undefined).map(([label, bytes]) => `${label} at most +${mib(bytes)} (${bytes! <= MEMORY_GOAL ? 'goal met' : '**goal missed**'})`);
    const worst = Math.max(...measures.map(([, bytes]) => bytes ?? 0));
    const wholeRss = worstOf((m) => m.processes.map((p) => p.browser));
    // Where a whole browser's growth is: the owner's, and the host whose browser grew most, by kind of process.
    const kindsRow = (label: string, memory: PeerMemory | undefined) =>
      memory?.kinds ? `| ${label} | ${mib(memory.browserPss)} | ${PROCESS_KINDS.map((kind) => mib(memory.kinds![kind])).join(' | ')} |` : undefined;
    const largestHost = (m: MemoryFigures) => m.processes.slice(1).reduce<PeerMemory | undefined>((best, p) => ((p.browserPss ?? -Infinity) > (best?.browserPss ?? -Infinity) ? p : best), undefined);
    const kindRows = [
      kindsRow('upload, owner', owner(up)),
      kindsRow('upload, host that grew most', largestHost(up)),
      kindsRow('download, owner', owner(down)),
      kindsRow('download, host that grew most', largestHost(down)),
    ].filter((row): row is string => row !== undefined);
    const kindsTable =
      kindRows.length === 0
        ? ''
        : `

Where each peer's whole browser grew, by process (proportional set sizes, each page counted once; each column its own peak, so they need not add up to the total):

| ${options.memoryMebibytes} MiB | whole browser | browser process | renderer (the page) | network service | storage service (IndexedDB) | GPU | other |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${kindRows.join('\n')}`;
    const bases = (pick: (p: PeerMemory) => number | undefined) => {
      const values = up.processes.map(pick).filter((value): value is number => value !== undefined);
      return values.length > 0 ? `${mib(Math.min(...values))}–${mib(Math.max(...values))}` : 'n/a';
    };
    memory = `${options.memoryMebibytes} MiB under ${rs}, one upload and one download, owner and ${n} hosts sampled twice a second (proportional set sizes every 2 s): peak growth above each one's level before the transfer. Each peer is a browser of its own with its profile on disk, as a person's is (its IndexedDB in files; an incognito context keeps IndexedDB in the browser's memory). "JS heap" is V8's main-thread heap; "+ ArrayBuffers" adds the backing stores where a transfer's bytes live (DevTools' \`Runtime.getHeapUsage\`); "renderer" is the resident memory of the peer's renderer process (from \`/proc\`): the page with its workers (the erasure coder, the download writer) and Blink's and WebRTC's own buffers, the page's whole cost and the goal's measure; "browser" is all the processes of the peer's browser together (the renderer, the browser process, the network service through which WebRTC's UDP and the tracker's WebSocket pass, the storage service that keeps IndexedDB…), a sum of resident sizes: Chromium's code counts once per process that touched it. Resident before the upload: renderers ${bases((p) => p.rendererBase)}, whole browsers ${bases((p) => p.browserBase)}.

| ${options.memoryMebibytes} MiB | MB/s | owner JS heap | owner + ArrayBuffers | owner renderer | owner browser | hosts' JS heap, largest | hosts + ArrayBuffers, largest | hosts' renderer, largest | hosts' browser, largest |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${row('upload', up)}
${row('download', down)}

Goal ≤ 64 MiB per page above its level before the transfer: ${said.join('; ')}.${worst > MEMORY_GOAL ? ' A measure over the goal is a miss, whatever the others say.' : ''}${options.memoryMebibytes < 1024 ? ` Measured with ${options.memoryMebibytes} MiB, not the 1 GiB of the goal.` : ''} A sum of the whole browser's resident sizes reads at most +${mib(wholeRss)}: it counts a page shared by several processes once in each (Chromium's code as each process reads it in, a shared-memory buffer at both its ends), which is why the proportional size is the measure.${kindsTable}`;
  }

  return `## Fragments

Files as erasure-coded fragments (\`REDUNDANCY=${rs}\`, issue 12) against one whole copy
(\`REDUNDANCY=replicate:1\`), in the same run: two trackers, each with its own peers, each peer a
headless Chromium of its own with its profile on disk: for replicate:1 an owner and one host, for
${rs} an owner and ${n} hosts; the same private network namespace as above, so every channel crosses the same veth and
the same two cores. ${options.runs === 1 ? 'One run' : `Each of ${options.runs} runs`} measures a raw RTCDataChannel (the baseline above),
then, in each cloud, an upload and a download of the same ${options.mebibytes} MiB of random bytes
(which cloud goes first alternates). Upload: from choosing the file until the tracker records
all of its fragments (or its copy) stored and verified by their hosts. Download: from clicking
Download until the browser saved the whole file, read from ${k} hosts at once under ${rs}; each
saved file is checked byte-identical (SHA-256) after the clock stops. Time ratio: ${rs}'s time
÷ replicate:1's, median of each run's own ratio (below 1: fragments faster). Cells: median
seconds (every run); median MB/s of file bytes (10^6 bytes per second).

- Date: ${machine.date}
- Machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.os}; Node ${machine.node}, Chromium ${machine.chromium}
- Raw channel in the same runs: ${one(raw)} MB/s (${results.raw.map(one).join(' / ')})

| ${options.mebibytes} MiB | replicate:1, one host | ${rs}, ${k} of ${n} hosts read | time ratio |
| --- | --- | --- | ---: |
${rows.join('\n')}

- Download from ${k} hosts in parallel: ${parallel}
- Upload: ${encoding}
- The machine's load average at the start of each run: ${results.load.map(one).join(' / ')} (2 cores, shared with other engineers' work).

### The erasure coder

\`shared/erasure.ts\` (the choice: docs/DURABILITY.md), one stripe = one sealed 1 MiB chunk cut in
k fragments; encode = the m parity fragments, decode = rebuilding min(m, k) lost data fragments
(the worst a download meets; with every data fragment present a download decodes nothing).
MB/s of stripe bytes, best of ${process.env.ERASURE_ROUNDS ?? 7} rounds; Node: per second of CPU time, Chromium: per
second of wall time in a module worker bundled by Vite, as the page's coder is.

${erasureTable([
  ['Node', results.erasure.node],
  ['Chromium worker', results.erasure.chromium],
])}

### Memory

${memory}

### Shaped links

${SHAPED_LINKS}
`;
}

/** Where the parallel-k advantage is measured on shaped links: said in the report. */
const SHAPED_LINKS = `Measured in a section of its own, "Fragments on shaped links" (\`BENCH_ONLY=fragments-shaped
npm run bench\`, as root: \`bench/fragments-shaped.ts\`): an owner and K+M hosts, each a Chromium in a
home of its own on the network lab, every home's uplink shaped well under the CPU's ceiling
divided by K, against one host on the same lab. Here, on loopback, every channel crosses the same
two cores, so K channels share one ceiling and cannot show whether K links add up.`;
