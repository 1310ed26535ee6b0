/**
 * Which runs bench/trackers.ts makes, each on its database: the embedded SQLite file (the default
 * of `npm start`: DB_PATH, no DATABASE_URL) or one PostgreSQL shared by the run's trackers. Pure,
 * so the parsing and the verdicts are tested without a tracker (tests/unit/tracker-runs.test.ts).
 */

export type TrackerDatabase = 'sqlite' | 'postgresql';

export interface TrackerRunPlan {
  trackers: number;
  database: TrackerDatabase;
}

/** One tracker on each database, then two on PostgreSQL (SQLite is one process's file). */
export const DEFAULT_TRACKER_RUNS = '1:sqlite,1:postgresql,2:postgresql';

const DATABASES: readonly TrackerDatabase[] = ['sqlite', 'postgresql'];

/** BENCH_TRACKER_RUNS as runs: `trackers:database` separated by commas, e.g. `1:sqlite,2:postgresql`. */
export function parseTrackerRuns(text: string): TrackerRunPlan[] {
  const example = `such as ${DEFAULT_TRACKER_RUNS} (trackers:database, the database sqlite or postgresql)`;
  return text.split(',').map((entry) => {
    const match = /^\s*(\d+)\s*:\s*([a-z]+)\s*$/.exec(entry);
    const trackers = Number(match?.[1]);
    const database = match?.[2] as TrackerDatabase | undefined;
    if (!match || !Number.isInteger(trackers) || trackers < 1 || !DATABASES.includes(database!)) throw new Error(`BENCH_TRACKER_RUNS must be runs ${example} (got "${text}")`);
    // A second tracker on the same SQLite file would be a second cloud's writer, not the same cloud.
    if (database === 'sqlite' && trackers !== 1) throw new Error(`BENCH_TRACKER_RUNS: SQLite is one tracker's file, so a run on sqlite has 1 tracker (got "${entry.trim()}")`);
    return { trackers, database: database! };
  });
}

/** The runs the environment asks for; the variable's earlier name says what to write now. */
export function trackerRunsFromEnv(env: NodeJS.ProcessEnv): TrackerRunPlan[] {
  if (env.BENCH_TRACKER_COUNTS)
    throw new Error(
      `BENCH_TRACKER_COUNTS is now BENCH_TRACKER_RUNS, with the database of each run: BENCH_TRACKER_RUNS=${env.BENCH_TRACKER_COUNTS.split(',')
        .map((count) => `${count.trim()}:postgresql`)
        .join(',')} for what it meant`,
    );
  return parseTrackerRuns(env.BENCH_TRACKER_RUNS || DEFAULT_TRACKER_RUNS);
}

export const databaseName = (database: TrackerDatabase): string => (database === 'sqlite' ? 'SQLite' : 'PostgreSQL');

/** A run in words: "1 tracker on SQLite", "2 trackers on PostgreSQL". */
export function runLabel(run: TrackerRunPlan): string {
  return `${run.trackers} tracker${run.trackers === 1 ? '' : 's'} on ${databaseName(run.database)}`;
}

/** A run's name in file names (its profile's `active-<name>.json`). */
export const runFileName = (run: TrackerRunPlan): string => `${run.trackers}-${run.database}`;

/** The placement p99 goal judged for each run on its own: a run that met it is not hidden behind one that missed it, nor the reverse. */
export function placementP99Verdicts(runs: (TrackerRunPlan & { p99?: number })[], goalMs: number): string[] {
  return runs.map((run) => {
    const measured = run.p99 !== undefined && Number.isFinite(run.p99);
    const verdict = !measured ? 'not measured' : run.p99! <= goalMs ? 'met' : 'missed';
    return `- **${verdict}**: placement p99 ≤ ${goalMs} ms, ${runLabel(run)} (${measured ? `${run.p99!.toFixed(1)} ms` : 'the run did not complete'})`;
  });
}

/**
 * BENCH_TRACKER_NODE_FLAGS as Node options for the trackers' and client processes' command lines
 * (space-separated, each `--name` or `--name=value`): anything else would be taken by node as the
 * script to run, so it is refused with the switch's name.
 */
export function parseNodeFlags(text: string | undefined): string[] {
  const flags = (text ?? '').split(/\s+/).filter(Boolean);
  for (const flag of flags) if (!/^--[a-z0-9][a-z0-9-_]*(=\S+)?$/i.test(flag)) throw new Error(`BENCH_TRACKER_NODE_FLAGS must be Node options such as --v8-pool-size=1 (got "${flag}")`);
  return flags;
}
