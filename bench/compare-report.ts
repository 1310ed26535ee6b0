/**
 * The A/B comparison's figures and its section of docs/BENCHMARKS.md (bench/compare.ts does the
 * running). Pure: it reads the rows each side's `bench/run.ts` wrote to its results JSON.
 *
 * The machine's speed moves between days and within an hour, so a figure from another day says
 * nothing; what does is the same figures of two trees taken in turns in one session. Each run's
 * own spread is shown, and a difference counts as beyond noise only when every run of one side
 * is on the same side of every run of the other (their ranges do not overlap).
 */
import { median } from './report.ts';

/** One figure as bench/report.ts writes it to results JSON (older commits write the same shape). */
export interface ResultRow {
  name: string;
  value: number;
  unit: string;
  ratioToBaseline?: number | undefined;
  runs?: number[] | undefined;
}

export type Better = 'higher' | 'lower';

export interface Metric {
  label: string;
  unit: string;
  better: Better;
  /** The raw channel's own figures: the machine's pace, not either tree's code. */
  machine?: boolean;
  read(rows: ResultRow[], mebibytes: number): number | undefined;
}

const value = (name: string) => (rows: ResultRow[]) => rows.find((row) => row.name === name)?.value;
const ratio = (name: string) => (rows: ResultRow[]) => rows.find((row) => row.name === name)?.ratioToBaseline;
/** A transfer's CPU per MB over the raw channel's, from the ms/MB (finer than the rounded ratio). */
const cpuRatio = (name: string) => (rows: ResultRow[]) => {
  const transfer = value(name)(rows);
  const baseline = value('CPU per MB, baseline')(rows);
  return transfer === undefined || baseline === undefined || baseline === 0 ? undefined : transfer / baseline;
};

/** What is compared, in the order of the section's table. */
export const METRICS: Metric[] = [
  { label: 'raw channel', unit: 'MB/s', better: 'higher', machine: true, read: value('baseline raw RTCDataChannel') },
  { label: 'raw channel CPU per MB', unit: 'ms/MB', better: 'lower', machine: true, read: value('CPU per MB, baseline') },
  { label: 'upload', unit: 'MB/s', better: 'higher', read: (rows, mib) => value(`upload ${mib} MiB`)(rows) },
  { label: 'upload × raw channel', unit: '×', better: 'higher', read: (rows, mib) => ratio(`upload ${mib} MiB`)(rows) },
  { label: 'download', unit: 'MB/s', better: 'higher', read: (rows, mib) => value(`download ${mib} MiB`)(rows) },
  { label: 'download × raw channel', unit: '×', better: 'higher', read: (rows, mib) => ratio(`download ${mib} MiB`)(rows) },
  { label: 'CPU per MB, upload', unit: 'ms/MB', better: 'lower', read: (rows, mib) => value(`CPU per MB, upload ${mib} MiB`)(rows) },
  { label: 'CPU per MB, upload × raw channel', unit: '×', better: 'lower', read: (rows, mib) => cpuRatio(`CPU per MB, upload ${mib} MiB`)(rows) },
  { label: 'CPU per MB, download', unit: 'ms/MB', better: 'lower', read: (rows, mib) => value(`CPU per MB, download ${mib} MiB`)(rows) },
  { label: 'CPU per MB, download × raw channel', unit: '×', better: 'lower', read: (rows, mib) => cpuRatio(`CPU per MB, download ${mib} MiB`)(rows) },
  { label: 'longest main-thread task, owner', unit: 'ms', better: 'lower', read: (rows, mib) => value(`longest main-thread task, owner, ${mib} MiB`)(rows) },
  { label: 'peak JS heap growth, owner', unit: 'MiB', better: 'lower', read: (rows, mib) => value(`peak JS heap growth, owner, ${mib} MiB`)(rows) },
  { label: 'peak JS heap growth, host', unit: 'MiB', better: 'lower', read: (rows, mib) => value(`peak JS heap growth, host, ${mib} MiB`)(rows) },
  { label: 'download time to first byte', unit: 'ms', better: 'lower', read: (rows, mib) => value(`download ${mib} MiB time to first byte`)(rows) },
];

/** One side's run: every metric's value by label (missing when that run did not report it), or undefined for a failed run. */
export type RunFigures = Record<string, number | undefined> | undefined;

export function runFigures(rows: ResultRow[], mebibytes: number): Record<string, number | undefined> {
  return Object.fromEntries(METRICS.map((metric) => [metric.label, metric.read(rows, mebibytes)]));
}

export type Verdict = 'worse beyond noise' | 'better beyond noise' | 'within noise' | 'too few runs';

export interface Comparison {
  metric: Metric;
  /** Each round's value, in round order (undefined where that run failed or lacked the figure). */
  a: (number | undefined)[];
  b: (number | undefined)[];
  aMedian: number;
  bMedian: number;
  /** B's median over A's. */
  ratio: number;
  /** B over A within each round, where both were measured: the runs next to each other in time. */
  roundRatios: number[];
  verdict: Verdict;
}

const measured = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined && Number.isFinite(v));

/**
 * Beyond noise only when the two sides' ranges do not overlap: every B run worse (or better)
 * than every A run. With three runs a side that is a strict test; a difference inside the
 * runs' own spread is what this machine does on its own from one minute to the next.
 */
export function noiseVerdict(a: number[], b: number[], better: Better): Verdict {
  // One run a side has no spread to compare with.
  if (a.length < 2 || b.length < 2) return 'too few runs';
  const [aMin, aMax, bMin, bMax] = [Math.min(...a), Math.max(...a), Math.min(...b), Math.max(...b)];
  const bHigher = bMin > aMax;
  const bLower = bMax < aMin;
  if (!bHigher && !bLower) return 'within noise';
  return (bHigher && better === 'higher') || (bLower && better === 'lower') ? 'better beyond noise' : 'worse beyond noise';
}

export function compareRuns(a: RunFigures[], b: RunFigures[]): Comparison[] {
  return METRICS.map((metric) => {
    const aValues = a.map((run) => run?.[metric.label]);
    const bValues = b.map((run) => run?.[metric.label]);
    const aMedian = median(measured(aValues));
    const bMedian = median(measured(bValues));
    const roundRatios = aValues.flatMap((x, round) => {
      const y = bValues[round];
      return x !== undefined && y !== undefined && x !== 0 ? [y / x] : [];
    });
    return { metric, a: aValues, b: bValues, aMedian, bMedian, ratio: bMedian / aMedian, roundRatios, verdict: noiseVerdict(measured(aValues), measured(bValues), metric.better) };
  });
}

/** A figure as the table shows it: ratios to two decimals, the rest to three significant digits at most one decimal. */
export function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (unit === '×') return value.toFixed(2);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export interface CompareMeta {
  date: string;
  machine: string;
  chromium: string;
  command: string;
  mebibytes: number;
  rounds: number;
  /** The earlier tree: the ref as given, its commit and subject. */
  a: { ref: string; commit: string; subject: string };
  /** The later tree: a ref given, or this tree (no ref) with whether it had uncommitted changes. */
  b: { ref?: string | undefined; commit: string; subject: string; dirty: boolean };
  loadBefore: number;
  loadAfter: number;
  /** "A, round 2: …" for every run that failed. */
  failures: string[];
}

export const COMPARE_HEADING = '## A/B against an earlier commit, one session';

export function compareSection(comparisons: Comparison[], meta: CompareMeta): string {
  const row = (c: Comparison) => {
    const runs = (values: (number | undefined)[]) => values.map((v) => formatValue(v, c.metric.unit)).join(' / ');
    const unit = c.metric.unit === '×' ? '' : ` ${c.metric.unit}`;
    const label = c.metric.machine ? `${c.metric.label} (the machine)` : c.metric.label;
    return `| ${label} | ${formatValue(c.aMedian, c.metric.unit)}${unit} | ${formatValue(c.bMedian, c.metric.unit)}${unit} | ${Number.isFinite(c.ratio) ? c.ratio.toFixed(2) : '–'} | ${c.roundRatios.map((r) => r.toFixed(2)).join(' / ')} | ${runs(c.a)} | ${runs(c.b)} | ${c.verdict} |`;
  };
  const code = comparisons.filter((c) => !c.metric.machine);
  const worse = code.filter((c) => c.verdict === 'worse beyond noise').map((c) => c.metric.label);
  const better = code.filter((c) => c.verdict === 'better beyond noise').map((c) => c.metric.label);
  const order = Array.from({ length: meta.rounds }, () => 'A B').join(' ');
  return `${COMPARE_HEADING}

Written by \`${meta.command}\` (\`bench/compare.ts\`) on ${meta.date}: ${meta.machine}, Chromium ${meta.chromium}.

- A: \`${meta.a.ref}\` = ${meta.a.commit.slice(0, 7)} "${meta.a.subject}"
- B: ${meta.b.ref === undefined ? 'this tree,' : `\`${meta.b.ref}\` =`} ${meta.b.commit.slice(0, 7)} "${meta.b.subject}"${meta.b.dirty ? ' with uncommitted changes' : ''}
- ${meta.mebibytes} MiB, ${meta.rounds} round${meta.rounds === 1 ? '' : 's'} in the order ${order}: each run is its own tree's \`bench/run.ts\` (transfers only, one run)
  in a process of its own, with its own tracker, Chromium and web build, the raw channel measured right
  before its upload; both trees use the same node_modules and Chromium flags (this tree's). Load average ${meta.loadBefore.toFixed(1)} at the start, ${meta.loadAfter.toFixed(1)} at the end.
${meta.failures.length > 0 ? `- Failed runs (left out of the medians): ${meta.failures.join('; ')}\n` : ''}
| ${meta.mebibytes} MiB | A, median | B, median | B/A | B/A per round | A runs | B runs | beyond noise? |
| --- | ---: | ---: | ---: | --- | --- | --- | --- |
${comparisons.map(row).join('\n')}

"Beyond noise" means every B run is worse (or better) than every A run; otherwise the two ranges
overlap and the difference is within what the machine does on its own between runs. The raw
channel's rows are the machine's pace during each side's runs, not either tree's code; "×
raw channel" divides each transfer by the raw channel measured just before it.
Worse beyond noise: ${worse.length > 0 ? worse.join('; ') : 'nothing'}. Better beyond noise: ${better.length > 0 ? better.join('; ') : 'nothing'}.
`;
}
