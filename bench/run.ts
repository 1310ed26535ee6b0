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
 * tracker's chunk size (1 MiB and 4 MiB measured the same here, within the machine's noise);
 * BENCH_BASELINE_MIB fixes the raw channel's size (default: each transfer's own size).
 * Between separate networks (bench/networks.ts, needs root): BENCH_NETWORKS=0 skips them,
 * BENCH_ONLY=networks measures only them (and rewrites only their section of the report),
 * BENCH_NETWORK_MIB (default 32) and BENCH_NETWORK_RUNS (default 3) size them, BENCH_NETWORK_PROFILES
 * (names, comma-separated, e.g. "shaped direct,relayed") picks some of them. Each run of a profile
 * measures the raw channel, then Peercloud's own upload and download on the same link.
 * Fragments against whole copies (bench/fragments.ts): BENCH_FRAGMENTS=0 skips them,
 * BENCH_ONLY=fragments measures only them (and rewrites only their section of the report).
 * Fragments on shaped links (bench/fragments-shaped.ts, needs root): an owner and K+M hosts in homes
 * of their own on the network lab against one host, each home's uplink shaped; BENCH_ONLY=fragments-shaped
 * measures only that (its own section), BENCH_FRAGMENTS_SHAPED=0 skips it.
 * Many trackers on one PostgreSQL (bench/trackers.ts): BENCH_ONLY=trackers measures only them,
 * BENCH_TRACKERS=0 skips them (keeping their last section of the report).
 * What audits cost the tracker (bench/audits.ts): BENCH_ONLY=audits measures only that,
 * BENCH_AUDITS=0 skips it (keeping its last section).
 * BENCH_ONLY=transfers measures only the transfers (and the flood unless BENCH_FLOOD=0) and writes
 * their figures to BENCH_RESULTS (default bench/transfers-results.json), not to the report:
 * bench/compare.ts runs it once per side. It prints the last run's CPU per MB by thread.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
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
import { BENCH_SPACE_POLICY, fragmentBenchOptions, fragmentsSection, measureFragments } from './fragments.ts';
import { measureShapedFragments, SHAPED_FRAGMENTS_HEADING, SHAPED_FRAGMENTS_HELP, shapedFragmentOptions, shapedFragmentsSection } from './fragments-shaped.ts';
import { measureNetworkProfiles, networkBenchAvailable, networkProfiles } from './networks.ts';
import { networksSection } from './networks-report.ts';
import { currentTrackersSection, measureTrackers, writeTrackersSection } from './trackers.ts';
import { AUDITS_HEADING, measureAudits } from './audits.ts';
import { longestTaskMs, offer, openPeer, resetLongTasks, timeDownload, timeUpload, watchHeaps, writeRandomFile } from './peer-tabs.ts';
import { breakdownTable, currentSection, machineInfo, median, writeFragmentsSection, writeSection, writeNetworksSection, writeReports, writeResults, type CpuBreakdown, type Figure } from './report.ts';

const SIZES_MIB = (process.env.BENCH_SIZES ?? '64,256,1024').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/**
 * The raw channel's size: by default each transfer's own, so that each connection's fixed costs
 * (ICE, DTLS, the slow start) weigh as much per MB on both sides of a ratio. It used to be 256 MiB
 * whatever the transfer's size, which made a 64 MiB transfer's ratios look worse than they were.
 */
const BASELINE_MIB = process.env.BENCH_BASELINE_MIB ? Number(process.env.BENCH_BASELINE_MIB) : undefined;
const NETWORK_MIB = Number(process.env.BENCH_NETWORK_MIB ?? 32);
const NETWORK_RUNS = Number(process.env.BENCH_NETWORK_RUNS ?? 3);

async function measureNetworks(): Promise<string | undefined> {
  if (!networkBenchAvailable() || process.env.BENCH_NETWORKS === '0') {
    console.log('Separate networks: skipped (the network lab needs root; BENCH_NETWORKS=0 skips it too).');
    return undefined;
  }
  const profiles = networkProfiles(process.env.BENCH_NETWORK_PROFILES);
  console.log(`Separate networks: a raw channel and Peercloud between two homes, ${NETWORK_MIB} MiB × ${NETWORK_RUNS} per profile (${profiles.map((profile) => profile.name).join(', ')})…`);
  const { figures, chromium } = await measureNetworkProfiles({ bytes: NETWORK_MIB * MiB, runs: NETWORK_RUNS, profiles });
  console.table(
    figures.map(({ profile, path, mbps, runs, cpuMsPerMB, cpuShare, load, peercloud }) => ({
      profile,
      path,
      mbps: mbps.toFixed(1),
      runs: runs.map((run) => run.toFixed(1)).join(' / '),
      cpuMsPerMB: Math.round(cpuMsPerMB),
      cpuShare: `${Math.round(cpuShare * 100)} %`,
      load: load.toFixed(1),
      upload: peercloud ? `${peercloud.upload.mbps.toFixed(1)} (${peercloud.upload.ratio.toFixed(2)}×)` : '',
      download: peercloud ? `${peercloud.download.mbps.toFixed(1)} (${peercloud.download.ratio.toFixed(2)}×)` : '',
    })),
  );
  const machine = machineInfo(chromium);
  writeFileSync('bench/networks-results.json', `${JSON.stringify({ machine, mebibytes: NETWORK_MIB, runs: NETWORK_RUNS, figures }, null, 2)}\n`);
  return networksSection(figures, { date: machine.date, machine: `${machine.cpu}, ${machine.memory} RAM, ${machine.os}`, chromium, mebibytes: NETWORK_MIB, runs: NETWORK_RUNS });
}

/** Fragments against whole copies: the "Fragments" section (and bench/fragments-results.json). */
async function measureFragmentSection(): Promise<string | undefined> {
  if (process.env.BENCH_FRAGMENTS === '0') {
    console.log('Fragments: skipped (BENCH_FRAGMENTS=0).');
    return undefined;
  }
  const results = await measureFragments(fragmentBenchOptions());
  writeFileSync('bench/fragments-results.json', `${JSON.stringify(results, null, 2)}\n`);
  return fragmentsSection(results);
}

/**
 * Fragments on shaped links: the "Fragments on shaped links" section (and bench/fragments-shaped-results.json).
 * `required` (BENCH_ONLY=fragments-shaped): without root it stops and says what to run; in a full run it is left out.
 */
async function measureShapedFragmentSection(required: boolean): Promise<string | undefined> {
  if (!networkBenchAvailable() || process.env.BENCH_FRAGMENTS_SHAPED === '0') {
    if (required) throw new Error(SHAPED_FRAGMENTS_HELP);
    console.log(`Fragments on shaped links: skipped. ${SHAPED_FRAGMENTS_HELP}`);
    return undefined;
  }
  const results = await measureShapedFragments(shapedFragmentOptions());
  writeFileSync('bench/fragments-shaped-results.json', `${JSON.stringify(results, null, 2)}\n`);
  return shapedFragmentsSection(results);
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'trackers') return writeTrackersSection(await measureTrackers());
  if (process.env.BENCH_ONLY === 'audits') return writeSection(AUDITS_HEADING, await measureAudits());
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_HELP);
  if (process.env.BENCH_ONLY === 'networks') {
    const section = await measureNetworks();
    if (section) writeNetworksSection(section);
    return;
  }
  if (process.env.BENCH_ONLY === 'fragments-shaped') {
    const section = await measureShapedFragmentSection(true);
    if (section) writeSection(SHAPED_FRAGMENTS_HEADING, section);
    return;
  }
  if (process.env.BENCH_ONLY === 'fragments') {
    const section = await measureFragmentSection();
    if (section) writeFragmentsSection(section);
    return;
  }
  const transfersOnly = process.env.BENCH_ONLY === 'transfers';
  if (process.env.BENCH_ONLY !== undefined && process.env.BENCH_ONLY !== '' && !transfersOnly) throw new Error(`BENCH_ONLY must be transfers, networks, fragments, fragments-shaped, trackers or audits (got "${process.env.BENCH_ONLY}")`);
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-bench-'));
  const config = loadConfig({ DB_PATH: join(dir, 'tracker.db'), WEB_ROOT: 'dist/web', REPLICAS: '1', TRANSFER_IDLE_TIMEOUT: '60s', LOG_LEVEL: 'warn', ...BENCH_SPACE_POLICY, ...(process.env.BENCH_CHUNK_SIZE ? { CHUNK_SIZE: process.env.BENCH_CHUNK_SIZE } : {}) });
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
    const baselineFor = async (sizeMiB: number) => {
      const baselineMiB = BASELINE_MIB ?? sizeMiB;
      // From the moment the two pages start connecting to the last byte: opening the pages is
      // not the channel's cost. Read before they close, while their threads still exist.
      let before: CpuReading = new Map();
      let after: CpuReading = new Map();
      const value = await measureBaseline(browser, url, baselineMiB * MiB, { onStart: () => (before = meter.now()), beforeClose: () => (after = meter.now()) });
      baselineCpu = cpuBetween(before, after);
      baselineRuns.push(value);
      baselineCpuRuns.push(baselineCpu.totalMs / ((baselineMiB * MiB) / 1e6));
      return { value, baselineMiB };
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
        const { value: baseline, baselineMiB } = await baselineFor(sizeMiB);
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
          breakdown = { sizeMiB, baselineMiB, baseline: baselineCpu, upload: upCpu, download: downCpu };
        }
        const downHeaps = await watchDown();
        longestTask = Math.max(longestTask, await longestTaskMs(owner.page));
        downloads.push(download.mbps);
        downRatios.push(download.mbps / baseline);
        console.log(`  upload ${upload.toFixed(1)} MB/s (${(upload / baseline).toFixed(2)}×), download ${download.mbps.toFixed(1)} MB/s (${(download.mbps / baseline).toFixed(2)}×)`);
        firstBytes.push(download.firstByteMs);
        heap.ownerUp = Math.max(heap.ownerUp, upHeaps[0]!.heap);
        heap.hostUp = Math.max(heap.hostUp, upHeaps[1]!.heap);
        heap.ownerDown = Math.max(heap.ownerDown, downHeaps[0]!.heap);
        heap.hostDown = Math.max(heap.hostDown, downHeaps[1]!.heap);

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
  if (transfersOnly) {
    writeResults(figures, { chromium: version, runs: RUNS }, process.env.BENCH_RESULTS ?? 'bench/transfers-results.json');
    // Where the CPU went in the last run, per thread: printed only, the report keeps the full run's.
    if (breakdown) console.log(`CPU per MB by thread, last run:\n${breakdownTable(breakdown)}`);
    return;
  }
  const fragments = await measureFragmentSection();
  const networks = await measureNetworks();
  const fragmentsShaped = await measureShapedFragmentSection(false);
  const trackers = process.env.BENCH_TRACKERS === '0' ? currentTrackersSection() : await measureTrackers();
  const audits = process.env.BENCH_AUDITS === '0' ? currentSection(AUDITS_HEADING) : await measureAudits();
  writeReports(figures, { chromium: version, runs: RUNS, breakdown, networks, fragments });
  if (fragmentsShaped) writeSection(SHAPED_FRAGMENTS_HEADING, fragmentsShaped);
  if (trackers) writeTrackersSection(trackers);
  if (audits) writeSection(AUDITS_HEADING, audits);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
