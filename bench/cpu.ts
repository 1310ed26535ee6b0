/**
 * CPU time per process and thread, from /proc, for the benchmark's "where the time goes".
 * On this machine the data channel is CPU-bound: a transfer's throughput relative to the raw
 * channel follows the ratio of their CPU costs per MB, so this is what explains the figures.
 *
 * Chromium's threads are labelled by process type (browser, renderer, the network service…)
 * and thread name. A thread that exits between two readings would take its time with it, so
 * every thread is read once a second and its last reading kept. Linux only; elsewhere the
 * meter reads nothing and the benchmark leaves the CPU figures out.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** CPU milliseconds per labelled thread group ("renderer | WebRTC_W_and_N"): both pages' renderers together. */
export type CpuReading = Map<string, number>;

/** USER_HZ: /proc counts CPU time in ticks of 10 ms on Linux. */
const TICK_MS = 10;

export class CpuMeter {
  /** Last reading of every thread seen, by pid/tid, so that threads that ended still count. */
  readonly #threads = new Map<string, { label: string; ticks: number }>();
  /** Whether a process descends from this one, by pid (answered once per process). */
  readonly #descendants = new Map<number, boolean>();
  #timer: NodeJS.Timeout | undefined;

  static readonly available = existsSync('/proc/self/task');

  start(): void {
    if (!CpuMeter.available) return;
    this.#timer = setInterval(() => this.#read(), 1_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Every labelled group's CPU time so far. */
  now(): CpuReading {
    const reading: CpuReading = new Map();
    if (!CpuMeter.available) return reading;
    this.#read();
    for (const { label, ticks } of this.#threads.values()) reading.set(label, (reading.get(label) ?? 0) + ticks * TICK_MS);
    return reading;
  }

  #read(): void {
    for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
      const kind = this.#kind(Number(pid));
      if (!kind) continue;
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // the process ended
      }
      for (const tid of tids) {
        try {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
          // The thread's name is in parentheses and may hold spaces; numbered pools share a label.
          const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
          this.#threads.set(`${pid}/${tid}`, { label: `${kind} | ${name}`, ticks });
        } catch {
          // the thread ended between listing and reading: its last reading stands
        }
      }
    }
  }

  /** What a process is: this Node process, or a Chromium process by its type; else undefined. */
  #kind(pid: number): string | undefined {
    if (pid === process.pid) return 'node (tracker, benchmark driver)';
    let command: string;
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      return undefined;
    }
    if (!/chrom/i.test(command.split(' ')[0] ?? '')) return undefined;
    // Only the browsers this process started: other engineers' Chromiums share the machine.
    if (!this.#ours(pid)) return undefined;
    const type = /--type=(\S+)/.exec(command)?.[1] ?? 'browser';
    const service = /--utility-sub-type=(\S+)/.exec(command)?.[1]?.split('.').pop();
    if (service) return service;
    return type;
  }

  /** Whether `pid` descends from this process (its parents, from /proc, up to init). */
  #ours(pid: number): boolean {
    const known = this.#descendants.get(pid);
    if (known !== undefined) return known;
    let answer = false;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      answer = parent === process.pid || (parent > 1 && this.#ours(parent));
    } catch {
      return false; // the process ended: ask again if it is seen again
    }
    this.#descendants.set(pid, answer);
    return answer;
  }
}

/** CPU milliseconds per group between two readings, largest first, and their total. */
export function cpuBetween(before: CpuReading, after: CpuReading): { totalMs: number; groups: [string, number][] } {
  const groups: [string, number][] = [];
  for (const [label, ms] of after) {
    const spent = ms - (before.get(label) ?? 0);
    if (spent > 0) groups.push([label, spent]);
  }
  groups.sort((a, b) => b[1] - a[1]);
  return { totalMs: groups.reduce((sum, [, ms]) => sum + ms, 0), groups };
}
