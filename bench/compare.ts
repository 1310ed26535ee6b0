/**
 * `npm run bench:compare -- <git-ref> [<git-ref>]`: the transfer benchmark of an earlier commit
 * (A) and of this tree (B; or of a second commit, if given) in turns, A B A B A B, in one session,
 * so that a slowdown can be told from the machine's drift (its CPU per MB has moved threefold
 * between days). Writes its section of docs/BENCHMARKS.md (only that one) and
 * bench/compare-results.json.
 *
 * A (and B when it is a commit) is checked out into a temporary git worktree with this tree's
 * node_modules hard-linked in (`cp -al`) and this tree's tests/support/chromium.ts copied in: both
 * sides run the same dependencies and Chromium flags. Both web apps are built. Each run is its own tree's `bench/run.ts` in a process of its own (own tracker, own Chromium), one run of
 * COMPARE_MIB (default 64) MiB, the raw channel (as many MiB) measured right before it; a tree whose bench
 * knows BENCH_ONLY=transfers is asked for just that, an older one gets every other part switched
 * off and its results read from its worktree's bench/results.json. COMPARE_ROUNDS (default 3)
 * sets how many A B pairs. Runs inside the network namespace (scripts/e2e.ts --bench-script)
 * and, like every benchmark, under the shared lock:
 *
 *   flock /tmp/peercloud-e2e.lock npm run bench:compare -- 8708c03
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, platform, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { COMPARE_HEADING, compareRuns, compareSection, runFigures, type ResultRow, type RunFigures } from './compare-report.ts';
import { wholeNumberEnv, writeSection } from './report.ts';

const MEBIBYTES = wholeNumberEnv('COMPARE_MIB', 64);
const ROUNDS = wholeNumberEnv('COMPARE_ROUNDS', 3);
/** Where each tree's bench takes Chromium's flags from (self-contained, the same exports since the bench began). */
const CHROMIUM_SETUP = 'tests/support/chromium.ts';
/** A run that has not ended in this long is stuck (a 64 MiB run takes one to three minutes here). */
const RUN_TIMEOUT_MS = 30 * 60_000;

interface Side {
  name: 'A' | 'B';
  dir: string;
  /** Whether this tree's bench/run.ts has BENCH_ONLY=transfers (older ones write bench/results.json and their report). */
  transfersOnly: boolean;
}

function git(args: string[], cwd = process.cwd()): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

/** A commit's subject, cut short: this project's subjects run to several hundred characters. */
function subject(commit: string): string {
  const text = git(['log', '-1', '--format=%s', commit]);
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

function build(dir: string): void {
  console.log(`Building the web app in ${dir}…`);
  const result = spawnSync(join(dir, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`vite build failed in ${dir}`);
}

/** One run of a side's own bench: its figures and Chromium's version, or undefined (said on the console) when it failed. */
function runSide(side: Side, round: number, scratch: string): { figures: RunFigures; chromium: string } | undefined {
  const results = side.transfersOnly ? join(scratch, `${side.name}-${round}.json`) : join(side.dir, 'bench/results.json');
  rmSync(results, { force: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BENCH_SIZES: String(MEBIBYTES),
    // The raw channel at the transfer's own size on both sides (older trees default to 256 MiB).
    BENCH_BASELINE_MIB: String(MEBIBYTES),
    BENCH_RUNS: '1',
    BENCH_FLOOD: '0',
    BENCH_NETWORKS: '0',
    BENCH_FRAGMENTS: '0',
    BENCH_TRACKERS: '0',
    BENCH_AUDITS: '0',
    BENCH_RESULTS: results,
  };
  if (side.transfersOnly) env.BENCH_ONLY = 'transfers';
  else delete env.BENCH_ONLY;
  console.log(`\n=== round ${round + 1}/${ROUNDS}, ${side.name} (${side.dir}) ===`);
  const result = spawnSync('node', ['--import', 'tsx', 'bench/run.ts'], { cwd: side.dir, env, stdio: 'inherit', timeout: RUN_TIMEOUT_MS });
  if (result.status !== 0 || !existsSync(results)) {
    console.error(`${side.name}, round ${round + 1}: the run failed (exit ${result.status ?? result.signal}); left out of the medians.`);
    return undefined;
  }
  const written = JSON.parse(readFileSync(results, 'utf8')) as { machine: { chromium: string }; figures: ResultRow[] };
  return { figures: runFigures(written.figures, MEBIBYTES), chromium: written.machine.chromium };
}

/** A commit checked out in a worktree of its own under `scratch`, this tree's node_modules hard-linked in. */
function checkOut(commit: string, dir: string, here: string): void {
  git(['worktree', 'add', '--detach', dir, commit]);
  execFileSync('cp', ['-al', join(here, 'node_modules'), join(dir, 'node_modules')]);
  // Vite and vitest write caches in place under node_modules: a hard link would carry these writes into this tree's files.
  rmSync(join(dir, 'node_modules/.vite'), { recursive: true, force: true });
  // The same Chromium flags on both sides: they are the harness, not the code compared (one
  // switched off a hidden omnibox renderer that cost 130 ms of CPU a second per browser context).
  copyFileSync(join(here, CHROMIUM_SETUP), join(dir, CHROMIUM_SETUP));
}

function main(): void {
  const [refA, refB] = process.argv.slice(2);
  if (!refA || refA.startsWith('-')) throw new Error('Usage: npm run bench:compare -- <git-ref> [<git-ref>] (the earlier commit, then the later one: this tree if left out)');
  const here = process.cwd();
  const commitA = git(['rev-parse', '--verify', `${refA}^{commit}`]);
  const commitB = refB === undefined ? undefined : git(['rev-parse', '--verify', `${refB}^{commit}`]);
  // What B is, read before its runs: edits made to this tree while they run are not what was measured.
  const b = commitB
    ? { ref: refB, commit: commitB, subject: subject(commitB), dirty: false }
    : { commit: git(['rev-parse', 'HEAD']), subject: subject('HEAD'), dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '' };
  const scratch = mkdtempSync(join(tmpdir(), 'peercloud-compare-'));
  const worktrees: string[] = [];
  try {
    const dirs = [join(scratch, 'a'), commitB ? join(scratch, 'b') : here];
    for (const [i, commit] of [commitA, commitB].entries()) {
      if (commit === undefined) continue;
      checkOut(commit, dirs[i]!, here);
      worktrees.push(dirs[i]!);
    }
    for (const dir of dirs) build(dir);
    const sides: Side[] = dirs.map((dir, i) => ({
      name: i === 0 ? 'A' : 'B',
      dir,
      transfersOnly: readFileSync(join(dir, 'bench/run.ts'), 'utf8').includes("BENCH_ONLY === 'transfers'"),
    }));
    const loadBefore = loadavg()[0]!;
    const runs: Record<'A' | 'B', RunFigures[]> = { A: [], B: [] };
    const failures: string[] = [];
    const chromiums = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of sides) {
        const run = runSide(side, round, scratch);
        if (!run) failures.push(`${side.name}, round ${round + 1}`);
        else chromiums.add(run.chromium);
        runs[side.name].push(run?.figures);
      }
    }
    const loadAfter = loadavg()[0]!;
    const comparisons = compareRuns(runs.A, runs.B);
    const meta = {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${platform()} ${release()}`,
      chromium: [...chromiums].join(', ') || 'unknown',
      command: `npm run bench:compare -- ${refA}${refB === undefined ? '' : ` ${refB}`}`,
      mebibytes: MEBIBYTES,
      rounds: ROUNDS,
      a: { ref: refA, commit: commitA, subject: subject(commitA) },
      b,
      loadBefore,
      loadAfter,
      failures,
    };
    writeFileSync(join(here, 'bench/compare-results.json'), `${JSON.stringify({ ...meta, runs, comparisons: comparisons.map(({ metric, ...rest }) => ({ metric: metric.label, unit: metric.unit, ...rest })) }, null, 2)}\n`);
    const section = compareSection(comparisons, meta);
    console.log(`\n${section}`);
    writeSection(COMPARE_HEADING, section);
  } finally {
    for (const dir of worktrees) git(['worktree', 'remove', '--force', dir]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main();
