/**
 * Many trackers, measured as an operator would try them: authenticated Socket.IO clients (each
 * its own ECDSA identity, the real challenge and signature) from many loopback addresses, so
 * that the per-address limits are not what is measured, against tracker processes (the esbuild
 * bundle of server/main.ts, as the cluster tests run it), each run on its database: the embedded
 * SQLite file (`npm start`'s default: DB_PATH in a temporary directory, no DATABASE_URL; one
 * tracker) or one throw-away PostgreSQL from Debian's packages (tests/support/postgres.ts) shared
 * by the run's trackers. Each tracker's clients run in a process of their own
 * (bench/tracker-clients.ts).
 *
 * For one tracker on SQLite, one on PostgreSQL, then two on the same PostgreSQL: how many peers they hold and how fast
 * they admit them, resident memory per peer (the growth of each tracker's RSS from before the
 * first peer to after the last, divided by its peers), and, with a tenth of each tracker's
 * peers active (each lists its files every 10 s, staggered) and 5 placements a second from
 * them per tracker, the placement and listing ack latency p50/p99; with them, each tracker's
 * event-loop delay and CPU over that phase (from its /metrics) and the machine's load average.
 * Over that phase it also says where the machine's CPU went, and on PostgreSQL names the lock
 * waiters (each second, which statement waits behind which, from pg_stat_activity and
 * pg_blocking_pids), times each tracker's waits for a pooled database connection (not a lock: its
 * /metrics) and counts the statements (pg_stat_statements). On SQLite none of these exist: the
 * database is the tracker's own synchronous calls, inside its CPU and its event-loop delay.
 *
 * `BENCH_ONLY=trackers npm run bench` runs only this and rewrites only its section of
 * docs/BENCHMARKS.md; `BENCH_TRACKERS=0` leaves it out of a full run (the last section is kept).
 * BENCH_TRACKER_PEERS (peers per tracker, default 10000), BENCH_TRACKER_SECONDS (length of the
 * active phase, default 120) and BENCH_TRACKER_RUNS (the runs, `trackers:database`, default
 * `1:sqlite,1:postgresql,2:postgresql`; bench/tracker-runs.ts) size it; BENCH_TRACKER_PROFILE=<dir>
 * has each tracker write a V8 CPU profile there (`--cpu-prof`); BENCH_TRACKER_WARMUP (seconds of
 * the same load before the measured phase, default 15) and BENCH_TRACKER_PG_LOG=<file> (PostgreSQL's
 * log of slow statements and lock waits) below; BENCH_TRACKER_PLACEMENTS (placements a second per tracker,
 * default 5) changes the load; BENCH_TRACKER_NODE_FLAGS adds Node options to the trackers' and
 * client processes' command lines (to try one); BENCH_TRACKER_CLIENTS_NICE runs the client
 * processes at that nice value (to see the trackers with the load generators yielding the cores).
 * Run alone: `node --import tsx bench/trackers.ts`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate, openDatabase } from '../server/db/database.ts';
import { TRACKER_NODE_FLAGS } from '../server/node-flags.ts';
import { startPostgresCluster, withClient, type PostgresCluster } from '../tests/support/postgres.ts';
import { startTrackerProcess, type TrackerProcess } from '../tests/support/tracker-process.ts';
import { CORES, machineCpuSeconds, postmasterPid, processCpuSeconds, runQueueSeconds, treeCpuSeconds } from './process-cpu.ts';
import { machineInfo, wholeNumberEnv } from './report.ts';
import { PER_ADDRESS, type ClientsCommand, type ClientsReport } from './tracker-clients.ts';
import { databaseName, parseNodeFlags, placementP99Verdicts, runFileName, runLabel, trackerRunsFromEnv, type TrackerDatabase, type TrackerRunPlan } from './tracker-runs.ts';

const PEERS = wholeNumberEnv('BENCH_TRACKER_PEERS', 10_000);
/** Which runs: how many trackers each, on which database (default one on SQLite, one on PostgreSQL, then two on PostgreSQL). */
const RUNS = trackerRunsFromEnv(process.env);
/** A directory: each tracker writes a V8 CPU profile of its whole life there (`--cpu-prof`). */
const PROFILE_DIR = process.env.BENCH_TRACKER_PROFILE;
// 120 s: about 600 placements per tracker, so the p99 is the 6th slowest rather than the 3rd of 60 s.
const ACTIVE_SECONDS = wholeNumberEnv('BENCH_TRACKER_SECONDS', 120);
/**
 * The same load for this long before the measured phase (BENCH_TRACKER_WARMUP, 0 for none): the
 * trackers' first placements, listings and deletions run code no admission ran (V8 compiles it as
 * it goes; each pooled PostgreSQL connection prepares each statement the first time it sends it),
 * and the admission's own after-work (the last "peers online" broadcasts to every socket) lands in
 * these seconds. Measured and reported apart, beside the table, not dropped.
 */
const WARMUP_SECONDS = wholeNumberEnv('BENCH_TRACKER_WARMUP', 15, 0);
/**
 * A file: PostgreSQL's log goes there (BENCH_TRACKER_PG_LOG), with every lock wait over 10 ms
 * (and who held the lock), every statement over 20 ms, autovacuum's runs and checkpoints: what
 * the database did when a placement was slow. Off by default (the log costs the server a little).
 */
const PG_LOG = process.env.BENCH_TRACKER_PG_LOG;
/**
 * Node options added to the trackers' and their client processes' command lines, after
 * TRACKER_NODE_FLAGS (BENCH_TRACKER_NODE_FLAGS, space-separated): to try a V8 or Node flag
 * against the same run without it, as an operator would before adding it to server/node-flags.ts.
 */
const EXTRA_NODE_FLAGS = parseNodeFlags(process.env.BENCH_TRACKER_NODE_FLAGS);
/**
 * The client processes' nice value (BENCH_TRACKER_CLIENTS_NICE, 0 to 19, default 0): at 19 they
 * run on what the trackers and PostgreSQL leave of the cores, closer to clients on machines of
 * their own. An experiment, not the bench's default.
 */
const CLIENTS_NICE = wholeNumberEnv('BENCH_TRACKER_CLIENTS_NICE', 0, 0);
const PG_LOG_SETTINGS = ['log_lock_waits=on', 'deadlock_timeout=10ms', 'log_min_duration_statement=20', 'log_line_prefix=%m [%p] %a ', 'log_autovacuum_min_duration=0', 'log_checkpoints=on'];
/** Placements a second from each tracker's active peers (BENCH_TRACKER_PLACEMENTS, default 5, the issue's load). */
const PLACEMENTS_PER_SECOND = wholeNumberEnv('BENCH_TRACKER_PLACEMENTS', 5);
const HEADING = '## Many trackers';
const REPORT = 'docs/BENCHMARKS.md';
const GOALS = { peersPerTracker: 10_000, bytesPerPeer: 30 * 1024, placementP99Ms: 50 };

interface Run {
  trackers: number;
  database: TrackerDatabase;
  peersPerTracker: number[];
  admittedPerSecond: number;
  failedAdmissions: number;
  /** The first admission errors, as the clients saw them. */
  admissionErrors: string[];
  rssBytesPerPeer: number[];
  placement: { p50: number; p99: number; n: number; refused: number; refusals: string[] };
  /** The warm-up before the active phase (WARMUP_SECONDS, same load), its placements as the clients timed them; absent without one. */
  warmup?: { seconds: number; placement: { p50: number; p99: number; max: number; n: number } };
  /** The same placements as the trackers timed them (from the request read to the answer sent: no client, no socket), as bucket bounds (ms). */
  placementAtTracker?: { p50: number; p99: number };
  listing: { p50: number; p99: number; n: number };
  /** Per tracker, over the active phase: event-loop delay (perf_hooks.monitorEventLoopDelay, through /metrics), CPU and garbage collections. */
  loop: { p50: number; p99: number; max: number; cpuPercent: number; gc: GcTotals }[];
  /** The machine's 1-minute load average, sampled every 5 s from admission to the end of the active phase: mean and highest. */
  load: { mean: number; max: number };
  /** Peers no longer connected after the active phase. */
  dropped: number;
  /** Over the active phase, from the trackers' counters: fragments placed (8 per upload asked for, more if failed stores were placed again) and transfers ended. */
  fragmentsPlaced: number;
  transfersEnded: number;
  /** PostgreSQL only (absent on SQLite): backends of the bench's database waiting for a lock (pg_stat_activity, each second of the active phase). */
  lockWaits?: LockWaits;
  /** PostgreSQL only: per tracker, over the active phase, waits for a connection of its pool (count, those over 10 ms and 100 ms, p99 bound in ms, total seconds). */
  poolWaits?: PoolWaits[];
  /** PostgreSQL only: statements it ran for the bench's database over the active phase (pg_stat_statements), if it could count them. */
  statements?: Statements;
  /**
   * Over the active phase, in % of one core (the machine has CORES): each client process's CPU
   * and event-loop delay (ms), PostgreSQL's (postmaster and backends; absent on SQLite, whose work
   * is the tracker's own CPU), this bench process's, the whole machine's, and what the rest of the
   * machine used (other work beside the bench).
   */
  harness: { clients: { cpuPercent: number; p99: number; max: number }[]; postgresPercent?: number; benchPercent: number; machinePercent: number; othersPercent: number; trackerRunQueueSeconds: number[] };
}

/** What the lock watch found over the active phase. */
interface LockWaits {
  /** Backends waiting for a lock, sampled each second: mean, highest, share of samples with any. */
  mean: number;
  max: number;
  share: number;
  /** Backends in a transaction but idle (waiting for their tracker's next statement), on average per sample. */
  idleInTransaction: number;
  /** Who waited on whom: the waiting statement, the statement (or state) of a backend blocking it, and how many samples saw that pair. */
  pairs: { waiter: string; blocker: string; samples: number }[];
  /** Age of the waiters' transactions when sampled (ms): median and highest. */
  waiterXactMs: { p50: number; max: number };
}

/** What pg_stat_statements counted over the phase: all statements, their time executing, and the most called. */
interface Statements {
  calls: number;
  execSeconds: number;
  top: { query: string; calls: number; ms: number }[];
}

/** Starts counting the database's statements anew (pg_stat_statements, preloaded by measureTrackers); false where it is not there. */
async function resetStatements(url: string): Promise<boolean> {
  return withClient(url, async (client) => {
    try {
      await client.query('create extension if not exists pg_stat_statements');
      await client.query('select pg_stat_statements_reset()');
      return true;
    } catch {
      return false;
    }
  });
}

async function readStatements(url: string, database: string): Promise<Statements> {
  const { rows } = await withClient(url, (client) =>
    client.query<{ query: string; calls: string; ms: number }>(
      `select query, calls, total_exec_time::float8 as ms from pg_stat_statements s join pg_database d on d.oid = s.dbid
       where d.datname = $1 and query not like '%pg_stat_%' order by calls desc`,
      [database],
    ),
  );
  return {
    calls: rows.reduce((sum, row) => sum + Number(row.calls), 0),
    execSeconds: rows.reduce((sum, row) => sum + row.ms, 0) / 1_000,
    top: rows.slice(0, 12).map((row) => ({ query: statementLabel(row.query), calls: Number(row.calls), ms: row.ms })),
  };
}

/** A statement as the lock watch names it: its first words, parameter lists folded. */
export function statementLabel(query: string): string {
  return query
    .replace(/\s+/g, ' ')
    .replace(/\(\$\d+(?:, \$\d+)*\)/g, '($…)')
    .replace(/\$\d+/g, '$')
    .slice(0, 140);
}

/**
 * Samples, each second, the database's backends: how many wait for a lock, which statement each
 * waiter runs and what the backends blocking it (pg_blocking_pids) run or are doing (a blocker
 * "idle in transaction" holds its locks while its tracker prepares the next statement).
 */
async function watchLockWaits(url: string, database: string): Promise<{ stop(): Promise<LockWaits> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-lock-watch' });
  await client.connect();
  const samples: number[] = [];
  const idle: number[] = [];
  const xactMs: number[] = [];
  const pairs = new Map<string, number>();
  let sampling: Promise<unknown> = Promise.resolve();
  interface Backend {
    pid: number;
    state: string | null;
    wait_event_type: string | null;
    wait_event: string | null;
    query: string;
    xact_ms: number | null;
    blockers: number[];
  }
  const timer = setInterval(() => {
    sampling = client
      .query<Backend>(
        `select pid, state, wait_event_type, wait_event, query, (extract(epoch from clock_timestamp() - xact_start) * 1000)::float8 as xact_ms, pg_blocking_pids(pid) as blockers
         from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and application_name <> 'bench-lock-watch'`,
        [database],
      )
      .then(({ rows }) => {
        const byPid = new Map(rows.map((row) => [row.pid, row]));
        const waiters = rows.filter((row) => row.wait_event_type === 'Lock');
        samples.push(waiters.length);
        idle.push(rows.filter((row) => row.state === 'idle in transaction').length);
        for (const waiter of waiters) {
          if (waiter.xact_ms !== null) xactMs.push(waiter.xact_ms);
          for (const pid of waiter.blockers) {
            const blocker = byPid.get(pid);
            const what = !blocker ? 'another database or gone' : blocker.state === 'active' ? `${blocker.wait_event_type === 'Lock' ? '(itself waiting) ' : ''}${statementLabel(blocker.query)}` : `${blocker.state} after ${statementLabel(blocker.query)}`;
            const key = `${statementLabel(waiter.query)}\u0000${what}`;
            pairs.set(key, (pairs.get(key) ?? 0) + 1);
          }
        }
      })
      .catch(() => undefined);
  }, 1_000);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      await client.end();
      const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
      return {
        mean,
        max: Math.max(0, ...samples),
        share: (100 * samples.filter((n) => n > 0).length) / Math.max(1, samples.length),
        idleInTransaction: idle.reduce((a, b) => a + b, 0) / Math.max(1, idle.length),
        pairs: [...pairs]
          .map(([key, n]) => {
            const [waiter, blocker] = key.split('\u0000');
            return { waiter: waiter!, blocker: blocker!, samples: n };
          })
          .sort((a, b) => b.samples - a.samples),
        waiterXactMs: { p50: percentile(xactMs, 50), max: Math.max(0, ...xactMs) },
      };
    },
  };
}

/** A run that could not be measured, and why (what it threw). */
interface Failed extends TrackerRunPlan {
  error: string;
}

/** V8's heap as a tracker's /metrics gives it: committed per space, and used in all. */
async function heapOf(url: string): Promise<{ committed: Map<string, number>; used: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const committed = new Map<string, number>();
  for (const [, space, value] of text.matchAll(/^peercloud_nodejs_heap_space_size_total_bytes\{[^}]*space="([^"]+)"[^}]*\} (\S+)$/gm)) committed.set(space!, Number(value));
  return { committed, used: Number(/^peercloud_nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0) };
}

/** The growth of V8's heap over admission, per peer, beside the RSS's. */
export function describeHeapGrowth(before: { committed: Map<string, number>; used: number }, after: { committed: Map<string, number>; used: number }, peers: number, rssPerPeer: number): string {
  const kb = (bytes: number) => `${(bytes / Math.max(1, peers) / 1024).toFixed(1)}`;
  const grew = (space: string) => (after.committed.get(space) ?? 0) - (before.committed.get(space) ?? 0);
  const committed = [...after.committed.keys()].reduce((sum, space) => sum + grew(space), 0);
  return `committed ${kb(committed)} KB (new space ${kb(grew('new'))}, old ${kb(grew('old'))}), used ${kb(after.used - before.used)} KB, the rest ${(rssPerPeer / 1024 - committed / Math.max(1, peers) / 1024).toFixed(1)} KB (native: sockets, buffers, malloc)`;
}

/** What a tracker's /metrics says of its event loop (reset at each scrape) and its CPU so far. */
async function scrapeLoop(url: string): Promise<{ p50: number; p99: number; max: number; cpuSeconds: number; fragmentsPlaced: number; transfersEnded: number; gc: GcTotals; pool: PoolBuckets; placeSeconds: Map<number, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^peercloud_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  /** The sum of a counter's series. */
  const sum = (name: string) => [...text.matchAll(new RegExp(`^peercloud_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))].reduce((total, match) => total + Number(match[1]), 0);
  return {
    fragmentsPlaced: sum('placements_total'),
    transfersEnded: sum('transfers_total'),
    p50: value('nodejs_eventloop_lag_p50_seconds') * 1_000,
    p99: value('nodejs_eventloop_lag_p99_seconds') * 1_000,
    max: value('nodejs_eventloop_lag_max_seconds') * 1_000,
    cpuSeconds: value('process_cpu_seconds_total'),
    gc: gcTotals(text),
    pool: poolBuckets(text),
    placeSeconds: requestBuckets(text, 'file:place'),
  };
}

/** The tracker's own time per request of one kind so far (peercloud_request_seconds): cumulative counts per bucket bound (seconds). */
function requestBuckets(metrics: string, request: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const [, labels, value] of metrics.matchAll(/^peercloud_request_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    if (!labels!.includes(`request="${request}"`)) continue;
    const le = /le="([^"]+)"/.exec(labels!)?.[1];
    // Prometheus writes the last bound "+Inf", which Number() does not read.
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (le !== undefined) buckets.set(bound, (buckets.get(bound) ?? 0) + Number(value));
  }
  return buckets;
}

/** The bucket bound (ms) under which a share of the phase's requests fall, all trackers together; Infinity past the last. */
function bucketPercentile(before: Map<number, number>[], after: Map<number, number>[], p: number): number {
  const within = (bound: number) => after.reduce((sum, buckets, n) => sum + (buckets.get(bound) ?? 0) - (before[n]!.get(bound) ?? 0), 0);
  const bounds = [...(after[0]?.keys() ?? [])].filter(Number.isFinite).sort((a, b) => a - b);
  const count = within(Number.POSITIVE_INFINITY);
  if (count === 0) return Number.NaN;
  const bound = bounds.find((b) => within(b) >= (p / 100) * count);
  return bound === undefined ? Number.POSITIVE_INFINITY : bound * 1_000;
}

/** The pool-wait histogram so far: acquisitions at most each bucket's bound (seconds), all of them, and their total wait. */
interface PoolBuckets {
  buckets: Map<number, number>;
  count: number;
  seconds: number;
}

function poolBuckets(metrics: string): PoolBuckets {
  const buckets = new Map<number, number>();
  for (const [, bound, value] of metrics.matchAll(/^peercloud_db_pool_wait_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)$/gm)) buckets.set(Number(bound), Number(value));
  const one = (suffix: string) => Number(new RegExp(`^peercloud_db_pool_wait_seconds_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
  return { buckets, count: one('count'), seconds: one('sum') };
}

/** Waits for a pooled connection over the phase. */
interface PoolWaits {
  count: number;
  over10ms: number;
  over100ms: number;
  /** The smallest bucket bound under which 99 % of the waits fall (ms); Infinity past the last. */
  p99Ms: number;
  seconds: number;
}

function poolWaitsDuring(before: PoolBuckets, after: PoolBuckets): PoolWaits {
  const count = after.count - before.count;
  const within = (bound: number) => (after.buckets.get(bound) ?? 0) - (before.buckets.get(bound) ?? 0);
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const p99 = bounds.find((bound) => within(bound) >= 0.99 * count);
  return { count, over10ms: count - within(0.01), over100ms: count - within(0.1), p99Ms: p99 === undefined ? Number.POSITIVE_INFINITY : p99 * 1_000, seconds: after.seconds - before.seconds };
}

/** Garbage collections so far (prom-client's nodejs_gc_duration_seconds): all, major (mark-compact) ones, those over 100 ms, and their time. */
interface GcTotals {
  count: number;
  major: number;
  over100ms: number;
  seconds: number;
}

function gcTotals(metrics: string): GcTotals {
  const totals: GcTotals = { count: 0, major: 0, over100ms: 0, seconds: 0 };
  for (const [, suffix, labels, value] of metrics.matchAll(/^peercloud_nodejs_gc_duration_seconds_(count|sum|bucket)\{([^}]*)\} (\S+)$/gm)) {
    const n = Number(value);
    if (suffix === 'sum') totals.seconds += n;
    if (suffix === 'count') {
      totals.count += n;
      totals.over100ms += n;
      if (/kind="major"/.test(labels!)) totals.major += n;
    }
    // Those at most 100 ms, by kind: the rest of the count was longer.
    if (suffix === 'bucket' && /le="0\.1"/.test(labels!)) totals.over100ms -= n;
  }
  return totals;
}

const gcDuring = (before: GcTotals, after: GcTotals): GcTotals => ({
  count: after.count - before.count,
  major: after.major - before.major,
  over100ms: after.over100ms - before.over100ms,
  seconds: after.seconds - before.seconds,
});

/** Where, in n values sorted from the fastest, `percentile` reads the p-th percentile. */
const percentileIndex = (n: number, p: number) => Math.min(n - 1, Math.floor((p / 100) * n));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[percentileIndex(sorted.length, p)]!;
}

/**
 * The processes a run started (trackers, client processes), killed if the bench is stopped by a
 * signal: a signal sent to the bench alone (`kill`, `timeout`) ends it without its `finally`, and
 * its children ran on: a tracker left by an interrupted run on 2026-12-03 served nobody for 43
 * minutes, its CPU in every run after it. (PostgreSQL's cluster stops by itself when the bench's
 * end closes its stdin: tests/support/postgres.ts.)
 */
const started = new Set<ChildProcess>();
let stopsChildrenOnSignal = false;
function killedWithTheBench(child: ChildProcess): void {
  started.add(child);
  child.once('exit', () => started.delete(child));
  if (stopsChildrenOnSignal) return;
  stopsChildrenOnSignal = true;
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const)
    process.once(signal, () => {
      for (const running of started) running.kill('SIGKILL');
      process.exit(128 + number);
    });
}

/** One tracker's clients, in their own process (bench/tracker-clients.ts). */
class Clients {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  get pid(): number {
    return this.#child.pid!;
  }

  constructor() {
    // With the trackers' node flags too: the process that times the acks holds 10,000 sockets,
    // and the memory reducer's compaction of its heap (as of a tracker's: server/node-flags.ts)
    // would be counted in every ack it was timing.
    const nodeArgs = [...TRACKER_NODE_FLAGS, ...EXTRA_NODE_FLAGS, '--import', 'tsx', '--expose-gc'];
    // Through nice(1) rather than setpriority on the child: every thread of it (V8's collector's too) at that priority.
    const launch = CLIENTS_NICE > 0 ? { execPath: 'nice', execArgv: ['-n', String(Math.min(19, CLIENTS_NICE)), process.execPath, ...nodeArgs] } : { execArgv: nodeArgs };
    this.#child = fork(fileURLToPath(new URL('./tracker-clients.ts', import.meta.url)), { ...launch, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    killedWithTheBench(this.#child);
  }

  ask<K extends ClientsReport['kind']>(command: ClientsCommand): Promise<Extract<ClientsReport, { kind: K }>> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench/tracker-clients.ts exited (${code}) during "${command.kind}"`));
      this.#child.once('exit', onExit);
      this.#child.once('message', (report) => {
        this.#child.off('exit', onExit);
        resolve(report as Extract<ClientsReport, { kind: K }>);
      });
      this.#child.send(command);
    });
  }

  async close(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.connected) await this.ask<'closed'>({ kind: 'close' }).catch(() => undefined);
    await Promise.race([this.#exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    this.#child.kill();
  }
}

/** The trackers' settings: defaults, except what lets one bench client be 10,000 peers. */
const TRACKER_ENV = {
  LOG_LEVEL: 'warn',
  // Each peer's transfers to hosts that never answer (bench clients) expire on their own.
  TRANSFER_IDLE_TIMEOUT: '30s',
};

/** Where a run's trackers keep their state: what they are started with and, on PostgreSQL, the database the bench watches. */
interface RunDatabase {
  env: Record<string, string>;
  postgres?: { url: string; adminUrl: string; name: string };
  drop(): Promise<void>;
}

async function prepareDatabase(plan: TrackerRunPlan, cluster: PostgresCluster | undefined): Promise<RunDatabase> {
  if (plan.database === 'sqlite') {
    // `npm start`'s default: the SQLite file at DB_PATH, no DATABASE_URL (startTrackerProcess
    // passes none on), in a directory of the machine's disk as ./data would be. The tracker
    // migrates it as it starts.
    const dir = mkdtempSync(join(tmpdir(), 'peercloud-bench-sqlite-'));
    return { env: { DB_PATH: join(dir, 'peercloud.db') }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (!cluster) throw new Error('a PostgreSQL run without its cluster');
  const name = `bench_${plan.trackers}_${Date.now()}`;
  const adminUrl = cluster.url('postgres');
  await withClient(adminUrl, (client) => client.query(`create database ${name}`));
  const url = cluster.url(name);
  // Migrated once before the trackers start, so that N of them starting together find it done.
  const opened = openDatabase({ dbPath: '', databaseUrl: url });
  await migrate(opened.db);
  await opened.close();
  return {
    env: { DATABASE_URL: url },
    postgres: { url, adminUrl, name },
    drop: async () => {
      await withClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** The warm-up: the active phase's load for WARMUP_SECONDS, its placements kept apart. */
async function warmUp(clients: Clients[]): Promise<NonNullable<Run['warmup']>> {
  const reports = await Promise.all(clients.map((client) => client.ask<'active'>({ kind: 'active', seconds: WARMUP_SECONDS, placementsPerSecond: PLACEMENTS_PER_SECOND })));
  const placements = reports.flatMap((report) => report.placements);
  return { seconds: WARMUP_SECONDS, placement: { p50: percentile(placements, 50), p99: percentile(placements, 99), max: Math.max(0, ...placements), n: placements.length } };
}

async function measure(plan: TrackerRunPlan, cluster: PostgresCluster | undefined): Promise<Run> {
  const count = plan.trackers;
  const label = runLabel(plan);
  const database = await prepareDatabase(plan, cluster);
  const postgres = database.postgres;
  const trackers: TrackerProcess[] = [];
  const clients: Clients[] = [];
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(loadavg()[0]!), 5_000);
  try {
    const nodeArgs = [...EXTRA_NODE_FLAGS, ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])];
    for (let n = 0; n < count; n++) {
      trackers.push(await startTrackerProcess({ ...TRACKER_ENV, ...database.env, TRACKER_ID: `bench${n + 1}` }, undefined, { nodeArgs }));
      killedWithTheBench(trackers.at(-1)!.child);
    }
    for (let n = 0; n < count; n++) clients.push(new Clients());
    const before = trackers.map((tracker) => tracker.rss());
    const heapBefore = await Promise.all(trackers.map((tracker) => heapOf(tracker.url)));
    const began = performance.now();
    const admitted = await Promise.all(trackers.map((tracker, n) => clients[n]!.ask<'admitted'>({ kind: 'admit', url: tracker.url, count: PEERS, offset: n * PEERS })));
    const seconds = (performance.now() - began) / 1_000;
    const held = admitted.map(({ held }) => held);
    const rssBytesPerPeer = trackers.map((tracker, n) => (tracker.rss() - before[n]!) / Math.max(1, held[n]!));
    for (const error of admitted.flatMap(({ firstErrors }) => firstErrors)) console.log(`  admission failed: ${error}`);
    const heapAfter = await Promise.all(trackers.map((tracker) => heapOf(tracker.url)));
    console.log(`  of the RSS per peer, V8's heap (its /metrics; garbage not yet collected included): ${heapAfter.map((after, n) => describeHeapGrowth(heapBefore[n]!, after, held[n]!, rssBytesPerPeer[n]!)).join('; ')}`);
    console.log(`${label}: ${held.join(' + ')} peers in ${seconds.toFixed(0)} s; RSS per peer ${rssBytesPerPeer.map((b) => (b / 1024).toFixed(1)).join(', ')} KB; active phase ${ACTIVE_SECONDS} s…`);
    const warmup = WARMUP_SECONDS > 0 ? await warmUp(clients) : undefined;
    if (warmup) console.log(`  warm-up, ${warmup.seconds} s of the same load (not measured below): placement p50 / p99 / max ${warmup.placement.p50.toFixed(1)} / ${warmup.placement.p99.toFixed(1)} / ${warmup.placement.max.toFixed(1)} ms (${warmup.placement.n})`);
    // Scraping resets the trackers' event-loop histograms: what the second scrape reads is the active phase's.
    const loopBefore = await Promise.all(trackers.map((tracker) => scrapeLoop(tracker.url)));
    const postmaster = postgres ? postmasterPid(await withClient(postgres.adminUrl, async (client) => (await client.query<{ data_directory: string }>('show data_directory')).rows[0]!.data_directory)) : undefined;
    const cpuOf = () => ({
      trackers: trackers.map((tracker) => processCpuSeconds(tracker.child.pid!)),
      trackerWaits: trackers.map((tracker) => runQueueSeconds(tracker.child.pid!)),
      clients: clients.map((client) => processCpuSeconds(client.pid)),
      // No server on SQLite: the database's work is in the tracker's own CPU.
      postgres: !postgres ? 0 : postmaster ? treeCpuSeconds(postmaster) : Number.NaN,
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      machine: machineCpuSeconds(),
    });
    const counting = postgres ? await resetStatements(postgres.url) : false;
    const cpuBefore = cpuOf();
    const activeBegan = performance.now();
    const activeBeganUs = Number(process.hrtime.bigint() / 1000n);
    const waits = postgres ? await watchLockWaits(postgres.url, postgres.name) : undefined;
    const active = await Promise.all(clients.map((client) => client.ask<'active'>({ kind: 'active', seconds: ACTIVE_SECONDS, placementsPerSecond: PLACEMENTS_PER_SECOND })));
    const loopAfter = await Promise.all(trackers.map((tracker) => scrapeLoop(tracker.url)));
    const activeSeconds = (performance.now() - activeBegan) / 1_000;
    const cpuAfter = cpuOf();
    // The active phase on the monotonic clock V8's profiles use (µs): a profile of the whole life can be cut to it.
    if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
    if (PROFILE_DIR) writeFileSync(`${PROFILE_DIR}/active-${runFileName(plan)}.json`, `${JSON.stringify({ trackers: trackers.map((tracker) => tracker.child.pid), beganUs: activeBeganUs, endedUs: Number(process.hrtime.bigint() / 1000n) })}\n`);
    const lockWaits = await waits?.stop();
    const statements = counting && postgres ? await readStatements(postgres.url, postgres.name) : undefined;
    const percent = (seconds: number) => (100 * seconds) / activeSeconds;
    const machinePercent = (100 * CORES * (cpuAfter.machine.busy - cpuBefore.machine.busy)) / Math.max(1e-9, cpuAfter.machine.total - cpuBefore.machine.total);
    const ours =
      [...cpuAfter.trackers.map((after, n) => after - cpuBefore.trackers[n]!), ...cpuAfter.clients.map((after, n) => after - cpuBefore.clients[n]!)].reduce((a, b) => a + b, 0) +
      (cpuAfter.postgres - cpuBefore.postgres) +
      (cpuAfter.bench - cpuBefore.bench);
    const harness = {
      clients: active.map((report, n) => ({ cpuPercent: percent(cpuAfter.clients[n]! - cpuBefore.clients[n]!), p99: report.loop.p99, max: report.loop.max })),
      ...(postgres ? { postgresPercent: percent(cpuAfter.postgres - cpuBefore.postgres) } : {}),
      benchPercent: percent(cpuAfter.bench - cpuBefore.bench),
      machinePercent,
      othersPercent: Math.max(0, machinePercent - percent(ours)),
      // Each tracker's main thread (its event loop): time it was ready to run and waited for a core.
      trackerRunQueueSeconds: cpuAfter.trackerWaits.map((after, n) => after - cpuBefore.trackerWaits[n]!),
    };
    const loop = loopAfter.map((after, n) => ({ p50: after.p50, p99: after.p99, max: after.max, cpuPercent: (100 * (after.cpuSeconds - loopBefore[n]!.cpuSeconds)) / activeSeconds, gc: gcDuring(loopBefore[n]!.gc, after.gc) }));
    // What the trackers did beyond what was asked: each placement asked for is 8 fragments.
    const fragmentsPlaced = loopAfter.reduce((total, after, n) => total + after.fragmentsPlaced - loopBefore[n]!.fragmentsPlaced, 0);
    // The pool is PostgreSQL's: SQLite's calls wait for nothing but the event loop.
    const poolWaits = postgres ? loopAfter.map((after, n) => poolWaitsDuring(loopBefore[n]!.pool, after.pool)) : undefined;
    const transfersEnded = loopAfter.reduce((total, after, n) => total + after.transfersEnded - loopBefore[n]!.transfersEnded, 0);
    const load = { mean: loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length), max: Math.max(...loads) };
    const placements = active.flatMap((report) => report.placements);
    const listings = active.flatMap((report) => report.listings);
    const refused = active.reduce((sum, report) => sum + report.refused, 0);
    const placement = { p50: percentile(placements, 50), p99: percentile(placements, 99), n: placements.length, refused, refusals: active.flatMap((report) => report.refusals) };
    const beforePlace = loopBefore.map((scrape) => scrape.placeSeconds);
    const afterPlace = loopAfter.map((scrape) => scrape.placeSeconds);
    const placementAtTracker = { p50: bucketPercentile(beforePlace, afterPlace, 50), p99: bucketPercentile(beforePlace, afterPlace, 99) };
    const listing = { p50: percentile(listings, 50), p99: percentile(listings, 99), n: listings.length };
    console.log(`  event loop delay p50/p99/max ${loop.map((l) => `${l.p50.toFixed(0)}/${l.p99.toFixed(0)}/${l.max.toFixed(0)} ms, CPU ${l.cpuPercent.toFixed(0)} %`).join('; ')}; load average ${load.mean.toFixed(1)} (max ${load.max.toFixed(1)})`);
    console.log(`  ${harnessLine(harness, loop)}`);
    if (lockWaits) {
      console.log(`  PostgreSQL backends waiting for a lock (each second): mean ${lockWaits.mean.toFixed(2)}, max ${lockWaits.max}, in ${lockWaits.share.toFixed(0)} % of samples; idle in a transaction ${lockWaits.idleInTransaction.toFixed(2)} on average; ${lockWaits.max === 0 ? 'no waiters' : `waiters' transactions ${lockWaits.waiterXactMs.p50.toFixed(0)} ms old (median), up to ${lockWaits.waiterXactMs.max.toFixed(0)} ms`}`);
      for (const pair of lockWaits.pairs.slice(0, 8)) console.log(`    ${pair.samples} × waiting: ${pair.waiter}\n        behind: ${pair.blocker}`);
    }
    if (poolWaits) console.log(`  ${poolLine(poolWaits)}`);
    if (statements) {
      console.log(`  ${statementsLine(statements, active.reduce((sum, report) => sum + report.placements.length, 0))}`);
      for (const top of statements.top) console.log(`    ${String(top.calls).padStart(7)} × ${(top.ms / top.calls).toFixed(2)} ms  ${top.query}`);
    }
    console.log(`  fragments placed ${fragmentsPlaced} (for ${placements.length} placements acknowledged), transfers ended ${transfersEnded}`);
    console.log(`  placement p50 ${placement.p50.toFixed(1)} ms, p99 ${placement.p99.toFixed(1)} ms (${placement.n}, ${refused} refused${refused ? `: ${placement.refusals.join(', ')}` : ''}); listing p50 ${listing.p50.toFixed(1)} ms, p99 ${listing.p99.toFixed(1)} ms`);
    console.log(`  ${atTrackerLine(placementAtTracker)}`);
    // What went wrong on the trackers' side, in their own words (pino's error and fatal lines).
    const trackerErrors = trackers.flatMap((tracker) => tracker.output().split('\n').filter((line) => /"level":(50|60)/.test(line)));
    for (const line of trackerErrors.slice(0, 3)) console.log(`  tracker error: ${line.slice(0, 600)}`);
    // Still connected after all that: a tracker that dropped peers under load held fewer.
    const still = (await Promise.all(clients.map((client) => client.ask<'connected'>({ kind: 'connected' })))).reduce((sum, report) => sum + report.connected, 0);
    const dropped = held.reduce((a, b) => a + b, 0) - still;
    if (dropped > 0) console.log(`  ${dropped} peers were disconnected during the active phase`);
    return {
      trackers: count,
      database: plan.database,
      peersPerTracker: held,
      admittedPerSecond: held.reduce((a, b) => a + b, 0) / seconds,
      failedAdmissions: admitted.reduce((sum, { failed }) => sum + failed, 0),
      admissionErrors: admitted.flatMap(({ firstErrors }) => firstErrors),
      rssBytesPerPeer,
      placement,
      ...(warmup ? { warmup } : {}),
      placementAtTracker,
      listing,
      loop,
      load,
      dropped,
      fragmentsPlaced,
      transfersEnded,
      ...(lockWaits ? { lockWaits } : {}),
      ...(poolWaits ? { poolWaits } : {}),
      ...(statements ? { statements } : {}),
      harness,
    };
  } finally {
    clearInterval(sampler);
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(trackers.map((tracker) => tracker.stop()));
    await database.drop();
  }
}

export async function measureTrackers(): Promise<string> {
  const began = performance.now();
  // pg_stat_statements counts what the trackers ask of PostgreSQL (Debian's server package has it).
  // Only started when a run is on PostgreSQL.
  const cluster = RUNS.some((plan) => plan.database === 'postgresql') ? await startPostgresCluster({ settings: ['shared_preload_libraries=pg_stat_statements', ...(PG_LOG ? PG_LOG_SETTINGS : [])], ...(PG_LOG ? { logFile: PG_LOG } : {}) }) : undefined;
  try {
    const runs: (Run | Failed)[] = [];
    for (const plan of RUNS) {
      console.log(`${runLabel(plan)}…`);
      // A run that fails is reported as such (with what it threw), and the next one still runs.
      runs.push(await measure(plan, cluster).catch((error: unknown) => ({ ...plan, error: error instanceof Error ? error.message : String(error) })));
    }
    const machine = machineInfo('');
    const wallSeconds = (performance.now() - began) / 1_000;
    writeFileSync('bench/trackers-results.json', `${JSON.stringify({ machine, peersPerTracker: PEERS, activeSeconds: ACTIVE_SECONDS, wallSeconds, runs }, null, 2)}\n`);
    console.log(`trackers bench: ${(wallSeconds / 60).toFixed(1)} min in all`);
    return section(runs, machine, wallSeconds);
  } finally {
    await cluster?.stop();
  }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);

/** Where the machine's CPU went over the active phase, in words (the trackers' own from their /metrics). */
function harnessLine(harness: Run['harness'], loop: Run['loop']): string {
  const pct = (value: number) => `${value.toFixed(0)} %`;
  return (
    `CPU over the active phase, in % of one core (${CORES} cores: ${CORES * 100} %): trackers ${loop.map((l) => pct(l.cpuPercent)).join(' / ')}, ` +
    `their clients ${harness.clients.map((c) => pct(c.cpuPercent)).join(' / ')} (client event loop p99 / max ${harness.clients.map((c) => `${c.p99.toFixed(0)} / ${c.max.toFixed(0)} ms`).join('; ')}), ` +
    `${harness.postgresPercent === undefined ? 'no database server (SQLite: its work is in the tracker\'s CPU)' : `PostgreSQL ${pct(harness.postgresPercent)}`}, the bench ${pct(harness.benchPercent)}; the machine ${pct(harness.machinePercent)}, of which other work ${pct(harness.othersPercent)}` +
    (harness.machinePercent >= 0.9 * CORES * 100 ? ' (the machine was saturated: every latency above includes waiting for a core)' : '') +
    `; each tracker's event loop thread waited for a core ${harness.trackerRunQueueSeconds.map((s) => `${s.toFixed(1)} s`).join(' / ')} of the phase (/proc schedstat)` +
    `; trackers' garbage collections ${loop.map((l) => `${l.gc.count} (${l.gc.major} major, ${l.gc.over100ms} over 100 ms, ${(l.gc.seconds * 1_000).toFixed(0)} ms in all)`).join(' / ')}`
  );
}
/** Placement as the trackers timed it, in words. */
function atTrackerLine(at: { p50: number; p99: number }): string {
  const bound = (ms: number) => (Number.isNaN(ms) ? 'not timed' : Number.isFinite(ms) ? `≤ ${ms} ms` : 'over 10 s');
  return `placement as the trackers timed it (their /metrics, from the request read to the answer sent: no client process, no socket): p50 ${bound(at.p50)}, p99 ${bound(at.p99)}`;
}

/** Statements over the phase, in words. */
function statementsLine(statements: Statements, placements: number): string {
  return `statements PostgreSQL ran over the active phase (pg_stat_statements, all trackers): ${statements.calls} (${(statements.calls / Math.max(1, placements)).toFixed(0)} per placement acknowledged, listings and deletions included), ${statements.execSeconds.toFixed(1)} s executing`;
}

/** Waits for a pooled database connection, per tracker, in words. */
function poolLine(waits: PoolWaits[]): string {
  return `waits for a pooled database connection (each tracker's pool of 10): ${waits.map((w) => `${w.count} acquisitions, ${w.over10ms} over 10 ms, ${w.over100ms} over 100 ms, p99 ≤ ${Number.isFinite(w.p99Ms) ? `${w.p99Ms.toFixed(0)} ms` : 'over 5 s'}, ${w.seconds.toFixed(1)} s in all`).join(' / ')}`;
}
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');

function section(all: (Run | Failed)[], machine: ReturnType<typeof machineInfo>, wallSeconds: number): string {
  const runs = all.filter((run): run is Run => !('error' in run));
  const failed = all.filter((run): run is Failed => 'error' in run);
  const rows = all.map((run) =>
    'error' in run
      ? `| ${run.trackers} | ${databaseName(run.database)} | not measured (below) | | | | | | | | | | |`
      : `| ${run.trackers} | ${databaseName(run.database)} | ${run.peersPerTracker.join(' + ')} | ${run.admittedPerSecond.toFixed(0)} | ${run.rssBytesPerPeer.map(kb).join(' / ')} | ${ms(run.placement.p50)} | ${ms(run.placement.p99)} | ${run.placement.n} (${run.placement.refused} refused) | ${ms(run.listing.p50)} | ${ms(run.listing.p99)} | ${run.fragmentsPlaced} | ${run.loop.map((l) => `${l.p99.toFixed(0)} / ${l.max.toFixed(0)} ms, ${l.cpuPercent.toFixed(0)} %`).join('; ')} | ${run.load.mean.toFixed(1)} (max ${run.load.max.toFixed(1)}) |`,
  );
  /** The worst value over every run's, with its run: `worse(value, than)` says which of two is worse. */
  const worstOf = (pick: (run: Run) => number[], worse: (value: number, than: number) => boolean) => {
    let worst: { value: number; run: Run } | undefined;
    for (const run of runs) for (const value of pick(run)) if (!worst || worse(value, worst.value)) worst = { value, run };
    return worst;
  };
  const worstRss = worstOf((run) => run.rssBytesPerPeer, (value, than) => value > than);
  const fewest = worstOf((run) => run.peersPerTracker, (value, than) => value < than);
  const two = runs.find((run) => run.trackers === 2);
  const verdict = (met: boolean | undefined, goal: string, measured: string) => `- **${met === undefined ? 'not measured' : met ? 'met' : 'missed'}**: ${goal} (${measured})`;
  const goals = [
    verdict(fewest === undefined ? undefined : fewest.value >= GOALS.peersPerTracker, `≥ ${GOALS.peersPerTracker} peers per tracker process`, fewest ? `fewest held: ${fewest.value}, ${runLabel(fewest.run)}` : 'fewest held: –'),
    verdict(worstRss === undefined ? undefined : worstRss.value <= GOALS.bytesPerPeer, '≤ 30 KB of resident memory per peer', worstRss ? `worst: ${kb(worstRss.value)} KB, ${runLabel(worstRss.run)}` : 'worst: –'),
    // Each run on its own: one database meeting the goal says nothing of the other's.
    ...placementP99Verdicts(all.map((run) => ({ trackers: run.trackers, database: run.database, ...('error' in run ? {} : { p99: run.placement.p99 }) })), GOALS.placementP99Ms),
    verdict(two === undefined ? undefined : two.peersPerTracker.reduce((a, b) => a + b, 0) >= 2 * GOALS.peersPerTracker, 'two trackers holding twice as many', two ? `${two.peersPerTracker.reduce((a, b) => a + b, 0)} held, ${runLabel(two)}` : 'no two-tracker run completed'),
  ];
  const postgresRuns = runs.filter((run) => run.database === 'postgresql');
  const notes = [
    ...runs.filter((run) => run.failedAdmissions > 0).map((run) => `- ${runLabel(run)}: ${run.failedAdmissions} admissions failed; the first: ${run.admissionErrors.join('; ')}`),
    ...runs.filter((run) => run.placement.refused > 0).map((run) => `- ${runLabel(run)}: placements refused: ${run.placement.refusals.join(', ')}`),
    ...runs.flatMap((run) =>
      run.warmup
        ? [`- ${runLabel(run)}: the ${run.warmup.seconds} s warm-up before the active phase (same load, not in the table): ${run.warmup.placement.n} placements, p50 / p99 / max ${ms(run.warmup.placement.p50)} / ${ms(run.warmup.placement.p99)} / ${ms(run.warmup.placement.max)} ms`]
        : [],
    ),
    ...runs.map((run) => `- ${runLabel(run)}: ${run.transfersEnded} transfers ended`),
    ...runs.map((run) => `- ${runLabel(run)}: ${harnessLine(run.harness, run.loop)}`),
    ...runs.flatMap((run) => (run.placementAtTracker ? [`- ${runLabel(run)}: ${atTrackerLine(run.placementAtTracker)}`] : [])),
    ...(runs.some((run) => run.database === 'sqlite')
      ? [
          '- On SQLite, lock waits, pooled-connection waits, statements counted and PostgreSQL\'s CPU are not applicable: better-sqlite3 runs each statement synchronously on the tracker\'s event loop, so the database\'s time is in the tracker\'s CPU and event-loop delay above.',
        ]
      : []),
    ...postgresRuns.flatMap((run) =>
      run.lockWaits
        ? [`- ${runLabel(run)}: PostgreSQL backends waiting for a lock, sampled each second of the active phase: mean ${run.lockWaits.mean.toFixed(2)}, max ${run.lockWaits.max}, some waiting in ${run.lockWaits.share.toFixed(0)} % of the samples`]
        : [],
    ),
    ...postgresRuns.flatMap((run) => (run.poolWaits ? [`- ${runLabel(run)}: ${poolLine(run.poolWaits)}`] : [])),
    ...postgresRuns.flatMap((run) => (run.statements ? [`- ${runLabel(run)}: ${statementsLine(run.statements, run.placement.n)}`] : [])),
    ...postgresRuns.flatMap((run) =>
      (run.lockWaits?.pairs ?? []).slice(0, 3).map((pair) => `- ${runLabel(run)}, most sampled lock wait (${pair.samples} samples): \`${pair.waiter}\` behind \`${pair.blocker}\``),
    ),
    ...runs.filter((run) => run.dropped > 0).map((run) => `- ${runLabel(run)}: ${run.dropped} peers were disconnected during the active phase`),
    ...failed.map((run) => `- ${runLabel(run)} could not be measured: ${run.error}`),
  ];
  return `${HEADING}

Produced by \`BENCH_ONLY=trackers npm run bench\` (\`bench/trackers.ts\`), not by hand: tracker processes (the
esbuild bundle of \`server/main.ts\`), each run on its database (\`BENCH_TRACKER_RUNS\`, here
${RUNS.map((plan) => `\`${plan.trackers}:${plan.database}\``).join(', ')}): the embedded SQLite file, \`npm start\`'s default (\`DB_PATH\` in a
temporary directory on the machine's disk, no \`DATABASE_URL\`; one tracker, as its file is one
process's), or one PostgreSQL shared by the run's trackers (a throw-away Debian cluster, \`fsync\`
off). ${PEERS} authenticated Socket.IO clients per tracker (own ECDSA key, real challenge and signature,
\`peer:report\` of 1 GiB) from ${Math.ceil(PEERS / PER_ADDRESS)} loopback addresses (${PER_ADDRESS} each), each tracker's
clients in a Node process of their own (\`bench/tracker-clients.ts\`), all on the same machine as the
trackers and the database; trackers and client processes alike run with the trackers' node flags
(${TRACKER_NODE_FLAGS.map((flag) => `\`${flag}\``).join(', ')}: \`server/node-flags.ts\`)${EXTRA_NODE_FLAGS.length > 0 ? `, and for this run also ${EXTRA_NODE_FLAGS.map((flag) => `\`${flag}\``).join(', ')} (\`BENCH_TRACKER_NODE_FLAGS\`)` : ''}. Memory per peer is the growth of the tracker's resident memory from
before the first peer to after the last, divided by its peers. Then for ${ACTIVE_SECONDS} s, per tracker${WARMUP_SECONDS > 0 ? ` (after a
warm-up of ${WARMUP_SECONDS} s under the same load, whose placements are given below the table and not in it: the
first placements, listings and deletions after an admission run code none ran before, which V8
compiles as it goes and each pooled PostgreSQL connection prepares, and the admission's last
"peers online" broadcasts to every socket land then; measured on 2026-12-03, the slowest
placements of a run without it were all in its first seconds)` : ''},
a tenth of its peers list their files every 10 s (staggered: ${PEERS / 100} listings a second) and
${PLACEMENTS_PER_SECOND} placements a second come from them (1000-byte files, the default redundancy rs:4+4: 8 hosts
each, about ${ACTIVE_SECONDS * PLACEMENTS_PER_SECOND} placements per tracker, so one tracker's p99 is its ${ordinal(slowestAtP99(ACTIVE_SECONDS * PLACEMENTS_PER_SECOND))} slowest
placement: a few slow ones move it); each owner deletes its upload once placed (one \`file:delete\`, as a page's user removing it; these clients can't move bytes: left to time
out after ACCEPT_TIMEOUT, every store is placed again on another host, which times out in turn,
so that earlier runs of this bench placed more and more beyond what they asked as the phase went
on). "Fragments placed" is what the trackers placed over the phase (their
\`peercloud_placements_total\`): 8 for each placement asked, unless some were placed again. Event-loop delay (p99 / max) and CPU are each tracker's own over that phase (its
\`/metrics\`: \`perf_hooks.monitorEventLoopDelay\`, process CPU; on SQLite the database's work is
in them, run synchronously by better-sqlite3); the load average is the machine's
(1 minute, sampled every 5 s from the first admission to the end). Below the table, where the
machine's CPU went over the active phase (\`/proc\`: each tracker, each client process with its own
event-loop delay, PostgreSQL's postmaster and backends, the bench, and the rest of the machine:
other work beside the bench), and each tracker's garbage collections (its \`/metrics\`): a
latency measured on a saturated machine includes waiting for a core. Placement is also given as
the trackers timed it (\`peercloud_request_seconds\`, from the request read to the answer sent:
without the client process and the socket, as the bucket bound the p50 and p99 fall under), and
for the PostgreSQL runs the lock waits, the waits for a pooled connection and the statements
PostgreSQL ran over the phase (\`pg_stat_statements\`), none of which SQLite has.

- Date: ${machine.date}
- Machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.os}; Node ${machine.node}
- The whole bench took ${(wallSeconds / 60).toFixed(1)} min

| trackers | database | peers held | admitted / s | RSS per peer (KB) | placement p50 (ms) | placement p99 (ms) | placements | listing p50 (ms) | listing p99 (ms) | fragments placed | event loop p99 / max, CPU | load average |
| ---: | --- | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |
${rows.join('\n')}

Goals:
${goals.join('\n')}
${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}
`;
}

/** Which placement, counted from the slowest, `percentile` gives as the p99 of n. */
const slowestAtP99 = (n: number) => n - percentileIndex(n, 99);

/** 1st, 2nd, 3rd, 6th… */
function ordinal(n: number): string {
  const tens = n % 100;
  return `${n}${tens >= 11 && tens <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

/** The section as it is now in the report, if any. */
export function currentTrackersSection(): string | undefined {
  if (!existsSync(REPORT)) return undefined;
  const text = readFileSync(REPORT, 'utf8');
  const start = text.indexOf(`\n${HEADING}\n`);
  if (start < 0) return undefined;
  const next = text.indexOf('\n## ', start + 1);
  return text.slice(start + 1, next < 0 ? undefined : next + 1);
}

/** Replaces (or adds, at the end) this section, leaving the rest of the report as it is. */
export function writeTrackersSection(text: string): void {
  const report = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : '# Benchmarks\n';
  const current = currentTrackersSection();
  writeFileSync(REPORT, current ? report.replace(current, () => text) : `${report.trimEnd()}\n\n${text}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeTrackersSection(await measureTrackers());
  process.exit(0);
}
