/**
 * Where a tracker's time went, from a V8 CPU profile written by the trackers bench
 * (BENCH_TRACKER_PROFILE): self time by package, by module and by function, and time by the
 * nearest frame of the tracker's own code (server/, shared/). The tracker runs as one esbuild
 * bundle, so a frame's module is read from the bundle's `// path` markers. With the bench's
 * `active-<run>.json` (e.g. `active-1-sqlite.json`) it keeps only the active phase.
 *
 *   node --import tsx bench/cpuprofile-summary.ts <dir> <run, e.g. 1-sqlite> [lines]
 *
 * Mind that a sample is wall time: on a saturated machine a thread preempted inside a system
 * call (`writev`, a socket write that woke PostgreSQL) counts there while it waits for a core.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile, ProfileNode } from './v8-profile.ts';

/** Module of a frame: for the bundle, the last `// path` marker at or above its line. */
export function moduleReader(): (url: string, line: number) => string {
  const marks = new Map<string, [number, string][]>();
  return (url, line) => {
    if (!url) return '(native)';
    if (!url.endsWith('.mjs')) return url;
    let found = marks.get(url);
    if (!found) {
      found = [];
      readFileSync(url.replace('file://', ''), 'utf8')
        .split('\n')
        .forEach((text, n) => {
          const marker = /^\/\/ (\S+\.(?:[cm]?js|ts|json))$/.exec(text);
          if (marker) found!.push([n, marker[1]!]);
        });
      marks.set(url, found);
    }
    let low = 0;
    let high = found.length - 1;
    let best = '(bundle head)';
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (found[mid]![0] <= line) {
        best = found[mid]![1];
        low = mid + 1;
      } else high = mid - 1;
    }
    return best;
  };
}

export function summarize(profile: Profile, window: { from: number; to: number }, lines: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const time = new Map<number, number>();
  let clock = profile.startTime;
  profile.samples.forEach((id, n) => {
    clock += profile.timeDeltas[n] ?? 0;
    if (clock >= window.from && clock <= window.to) time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[n] ?? 0));
  });
  const moduleOf = moduleReader();
  const packageOf = (module: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module)?.[1] ?? module.replace(/\/[^/]*$/, '/');
  const tables = { package: new Map<string, number>(), module: new Map<string, number>(), function: new Map<string, number>(), 'nearest tracker frame (idle left out)': new Map<string, number>() };
  const add = (table: Map<string, number>, key: string, value: number) => table.set(key, (table.get(key) ?? 0) + value);
  let total = 0;
  for (const [id, value] of time) {
    total += value;
    const frame = byId.get(id)!.callFrame;
    const module = moduleOf(frame.url, frame.lineNumber);
    add(tables.package, frame.url ? packageOf(module) : frame.functionName || '(native)', value);
    add(tables.module, module, value);
    add(tables.function, `${frame.functionName || '(anonymous)'} ${module.replace(/^.*node_modules\//, '')}`, value);
    if (frame.functionName === '(idle)') continue;
    let nearest = '(none)';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const up = byId.get(at)!.callFrame;
      const upModule = moduleOf(up.url, up.lineNumber);
      if (/^(server|shared)\//.test(upModule)) {
        nearest = `${up.functionName || '(anonymous)'} ${upModule}`;
        break;
      }
    }
    add(tables['nearest tracker frame (idle left out)'], nearest, value);
  }
  const out = [`${(total / 1e6).toFixed(1)} s of samples`];
  for (const [name, table] of Object.entries(tables)) {
    out.push(`--- by ${name}`);
    for (const [key, value] of [...table].sort((a, b) => b[1] - a[1]).slice(0, lines)) out.push(`${((100 * value) / total).toFixed(1).padStart(5)} %  ${(value / 1e6).toFixed(2).padStart(7)} s  ${key}`);
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, run, lines] = process.argv.slice(2);
  if (!dir || !run) throw new Error('usage: node --import tsx bench/cpuprofile-summary.ts <profile dir> <run, e.g. 1-sqlite> [lines]');
  const active = JSON.parse(readFileSync(join(dir, `active-${run}.json`), 'utf8')) as { trackers: number[]; beganUs: number; endedUs: number };
  for (const pid of active.trackers) {
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
    if (!file) continue;
    console.log(`=== tracker ${pid} (${file}), active phase only`);
    console.log(summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile, { from: active.beganUs, to: active.endedUs }, Number(lines ?? 25)));
  }
}
