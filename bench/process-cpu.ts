/**
 * Who used the machine's CPU during a bench phase, from /proc (Linux): a process (with the
 * children it has reaped), a process tree (PostgreSQL's postmaster and its backends), and the
 * whole machine, so that a bench can tell a slow tracker from a machine with no core to spare.
 * The one reader of /proc/<pid>/stat for the benches (its command field may hold spaces and
 * parentheses: every reading must split after the last one).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * A process's parent and CPU seconds (utime + stime as `own`, cutime + cstime of the children it
 * has waited for as `children`), or undefined once it is gone.
 */
export function processTimes(pid: number): { own: number; children: number; parent: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the command: state (3), ppid (4) … utime (14), stime (15), cutime (16), cstime (17).
  const field = (n: number) => Number(fields[n - 3]);
  return { parent: field(4), own: (field(14) + field(15)) / TICKS_PER_SECOND, children: (field(16) + field(17)) / TICKS_PER_SECOND };
}

/** CPU seconds a process has used, with the children it has waited for. */
export function processCpuSeconds(pid: number): number {
  const t = processTimes(pid);
  return t ? t.own + t.children : 0;
}

/** CPU seconds of a process and of its children, live or reaped (PostgreSQL's backends under the postmaster). */
export function treeCpuSeconds(root: number): number {
  let total = processCpuSeconds(root);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const t = processTimes(Number(entry));
    if (t?.parent === root) total += t.own + t.children;
  }
  return total;
}

/** The postmaster's process id, from the first line of the data directory's postmaster.pid. */
export function postmasterPid(dataDirectory: string): number | undefined {
  const file = `${dataDirectory}/postmaster.pid`;
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').split('\n')[0]) || undefined;
}

/** Busy and total CPU time of the whole machine so far (/proc/stat), in seconds of all cores together. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy: busy / TICKS_PER_SECOND, total: (busy + idle! + iowait!) / TICKS_PER_SECOND };
}

export const CORES = cpus().length;

/**
 * Seconds a thread has spent ready to run but waiting for a core (the second field of
 * /proc/<pid>/task/<tid>/schedstat, in nanoseconds), or NaN where the kernel does not say. For a
 * Node process's main thread (tid = pid) this is time its event loop could have run and did not:
 * the part of a latency that is the machine's, not the process's.
 */
export function runQueueSeconds(pid: number, tid = pid): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return Number.NaN;
  }
}
