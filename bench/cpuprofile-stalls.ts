/**
 * The event-loop stalls in a tracker's V8 CPU profile (BENCH_TRACKER_PROFILE): runs of samples
 * with no `(idle)` among them, longest first, each with what it spent its time in (self time by
 * function, and by the nearest frame of the tracker's own code) and the longest gap between two
 * of its samples (the thread preempted, waiting for a core, rather than running). With the bench's
 * `active-<run>.json` (e.g. `active-1-sqlite.json`) it keeps only the active phase.
 *
 *   node --import tsx bench/cpuprofile-stalls.ts <dir> <run, e.g. 1-sqlite> [stalls] [min ms]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { moduleReader } from './cpuprofile-summary.ts';
import type { Profile } from './v8-profile.ts';

export interface Stall {
  /** Start, on the profile's clock (µs), and wall length (ms). */
  at: number;
  ms: number;
  samples: number;
  /** The longest time between two samples of the run (ms). */
  longestGapMs: number;
  /** Sample node id → µs. */
  time: Map<number, number>;
}

/** Runs of non-idle samples of at least `minMs`, longest first. */
export function findStalls(profile: Profile, window: { from: number; to: number }, minMs: number): Stall[] {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
  const stalls: Stall[] = [];
  let current: Stall | undefined;
  let clock = profile.startTime;
  profile.samples.forEach((id, n) => {
    const delta = profile.timeDeltas[n] ?? 0;
    clock += delta;
    if (clock < window.from || clock > window.to || idle.has(id)) {
      if (current && current.ms >= minMs) stalls.push(current);
      current = undefined;
      return;
    }
    if (!current) current = { at: clock, ms: 0, samples: 0, longestGapMs: 0, time: new Map() };
    else {
      current.ms += delta / 1_000;
      current.longestGapMs = Math.max(current.longestGapMs, delta / 1_000);
    }
    current.samples++;
    current.time.set(id, (current.time.get(id) ?? 0) + delta);
  });
  if (current && current.ms >= minMs) stalls.push(current);
  return stalls.sort((a, b) => b.ms - a.ms);
}

export function describeStalls(profile: Profile, stalls: readonly Stall[], lines = 8): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const moduleOf = moduleReader();
  const name = (id: number) => {
    const frame = byId.get(id)!.callFrame;
    return `${frame.functionName || '(anonymous)'} ${moduleOf(frame.url, frame.lineNumber).replace(/^.*node_modules\//, '')}`;
  };
  const out: string[] = [];
  for (const stall of stalls) {
    out.push(`--- ${stall.ms.toFixed(0)} ms at +${((stall.at - profile.startTime) / 1e6).toFixed(1)} s, ${stall.samples} samples, longest gap ${stall.longestGapMs.toFixed(0)} ms`);
    const self = new Map<string, number>();
    const tracker = new Map<string, number>();
    const root = new Map<string, number>();
    for (const [id, us] of stall.time) {
      self.set(name(id), (self.get(name(id)) ?? 0) + us);
      const chain: number[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) chain.push(at);
      const nearest = chain.find((at) => /^(server|shared)\//.test(moduleOf(byId.get(at)!.callFrame.url, byId.get(at)!.callFrame.lineNumber)));
      const key = nearest === undefined ? '(none)' : name(nearest);
      tracker.set(key, (tracker.get(key) ?? 0) + us);
      // The frames just under (root): what the event loop was running (a timer, I/O, microtasks).
      const top = chain.slice(-4, -1).reverse().map(name).join(' > ');
      root.set(top, (root.get(top) ?? 0) + us);
    }
    for (const [title, table] of [['self', self], ['nearest tracker frame', tracker], ['entry', root]] as const) {
      out.push(`  by ${title}:`);
      for (const [key, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, lines)) out.push(`    ${(us / 1_000).toFixed(0).padStart(5)} ms  ${key}`);
    }
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, run, count, minMs] = process.argv.slice(2);
  if (!dir || !run) throw new Error('usage: node --import tsx bench/cpuprofile-stalls.ts <profile dir> <run, e.g. 1-sqlite> [stalls] [min ms]');
  const active = JSON.parse(readFileSync(join(dir, `active-${run}.json`), 'utf8')) as { trackers: number[]; beganUs: number; endedUs: number };
  for (const pid of active.trackers) {
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
    if (!file) continue;
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const stalls = findStalls(profile, { from: active.beganUs, to: active.endedUs }, Number(minMs ?? 50));
    console.log(`=== tracker ${pid} (${file}), active phase: ${stalls.length} stalls over ${minMs ?? 50} ms`);
    console.log(describeStalls(profile, stalls.slice(0, Number(count ?? 5))));
  }
}
