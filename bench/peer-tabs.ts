/**
 * Peers of the benchmarks: the real page in a context of its own, driven as a person would
 * (choose a file, click Download), and the measurements taken on it: transfer times, the
 * JS heap through DevTools, the longest main-thread task. Shared by bench/run.ts (one owner,
 * one host) and bench/fragments.ts (an owner and six hosts, an owner and one host).
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, createReadStream, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
import { MiB } from '../shared/units.ts';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from '../tests/support/chromium.ts';
import { watchIcePaths } from '../tests/support/ice-paths.ts';
import { processTimes } from './process-cpu.ts';
import { PROCESS_KINDS, processKind, type ProcessKind } from './process-kind.ts';

export interface PeerTab {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  /** The profile directory of a peer with a browser of its own (`openPersistentPeer`), deleted by `closePeer`. */
  profile?: string;
}

/** The page opened at `url` in a new context, online; with `watchIce`, recording the path of each of its connections (tests/support/ice-paths.ts). */
export async function openPeer(browser: Browser, url: string, options: { watchIce?: boolean } = {}): Promise<PeerTab> {
  const context = await browser.newContext({ acceptDownloads: true, baseURL: url });
  try {
    return await openPage(context, options);
  } catch (error) {
    await context.close();
    throw error;
  }
}

/**
 * The page opened at `url` in a browser of its own with a profile on disk (a temporary directory),
 * as a person's browser is: its IndexedDB lives in files. The contexts of `openPeer` are
 * incognito, and Chromium keeps an incognito context's IndexedDB in the browser process's
 * memory, so hosts holding a GiB of fragments there measure the browser, not Peercloud
 * (the first 1 GiB run of bench/fragments.ts closed a page after nine minutes that way).
 * One browser per peer also gives each peer processes of its own (`watchPeerMemory`).
 */
export async function openPersistentPeer(url: string, options: { watchIce?: boolean } = {}): Promise<PeerTab> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_HELP);
  const profile = mkdtempSync(join(tmpdir(), 'peercloud-bench-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_ARGS, headless: true, acceptDownloads: true, baseURL: url });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  try {
    return { ...(await openPage(context, options, context.pages()[0])), profile };
  } catch (error) {
    await closePeer({ context, profile });
    throw error;
  }
}

/** Closes the peer's context (and its browser, for a persistent one) and deletes its profile. */
export async function closePeer(tab: Pick<PeerTab, 'context' | 'profile'>): Promise<void> {
  try {
    await tab.context.close();
  } finally {
    if (tab.profile) rmSync(tab.profile, { recursive: true, force: true });
  }
}

async function openPage(context: BrowserContext, options: { watchIce?: boolean }, blank?: Page): Promise<PeerTab> {
  if (options.watchIce) await watchIcePaths(context);
  await context.addInitScript(() => {
    // Long tasks on the page, for the responsiveness figure.
    const tasks: number[] = [];
    (window as unknown as { __longTasks: number[] }).__longTasks = tasks;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) tasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  const page = blank ?? (await context.newPage());
  // Problems in the page are worth seeing next to the figures.
  page.on('pageerror', (error) => console.warn('page error:', error.message));
  page.on('crash', () => console.warn('page crashed (its renderer process died)'));
  // BENCH_PAGE_DEBUG=1: the pages' debug and log lines too (a failed transfer's reasons, say), not only their warnings and errors.
  const shown = process.env.BENCH_PAGE_DEBUG === '1' ? ['warning', 'error', 'debug', 'log', 'info'] : ['warning', 'error'];
  page.on('console', (message) => {
    if (shown.includes(message.type())) console.warn(`${new Date().toISOString()} page ${message.type()}:`, message.text().slice(0, 300));
  });
  await page.goto('/');
  await page.getByTestId('connection').filter({ hasText: 'Online' }).waitFor({ timeout: 30_000 });
  const cdp = await context.newCDPSession(page);
  return { context, page, cdp };
}

/** The peer's id, as its page shows it under Details. */
export async function peerId(page: Page): Promise<string> {
  const id = (await page.getByTestId('peer-id').textContent())?.trim() ?? '';
  if (!/^[a-z2-7]{32}$/.test(id)) throw new Error(`the page shows no peer id (got "${id}")`);
  return id;
}

export async function offer(page: Page, mebibytes: number): Promise<void> {
  await page.getByLabel('Exact amount (MB)').fill(String((mebibytes * MiB) / 1e6));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText(/^Saved: this browser now lends/).waitFor();
}

/** Writes `size` random bytes to `path`; returns their SHA-256 (hex), to check a download against. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  for (let written = 0; written < size; written += 16 * MiB) {
    const block = randomBytes(Math.min(16 * MiB, size - written));
    hash.update(block);
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest('hex');
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const block of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(block as Buffer);
  return hash.digest('hex');
}

/** MB/s from choosing the file until the tracker has recorded a verified replica. */
export async function timeUpload(page: Page, path: string, name: string, size: number, stored: () => Promise<boolean>): Promise<number> {
  const named = join(tmpdir(), name);
  copyFileSync(path, named);
  try {
    const start = performance.now();
    await page.getByLabel('Choose files').setInputFiles(named);
    while (!(await stored())) await new Promise((resolve) => setTimeout(resolve, 25));
    return size / 1e6 / ((performance.now() - start) / 1000);
  } finally {
    rmSync(named, { force: true });
  }
}

/**
 * MB/s from clicking Download until the browser has saved the whole file, and the time to first
 * byte. With `sha256`, the saved file must have that digest (checked after the clock stops).
 */
export async function timeDownload(page: Page, name: string, size: number, options: { sha256?: string } = {}): Promise<{ mbps: number; firstByteMs: number; seconds: number }> {
  await page.evaluate(() => performance.clearMarks());
  const downloaded = page.waitForEvent('download', { timeout: 600_000 });
  const start = performance.now();
  await page.getByRole('button', { name: `Download ${name}`, exact: true }).click();
  const download = await downloaded;
  const path = await download.path();
  const seconds = (performance.now() - start) / 1000;
  if (options.sha256) {
    const saved = await sha256Of(path);
    if (saved !== options.sha256) throw new Error(`downloaded ${name} has SHA-256 ${saved}, expected ${options.sha256}`);
  } else {
    const saved = readFileSync(path).byteLength;
    if (saved !== size) throw new Error(`downloaded ${saved} bytes, expected ${size}`);
  }
  await download.delete();
  const firstByteMs = await page.evaluate(() => {
    const start = performance.getEntriesByName('peercloud:download-start')[0];
    const first = performance.getEntriesByName('peercloud:download-first-byte')[0];
    return start && first ? first.startTime - start.startTime : Number.NaN;
  });
  return { mbps: size / 1e6 / seconds, firstByteMs, seconds };
}

/** A page's peak memory growth during a transfer, in bytes. */
export interface HeapGrowth {
  /** The JS heap (V8's used size): objects, not the bytes of ArrayBuffers. */
  heap: number;
  /** The JS heap and the backing stores of ArrayBuffers, where a transfer's bytes live; undefined if DevTools does not say. */
  withBuffers: number | undefined;
}

/**
 * Starts sampling each page's JS heap; the returned function stops and gives each peak growth.
 * Twice a second, with the lightest DevTools call: sampling costs CPU the transfer being
 * measured would otherwise have, and the heap of a streaming transfer barely moves. The page's
 * main thread only: its dedicated workers have heaps of their own, not counted here.
 */
export async function watchHeaps(tabs: PeerTab[]): Promise<() => Promise<HeapGrowth[]>> {
  const usageOf = async (tab: PeerTab) => {
    const usage = await tab.cdp.send('Runtime.getHeapUsage');
    return { heap: usage.usedSize, withBuffers: typeof usage.backingStorageSize === 'number' ? usage.usedSize + usage.backingStorageSize : undefined };
  };
  for (const tab of tabs) await tab.cdp.send('HeapProfiler.collectGarbage');
  const base = await Promise.all(tabs.map(usageOf));
  const peaks = base.map((usage) => ({ ...usage }));
  let sampling = true;
  // Caught here and thrown by the stop function: a page that closes mid-transfer must fail the
  // measurement that awaits it, not crash the process with an unhandled rejection.
  const loop = (async () => {
    while (sampling) {
      const now = await Promise.all(tabs.map(usageOf));
      traceMemory({ what: 'heap', heap: now[0]?.heap, withBuffers: now[0]?.withBuffers });
      now.forEach((usage, index) => {
        const peak = peaks[index]!;
        peak.heap = Math.max(peak.heap, usage.heap);
        if (peak.withBuffers !== undefined && usage.withBuffers !== undefined) peak.withBuffers = Math.max(peak.withBuffers, usage.withBuffers);
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  return async () => {
    sampling = false;
    const failed = await loop;
    if (failed !== undefined) throw failed;
    if (process.env.BENCH_MEMORY_TRACE && tabs[0]) {
      // What is still alive once the garbage is gone: the rest of a peak was waiting for collection.
      await tabs[0].cdp.send('HeapProfiler.collectGarbage');
      const after = await usageOf(tabs[0]);
      traceMemory({ what: 'after-gc', heap: after.heap, withBuffers: after.withBuffers, baseHeap: base[0]?.heap, baseWithBuffers: base[0]?.withBuffers });
    }
    return peaks.map((peak, index) => {
      const before = base[index]!;
      return { heap: peak.heap - before.heap, withBuffers: peak.withBuffers !== undefined && before.withBuffers !== undefined ? peak.withBuffers - before.withBuffers : undefined };
    });
  };
}

export async function resetLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.splice(0));
}

export async function longestTaskMs(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(0, ...(window as unknown as { __longTasks: number[] }).__longTasks));
}

/**
 * BENCH_MEMORY_TRACE=<file>: every memory sample of the first peer (the owner) appended to that
 * file as a JSON line, for a developer who wants the curve behind a peak, not only the peak.
 */
export function traceMemory(record: Record<string, number | string | undefined>): void {
  const file = process.env.BENCH_MEMORY_TRACE;
  if (file) appendFileSync(file, `${JSON.stringify({ at: Date.now(), ...record })}\n`);
}

/** Resident bytes of a process, in all (VmRSS) and by kind (RssAnon, RssFile, RssShmem: VmRSS is their sum), or undefined if it is gone. */
function resident(pid: number): { rss: number; anon: number; file: number; shmem: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem') };
  } catch {
    return undefined;
  }
}

/**
 * A process's proportional set size (smaps_rollup's Pss): its private pages, plus each shared
 * page divided by the number of processes mapping it. Summed over a browser's processes it counts
 * each page once, where a sum of resident sizes counts Chromium's code once per process that
 * touched it and each shared-memory buffer on both of its ends.
 */
function proportional(pid: number): number | undefined {
  try {
    return Number(/^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return undefined;
  }
}

/** Whether processes' memory can be watched here (Linux's /proc). */
export const processesObservable = existsSync('/proc/self/status');

/** Every process on the machine with its parent and command line, read from /proc once. */
function processTable(): Map<number, { parent: number; command: string }> {
  const table = new Map<number, { parent: number; command: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = processTimes(Number(entry))?.parent;
      if (parent === undefined) continue;
      table.set(Number(entry), { parent, command: readFileSync(`/proc/${entry}/cmdline`, 'utf8') });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

/** The processes of the browser that runs `profile` (found by its --user-data-dir): that browser and all it started. */
function browserProcesses(table: Map<number, { parent: number; command: string }>, profile: string): { renderers: number[]; all: number[] } {
  const flag = `--user-data-dir=${profile}\0`;
  const roots = [...table].filter(([, { command }]) => command.includes(flag) && !command.includes('--type=')).map(([pid]) => pid);
  const all = new Set(roots);
  // Children after parents is not guaranteed by pid order: repeat until nothing is added.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, { parent }] of table) {
      if (!all.has(pid) && all.has(parent)) {
        all.add(pid);
        grew = true;
      }
    }
  }
  return { renderers: [...all].filter((pid) => table.get(pid)!.command.includes('--type=renderer')), all: [...all] };
}

/** CPU seconds the renderer processes of a peer of `openPersistentPeer` have used so far (its page and workers); undefined for others. */
export function rendererCpuSeconds(tab: PeerTab): number | undefined {
  if (!tab.profile) return undefined;
  const { renderers } = browserProcesses(processTable(), tab.profile);
  return renderers.reduce((total, pid) => total + (processTimes(pid)?.own ?? 0), 0);
}

/** One peer's resident memory: its renderer (the page, its workers, Blink's and WebRTC's buffers) and its browser's processes together. */
export interface PeerMemory {
  /** Peak resident bytes of the peer's renderer processes above their level at the start; undefined if none was found. */
  renderer: number | undefined;
  /** The same for every process of the peer's browser (the browser process, network and storage services, renderer…), as a sum of resident sizes. */
  browser: number | undefined;
  /** Their resident bytes at the start, for scale. */
  rendererBase: number | undefined;
  browserBase: number | undefined;
  /** The whole browser's peak growth counted by proportional set size: each page once (see `proportional`). */
  browserPss?: number | undefined;
  /** Peak growth by kind of process, proportional set sizes, each kind its own peak: where a whole browser's growth is. */
  kinds?: Record<ProcessKind, number> | undefined;
  /**
   * The renderer's peak growth by kind of resident page, each its own peak: anonymous (the
   * page's own memory: heaps, buffers, WebRTC's), file-backed (the browser's code and data files
   * as they are read in: shared, clean, dropped by the kernel under pressure) and shared memory
   * (buffers shared with the browser process: IPC, data pipes).
   */
  rendererParts?: { anon: number; file: number; shmem: number } | undefined;
}

interface PeerSample {
  renderer: number;
  browser: number;
  anon: number;
  file: number;
  shmem: number;
  /** Read every PSS_EVERY samples only (see there); undefined in the others. */
  pss?: number;
  kinds?: Record<ProcessKind, number>;
}

/**
 * Proportional sizes are read every 4th sample (every 2 s). smaps_rollup walks a process's page
 * tables under its memory map lock: one idle browser's 12 processes cost this bench 15 ms of CPU
 * per read (status: 0.4 ms), seven peers twice a second a tenth of a core taken from the
 * transfers measured, and each read holds up the renderer's own mappings while it runs.
 */
const PSS_EVERY = 4;

const noKinds = (): Record<ProcessKind, number> => ({ browser: 0, renderer: 0, network: 0, storage: 0, gpu: 0, other: 0 });

/**
 * Starts sampling, twice a second, the resident memory of each peer's own browser (peers of
 * `openPersistentPeer`; others get undefined); the returned function stops and gives each
 * peer's peak growth. The process list is read again at every sample: a renderer or worker
 * process that starts during the transfer counts from then on.
 */
export function watchPeerMemory(tabs: PeerTab[]): () => Promise<PeerMemory[]> {
  const sample = (withPss: boolean): (PeerSample | undefined)[] => {
    const table = processTable();
    return tabs.map((tab) => {
      if (!tab.profile) return undefined;
      const { renderers, all } = browserProcesses(table, tab.profile);
      if (renderers.length === 0) return undefined;
      // Each process's status read once per sample: the renderers' figures come from the same read as the browser's.
      const of = new Map(all.map((pid) => [pid, resident(pid)]));
      const sum = (pids: number[], kind: 'rss' | 'anon' | 'file' | 'shmem') => pids.reduce((total, pid) => total + (of.get(pid)?.[kind] ?? 0), 0);
      const rss = { renderer: sum(renderers, 'rss'), browser: sum(all, 'rss'), anon: sum(renderers, 'anon'), file: sum(renderers, 'file'), shmem: sum(renderers, 'shmem') };
      if (!withPss) return rss;
      const kinds = noKinds();
      let pss = 0;
      for (const pid of all) {
        const bytes = proportional(pid) ?? 0;
        kinds[processKind(table.get(pid)!.command)] += bytes;
        pss += bytes;
      }
      return { ...rss, pss, kinds };
    });
  };
  const base = sample(true);
  const peaks = base.map((bytes) => (bytes ? { ...bytes, kinds: { ...bytes.kinds! } } : undefined));
  let samplesTaken = 0;
  const timer = setInterval(() => {
    const samples = sample(++samplesTaken % PSS_EVERY === 0);
    const first = samples[0]?.kinds;
    const kinds = first ? Object.fromEntries(PROCESS_KINDS.map((kind) => [`pss_${kind}`, first[kind]])) : {};
    traceMemory({ what: 'rss', renderer: samples[0]?.renderer, browser: samples[0]?.browser, anon: samples[0]?.anon, file: samples[0]?.file, shmem: samples[0]?.shmem, pss: samples[0]?.pss, ...kinds });
    samples.forEach((now, index) => {
      const peak = peaks[index];
      if (!now || !peak) return;
      for (const key of ['renderer', 'browser', 'anon', 'file', 'shmem'] as const) peak[key] = Math.max(peak[key], now[key]);
      if (now.pss !== undefined) peak.pss = Math.max(peak.pss!, now.pss);
      if (now.kinds) for (const kind of PROCESS_KINDS) peak.kinds[kind] = Math.max(peak.kinds[kind], now.kinds[kind]);
    });
  }, 500);
  return async () => {
    clearInterval(timer);
    return base.map((before, index) => {
      const peak = peaks[index];
      if (!before || !peak) return { renderer: undefined, browser: undefined, rendererBase: undefined, browserBase: undefined };
      const kinds = noKinds();
      // The base and the peaks were read with proportional sizes (sample(true)).
      for (const kind of PROCESS_KINDS) kinds[kind] = peak.kinds[kind] - before.kinds![kind];
      return {
        renderer: peak.renderer - before.renderer,
        browser: peak.browser - before.browser,
        rendererBase: before.renderer,
        browserBase: before.browser,
        browserPss: peak.pss! - before.pss!,
        kinds,
        rendererParts: { anon: peak.anon - before.anon, file: peak.file - before.file, shmem: peak.shmem - before.shmem },
      };
    });
  };
}
