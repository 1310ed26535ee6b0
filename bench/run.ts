/**
 * `npm run bench`: transfer throughput, latency, memory and responsiveness, measured in one
 * headless Chromium with the owner and the host in their own contexts, against a baseline
 * measured in the same run: a raw RTCDataChannel between two contexts with the same message
 * size and backpressure policy as Peercloud's own links. Runs in the network namespace that
 * scripts/e2e.ts sets up, like the end-to-end tests.
 *
 * Writes bench/results.json and docs/BENCHMARKS.md, and prints a table.
 * BENCH_SIZES (MiB, comma-separated; default 64,256,1024) and BENCH_RUNS (default 3) adjust it;
 * BENCH_FLOOD=0 skips the flood benchmark (bench/flood.ts); BENCH_CHUNK_SIZE (say 4MiB) sets the
 * tracker's chunk size (1 MiB and 4 MiB measured the same here, within the machine's noise).
 * Between separate networks (bench/networks.ts, needs root): BENCH_NETWORKS=0 skips them,
 * BENCH_ONLY=networks measures only them (and rewrites only their section of the report),
 * BENCH_NETWORK_MIB (default 32) and BENCH_NETWORK_RUNS (default 3) size them.
 * Many trackers on one PostgreSQL (bench/trackers.ts): BENCH_ONLY=trackers measures only them,
 * BENCH_TRACKERS=0 skips them (keeping their last section of the report).
 */
import { copyFileSync, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
import { loadConfig } from '../server/config.ts';
import { migrate, openDatabase } from '../server/db/database.ts';
import { silentLogger } from '../server/logger.ts';
import { createTracker } from '../server/tracker.ts';
import { systemClock } from '../server/clock.ts';
import { MiB } from '../shared/units.ts';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from '../tests/support/chromium.ts';
import { measureBaseline } from './baseline.ts';
import { CpuMeter, cpuBetween, type CpuReading } from './cpu.ts';
import { measureFlood } from './flood.ts';
import { measureNetworkProfiles, networkBenchAvailable, networksSection } from './networks.ts';
import { machineInfo, median, writeNetworksSection, writeReports, type CpuBreakdown, type Figure } from './report.ts';
import { currentTrackersSection, measureTrackers, writeTrackersSection } from './trackers.ts';

const SIZES_MIB = (process.env.BENCH_SIZES ?? '64,256,1024').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BASELINE_MIB = Number(process.env.BENCH_BASELINE_MIB ?? 256);
const NETWORK_MIB = Number(process.env.BENCH_NETWORK_MIB ?? 32);
const NETWORK_RUNS = Number(process.env.BENCH_NETWORK_RUNS ?? 3);

interface PeerTab {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
}

/** The raw channel between two homes of the network lab, every profile: the "Separate networks" section. */
async function measureNetworks(): Promise<string | undefined> {
  if (!networkBenchAvailable() || process.env.BENCH_NETWORKS === '0') {
    console.log('Separate networks: skipped (the network lab needs root; BENCH_NETWORKS=0 skips it too).');
    return undefined;
  }
  console.log(`Separate networks: a raw channel between two homes, ${NETWORK_MIB} MiB × ${NETWORK_RUNS} per profile…`);
  const { figures, chromium } = await measureNetworkProfiles({ bytes: NETWORK_MIB * MiB, runs: NETWORK_RUNS });
  console.table(figures.map(({ profile, path, mbps, runs, cpuMsPerMB, cpuShare, load }) => ({ profile, path, mbps: mbps.toFixed(1), runs: runs.map((run) => run.toFixed(1)).join(' / '), cpuMsPerMB: Math.round(cpuMsPerMB), cpuShare: `${Math.round(cpuShare * 100)} %`, load: load.toFixed(1) })));
  const machine = machineInfo(chromium);
  writeFileSync('bench/networks-results.json', `${JSON.stringify({ machine, mebibytes: NETWORK_MIB, runs: NETWORK_RUNS, figures }, null, 2)}\n`);
  return networksSection(figures, { date: machine.date, machine: `${machine.cpu}, ${machine.memory} RAM, ${machine.os}`, chromium, mebibytes: NETWORK_MIB, runs: NETWORK_RUNS });
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'trackers') return writeTrackersSection(await measureTrackers());
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_HELP);
  if (process.env.BENCH_ONLY === 'networks') {
    const section = await measureNetworks();
    if (section) writeNetworksSection(section);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-bench-'));
  const config = loadConfig({ DB_PATH: join(dir, 'tracker.db'), WEB_ROOT: 'dist/web', REPLICAS: '1', TRANSFER_IDLE_TIMEOUT: '60s', LOG_LEVEL: 'warn', ...(process.env.BENCH_CHUNK_SIZE ? { CHUNK_SIZE: process.env.BENCH_CHUNK_SIZE } : {}) });
  const database = openDatabase(config);
  await migrate(database.db);
  const tracker = createTracker({ db: database.db, clock: systemClock, config, log: silentLogger });
  const { url } = await tracker.listen(0, '127.0.0.1');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const version = browser.version();
  const figures: Figure[] = [];
  const meter = new CpuMeter();
  meter.start();
  let breakdown: CpuBreakdown | undefined;
  if (process.env.BENCH_FLOOD !== '0') {
    console.log('Flood: a quiet client’s latency while another floods the tracker…');
    figures.push(...(await measureFlood()));
  }

  try {
    // The machine is noisy (shared cores): a baseline is measured right before every run, and
    // each throughput is compared with its own run's baseline.
    const baselineRuns: number[] = [];
    const baselineCpuRuns: number[] = [];
    let baselineCpu: ReturnType<typeof cpuBetween> = { totalMs: 0, groups: [] };
    const baselineFor = async () => {
      // From the moment the two pages start connecting to the last byte: opening the pages is
      // not the channel's cost. Read before they close, while their threads still exist.
      let before: CpuReading = new Map();
      let after: CpuReading = new Map();
      const value = await measureBaseline(browser, url, BASELINE_MIB * MiB, { onStart: () => (before = meter.now()), beforeClose: () => (after = meter.now()) });
      baselineCpu = cpuBetween(before, after);
      baselineRuns.push(value);
      baselineCpuRuns.push(baselineCpu.totalMs / ((BASELINE_MIB * MiB) / 1e6));
      return value;
    };

    const owner = await openPeer(browser, url);
    const host = await openPeer(browser, url);
    await offer(host.page, Math.max(...SIZES_MIB) * 2 + 256);

    for (const sizeMiB of SIZES_MIB) {
      const path = join(dir, `bench-${sizeMiB}.bin`);
      await writeRandomFile(path, sizeMiB * MiB);
      const uploads: number[] = [];
      const downloads: number[] = [];
      const upRatios: number[] = [];
      const downRatios: number[] = [];
      const firstBytes: number[] = [];
      const heap = { ownerUp: 0, hostUp: 0, ownerDown: 0, hostDown: 0 };
      const cpu = { up: [] as number[], down: [] as number[], upRatios: [] as number[], downRatios: [] as number[] };
      const megabytes = (sizeMiB * MiB) / 1e6;
      let longestTask = 0;
      for (let run = 0; run < RUNS; run++) {
        const name = `bench-${sizeMiB}-${run}.bin`;
        const baseline = await baselineFor();
        console.log(`${sizeMiB} MiB, run ${run + 1}/${RUNS}: baseline ${baseline.toFixed(1)} MB/s; upload…`);
        const baselineMsPerMB = baselineCpuRuns.at(-1)!;
        const watchUp = await watchHeaps([owner, host]);
        await resetLongTasks(owner.page);
        const cpuBeforeUp = meter.now();
        const upload = await timeUpload(owner.page, path, name, sizeMiB * MiB, async () => {
          const row = await database.db
            .selectFrom('files')
            .innerJoin('replicas', 'replicas.file_id', 'files.id')
            .select('replicas.state')
            .where('files.name', '=', name)
            .where('replicas.state', '=', 'stored')
            .executeTakeFirst();
          return row !== undefined;
        });
        const upCpu = cpuBetween(cpuBeforeUp, meter.now());
        const upHeaps = await watchUp();
        longestTask = Math.max(longestTask, await longestTaskMs(owner.page));
        uploads.push(upload);
        upRatios.push(upload / baseline);

        console.log(`${sizeMiB} MiB, run ${run + 1}/${RUNS}: download…`);
        const watchDown = await watchHeaps([owner, host]);
        await resetLongTasks(owner.page);
        const cpuBeforeDown = meter.now();
        const download = await timeDownload(owner.page, name, sizeMiB * MiB);
        const downCpu = cpuBetween(cpuBeforeDown, meter.now());
        if (CpuMeter.available) {
          cpu.up.push(upCpu.totalMs / megabytes);
          cpu.down.push(downCpu.totalMs / megabytes);
          cpu.upRatios.push(upCpu.totalMs / megabytes / baselineMsPerMB);
          cpu.downRatios.push(downCpu.totalMs / megabytes / baselineMsPerMB);
          breakdown = { sizeMiB, baselineMiB: BASELINE_MIB, baseline: baselineCpu, upload: upCpu, download: downCpu };
        }
        const downHeaps = await watchDown();
        longestTask = Math.max(longestTask, await longestTaskMs(owner.page));
        downloads.push(download.mbps);
        downRatios.push(download.mbps / baseline);
        console.log(`  upload ${upload.toFixed(1)} MB/s (${(upload / baseline).toFixed(2)}×), download ${download.mbps.toFixed(1)} MB/s (${(download.mbps / baseline).toFixed(2)}×)`);
        firstBytes.push(download.firstByteMs);
        heap.ownerUp = Math.max(heap.ownerUp, upHeaps[0]!);
        heap.hostUp = Math.max(heap.hostUp, upHeaps[1]!);
        heap.ownerDown = Math.max(heap.ownerDown, downHeaps[0]!);
        heap.hostDown = Math.max(heap.hostDown, downHeaps[1]!);

        await owner.page.getByRole('button', { name: `Delete ${name}`, exact: true }).click();
        // The page waits out its Undo before it deletes.
        await owner.page.locator('[data-file-id]').filter({ hasText: name }).waitFor({ state: 'detached', timeout: 60_000 });
      }
      rmSync(path, { force: true });
      figures.push(
        { name: `upload ${sizeMiB} MiB`, value: median(uploads), unit: 'MB/s', runs: uploads, ratio: median(upRatios) },
        { name: `download ${sizeMiB} MiB`, value: median(downloads), unit: 'MB/s', runs: downloads, ratio: median(downRatios) },
        { name: `download ${sizeMiB} MiB time to first byte`, value: median(firstBytes), unit: 'ms', runs: firstBytes },
        { name: `peak JS heap growth, owner, ${sizeMiB} MiB`, value: Math.max(heap.ownerUp, heap.ownerDown) / MiB, unit: 'MiB' },
        { name: `peak JS heap growth, host, ${sizeMiB} MiB`, value: Math.max(heap.hostUp, heap.hostDown) / MiB, unit: 'MiB' },
        { name: `longest main-thread task, owner, ${sizeMiB} MiB`, value: longestTask, unit: 'ms' },
      );
      if (cpu.up.length > 0) {
        figures.push(
          { name: `CPU per MB, upload ${sizeMiB} MiB`, value: median(cpu.up), unit: 'ms/MB', runs: cpu.up, ratio: median(cpu.upRatios) },
          { name: `CPU per MB, download ${sizeMiB} MiB`, value: median(cpu.down), unit: 'ms/MB', runs: cpu.down, ratio: median(cpu.downRatios) },
        );
      }
    }
    if (CpuMeter.available) figures.unshift({ name: 'CPU per MB, baseline', value: median(baselineCpuRuns), unit: 'ms/MB', runs: baselineCpuRuns });
    figures.unshift({ name: 'baseline raw RTCDataChannel', value: median(baselineRuns), unit: 'MB/s', runs: baselineRuns });
  } finally {
    meter.stop();
    await browser.close();
    await tracker.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const networks = await measureNetworks();
  const trackers = process.env.BENCH_TRACKERS === '0' ? currentTrackersSection() : await measureTrackers();
  writeReports(figures, { chromium: version, runs: RUNS, breakdown, networks });
  if (trackers) writeTrackersSection(trackers);
}

async function openPeer(browser: Browser, url: string): Promise<PeerTab> {
  const context = await browser.newContext({ acceptDownloads: true, baseURL: url });
  await context.addInitScript(() => {
    // Long tasks on the page, for the responsiveness figure.
    const tasks: number[] = [];
    (window as unknown as { __longTasks: number[] }).__longTasks = tasks;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) tasks.push(entry.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  const page = await context.newPage();
  // Problems in the page are worth seeing next to the figures.
  page.on('pageerror', (error) => console.warn('page error:', error.message));
  page.on('console', (message) => {
    if (message.type() === 'warning' || message.type() === 'error') console.warn(`page ${message.type()}:`, message.text().slice(0, 300));
  });
  await page.goto('/');
  await page.getByTestId('connection').filter({ hasText: 'Online' }).waitFor({ timeout: 30_000 });
  const cdp = await context.newCDPSession(page);
  return { context, page, cdp };
}

async function offer(page: Page, mebibytes: number): Promise<void> {
  await page.getByLabel('Exact amount (MB)').fill(String((mebibytes * MiB) / 1e6));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText(/^Saved: this browser now lends/).waitFor();
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let written = 0; written < size; written += 16 * MiB) {
    const block = randomBytes(Math.min(16 * MiB, size - written));
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** MB/s from choosing the file until the tracker has recorded a verified replica. */
async function timeUpload(page: Page, path: string, name: string, size: number, stored: () => Promise<boolean>): Promise<number> {
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

/** MB/s from clicking Download until the browser has saved the whole file, and the time to first byte. */
async function timeDownload(page: Page, name: string, size: number): Promise<{ mbps: number; firstByteMs: number }> {
  await page.evaluate(() => performance.clearMarks());
  const downloaded = page.waitForEvent('download', { timeout: 300_000 });
  const start = performance.now();
  await page.getByRole('button', { name: `Download ${name}`, exact: true }).click();
  const download = await downloaded;
  const path = await download.path();
  const seconds = (performance.now() - start) / 1000;
  const saved = readFileSync(path).byteLength;
  if (saved !== size) throw new Error(`downloaded ${saved} bytes, expected ${size}`);
  await download.delete();
  const firstByteMs = await page.evaluate(() => {
    const start = performance.getEntriesByName('peercloud:download-start')[0];
    const first = performance.getEntriesByName('peercloud:download-first-byte')[0];
    return start && first ? first.startTime - start.startTime : Number.NaN;
  });
  return { mbps: size / 1e6 / seconds, firstByteMs };
}

/**
 * Starts sampling each page's JS heap; the returned function stops and gives each peak growth in
 * bytes. Twice a second, with the lightest DevTools call: sampling costs CPU the transfer being
 * measured would otherwise have, and the heap of a streaming transfer barely moves.
 */
async function watchHeaps(tabs: PeerTab[]): Promise<() => Promise<number[]>> {
  const heapOf = async (tab: PeerTab) => (await tab.cdp.send('Runtime.getHeapUsage')).usedSize;
  for (const tab of tabs) await tab.cdp.send('HeapProfiler.collectGarbage');
  const base = await Promise.all(tabs.map(heapOf));
  const peaks = [...base];
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      const now = await Promise.all(tabs.map(heapOf));
      now.forEach((value, index) => (peaks[index] = Math.max(peaks[index]!, value)));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return async () => {
    sampling = false;
    await loop;
    return peaks.map((peak, index) => peak - base[index]!);
  };
}

async function resetLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.splice(0));
}

async function longestTaskMs(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(0, ...(window as unknown as { __longTasks: number[] }).__longTasks));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
