/**
 * Where an upload's CPU goes in the pages, for a person chasing it (not part of `npm run bench`):
 * one owner and one host as in bench/run.ts, V8's sampling profiler on both pages' main threads
 * during one upload (and then one download), and for each page the functions that took the most
 * time, the longest stretch of the main thread without a pause and what ran in it, and the
 * long tasks the page itself saw.
 *
 * Run it inside the benchmark's network namespace and under the shared lock, against a build
 * without minification so that the names mean something:
 *
 *   npx vite build --minify false --outDir ../dist/web-profile
 *   flock /tmp/peercloud-e2e.lock node --import tsx scripts/e2e.ts --bench-script bench/profile-upload.ts
 *
 * PROFILE_MIB (default 64) sizes the file; PROFILE_WEB_ROOT (default dist/web-profile) is the build served.
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
import { CpuMeter, cpuBetween } from './cpu.ts';
import { BENCH_SPACE_POLICY } from './fragments.ts';
import { offer, openPeer, timeDownload, timeUpload, writeRandomFile, type PeerTab } from './peer-tabs.ts';
import type { Profile, ProfileNode } from './v8-profile.ts';

const MEBIBYTES = Number(process.env.PROFILE_MIB ?? 64);
const WEB_ROOT = process.env.PROFILE_WEB_ROOT ?? 'dist/web-profile';
/** Sampling interval of V8's profiler, µs: fine enough to see a task's parts. */
const SAMPLE_US = 250;

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split('/').at(-1) ?? '';
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

/** Self time per function, ms, largest first, over samples [from, to). */
function selfTimes(profile: Profile, from = 0, to = profile.samples.length): [string, number][] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  for (let at = from; at < to; at++) {
    const name = frameName(byId.get(profile.samples[at]!)!);
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[at + 1] ?? 0) / 1000);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Inclusive time per function (each counted once per sample however deep), ms, over samples [from, to). */
function totalTimes(profile: Profile, from = 0, to = profile.samples.length): [string, number][] {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  for (let at = from; at < to; at++) {
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[at]; id !== undefined; id = parent.get(id)) {
      const name = frameName(byId.get(id)!);
      if (seen.has(name)) continue;
      seen.add(name);
      totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[at + 1] ?? 0) / 1000);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** The longest run of samples with no idle one: about the longest task (adjacent tasks merge). */
function longestBusy(profile: Profile): { from: number; to: number; ms: number } {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
  let best = { from: 0, to: 0, ms: 0 };
  let start = 0;
  let ms = 0;
  for (let at = 0; at < profile.samples.length; at++) {
    if (idle.has(profile.samples[at]!)) {
      start = at + 1;
      ms = 0;
      continue;
    }
    ms += (profile.timeDeltas[at + 1] ?? 0) / 1000;
    if (ms > best.ms) best = { from: start, to: at + 1, ms };
  }
  return best;
}

function print(title: string, rows: [string, number][], limit = 20): void {
  console.log(`\n${title}`);
  for (const [name, ms] of rows.slice(0, limit)) console.log(`  ${ms.toFixed(0).padStart(7)} ms  ${name}`);
}

async function profiled<T>(tabs: PeerTab[], work: () => Promise<T>): Promise<{ result: T; profiles: Profile[]; longTasks: number[][] }> {
  for (const tab of tabs) {
    await tab.page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.splice(0));
    await tab.cdp.send('Profiler.enable');
    await tab.cdp.send('Profiler.setSamplingInterval', { interval: SAMPLE_US });
    await tab.cdp.send('Profiler.start');
  }
  const result = await work();
  const profiles: Profile[] = [];
  const longTasks: number[][] = [];
  for (const tab of tabs) {
    profiles.push((await tab.cdp.send('Profiler.stop')).profile as unknown as Profile);
    longTasks.push(await tab.page.evaluate(() => [...(window as unknown as { __longTasks: number[] }).__longTasks].sort((a, b) => b - a).slice(0, 8)));
  }
  return { result, profiles, longTasks };
}

function report(what: string, names: string[], run: { profiles: Profile[]; longTasks: number[][] }): void {
  run.profiles.forEach((profile, index) => {
    const name = `${what}, ${names[index]}`;
    const busy = longestBusy(profile);
    console.log(`\n===== ${name}: ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms profiled; long tasks the page saw: ${run.longTasks[index]!.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    print(`${name}: self time`, selfTimes(profile));
    print(`${name}: total time`, totalTimes(profile), 30);
    console.log(`\n${name}: longest busy stretch ${busy.ms.toFixed(0)} ms`);
    print(`${name}: in that stretch, self`, selfTimes(profile, busy.from, busy.to), 15);
    print(`${name}: in that stretch, total`, totalTimes(profile, busy.from, busy.to), 25);
    writeFileSync(join(tmpdir(), `peercloud-${what}-${names[index]}.cpuprofile`), JSON.stringify(profile));
  });
}

async function main(): Promise<void> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_HELP);
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-profile-'));
  const config = loadConfig({ DB_PATH: join(dir, 'tracker.db'), WEB_ROOT, REPLICAS: '1', TRANSFER_IDLE_TIMEOUT: '60s', LOG_LEVEL: 'warn', ...BENCH_SPACE_POLICY });
  const database = openDatabase(config);
  await migrate(database.db);
  const tracker = createTracker({ db: database.db, clock: systemClock, config, log: silentLogger });
  const { url } = await tracker.listen(0, '127.0.0.1');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const meter = new CpuMeter();
  meter.start();
  try {
    const owner = await openPeer(browser, url);
    const host = await openPeer(browser, url);
    await offer(host.page, MEBIBYTES * 2 + 256);
    const path = join(dir, 'profile.bin');
    await writeRandomFile(path, MEBIBYTES * MiB);
    const megabytes = (MEBIBYTES * MiB) / 1e6;
    const stored = async () =>
      (await database.db.selectFrom('replicas').innerJoin('files', 'files.id', 'replicas.file_id').select('replicas.state').where('files.name', '=', 'profile.bin').where('replicas.state', '=', 'stored').executeTakeFirst()) !== undefined;
    const beforeUp = meter.now();
    const up = await profiled([owner, host], () => timeUpload(owner.page, path, 'profile.bin', MEBIBYTES * MiB, stored));
    const upCpu = cpuBetween(beforeUp, meter.now());
    console.log(`upload ${up.result.toFixed(1)} MB/s, ${(upCpu.totalMs / megabytes).toFixed(1)} ms CPU per MB`);
    for (const [label, ms] of upCpu.groups.slice(0, 14)) console.log(`  ${(ms / megabytes).toFixed(1).padStart(6)} ms/MB  ${label}`);
    report('upload', ['owner', 'host'], up);
    const beforeDown = meter.now();
    const down = await profiled([owner, host], () => timeDownload(owner.page, 'profile.bin', MEBIBYTES * MiB));
    const downCpu = cpuBetween(beforeDown, meter.now());
    console.log(`\ndownload ${down.result.mbps.toFixed(1)} MB/s, ${(downCpu.totalMs / megabytes).toFixed(1)} ms CPU per MB`);
    for (const [label, ms] of downCpu.groups.slice(0, 14)) console.log(`  ${(ms / megabytes).toFixed(1).padStart(6)} ms/MB  ${label}`);
    report('download', ['owner', 'host'], down);
  } finally {
    meter.stop();
    await browser.close();
    await tracker.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
