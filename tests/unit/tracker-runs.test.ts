import { describe, expect, it } from 'vitest';
import { DEFAULT_TRACKER_RUNS, parseNodeFlags, parseTrackerRuns, placementP99Verdicts, runFileName, runLabel, trackerRunsFromEnv } from '../../bench/tracker-runs.ts';

describe("the trackers bench's runs (BENCH_TRACKER_RUNS)", () => {
  it('runs one tracker on SQLite, one on PostgreSQL, then two on PostgreSQL by default', () => {
    expect(trackerRunsFromEnv({})).toEqual([
      { trackers: 1, database: 'sqlite' },
      { trackers: 1, database: 'postgresql' },
      { trackers: 2, database: 'postgresql' },
    ]);
    expect(trackerRunsFromEnv({ BENCH_TRACKER_RUNS: '' })).toEqual(parseTrackerRuns(DEFAULT_TRACKER_RUNS));
  });

  it('reads trackers:database pairs, spaces allowed, in the order given', () => {
    expect(parseTrackerRuns('2:postgresql, 1:sqlite')).toEqual([
      { trackers: 2, database: 'postgresql' },
      { trackers: 1, database: 'sqlite' },
    ]);
  });

  it('refuses a run without its database, an unknown database or a count that is not a whole number of at least 1', () => {
    for (const text of ['1', '1,2', '1:mysql', '0:postgresql', '1.5:postgresql', '1:sqlite,', 'sqlite']) expect(() => parseTrackerRuns(text), text).toThrow(/BENCH_TRACKER_RUNS must be runs such as 1:sqlite,1:postgresql,2:postgresql/);
  });

  it('refuses more than one tracker on one SQLite file', () => {
    expect(() => parseTrackerRuns('2:sqlite')).toThrow(/SQLite is one tracker's file.*"2:sqlite"/);
  });

  it("says what the old BENCH_TRACKER_COUNTS now is, rather than running something else", () => {
    expect(() => trackerRunsFromEnv({ BENCH_TRACKER_COUNTS: '1,2' })).toThrow('BENCH_TRACKER_COUNTS is now BENCH_TRACKER_RUNS, with the database of each run: BENCH_TRACKER_RUNS=1:postgresql,2:postgresql');
  });

  it('names a run in words and in file names', () => {
    expect(runLabel({ trackers: 1, database: 'sqlite' })).toBe('1 tracker on SQLite');
    expect(runLabel({ trackers: 2, database: 'postgresql' })).toBe('2 trackers on PostgreSQL');
    expect(runFileName({ trackers: 2, database: 'postgresql' })).toBe('2-postgresql');
  });
});

describe('the placement p99 goal, judged per run', () => {
  it('says which run met it and which missed it, and which was not measured', () => {
    expect(
      placementP99Verdicts(
        [
          { trackers: 1, database: 'sqlite', p99: 42.04 },
          { trackers: 1, database: 'postgresql', p99: 50 },
          { trackers: 2, database: 'postgresql', p99: 723.8 },
          { trackers: 2, database: 'postgresql' },
          { trackers: 1, database: 'sqlite', p99: Number.NaN },
        ],
        50,
      ),
    ).toEqual([
      '- **met**: placement p99 ≤ 50 ms, 1 tracker on SQLite (42.0 ms)',
      '- **met**: placement p99 ≤ 50 ms, 1 tracker on PostgreSQL (50.0 ms)',
      '- **missed**: placement p99 ≤ 50 ms, 2 trackers on PostgreSQL (723.8 ms)',
      '- **not measured**: placement p99 ≤ 50 ms, 2 trackers on PostgreSQL (the run did not complete)',
      '- **not measured**: placement p99 ≤ 50 ms, 1 tracker on SQLite (the run did not complete)',
    ]);
  });
});

describe("the trackers bench's extra node options (BENCH_TRACKER_NODE_FLAGS)", () => {
  it('adds none when unset or blank, and reads space-separated options in order', () => {
    expect(parseNodeFlags(undefined)).toEqual([]);
    expect(parseNodeFlags('  ')).toEqual([]);
    expect(parseNodeFlags(' --v8-pool-size=1  --trace-gc ')).toEqual(['--v8-pool-size=1', '--trace-gc']);
  });

  it('refuses what node would take for a script or a value of its own', () => {
    for (const text of ['v8-pool-size=1', '-e', '--', '--max-old-space-size 100', 'script.js']) expect(() => parseNodeFlags(text), text).toThrow(/BENCH_TRACKER_NODE_FLAGS must be Node options such as --v8-pool-size=1/);
  });
});
