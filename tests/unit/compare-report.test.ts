import { describe, expect, it } from 'vitest';
import { COMPARE_HEADING, compareRuns, compareSection, noiseVerdict, runFigures, type CompareMeta, type ResultRow } from '../../bench/compare-report.ts';

/** The run described by a section: A an earlier commit, B this tree, three rounds, none failed. */
function metaOf(over: Partial<CompareMeta> = {}): CompareMeta {
  return {
    date: '2026-12-02T05:00:00.000Z',
    machine: '2 × AMD EPYC',
    chromium: '156',
    command: 'npm run bench:compare -- abc1234',
    mebibytes: 64,
    rounds: 3,
    a: { ref: 'abc1234', commit: 'abc1234def', subject: 'before' },
    b: { commit: 'fed4321abc', subject: 'after', dirty: false },
    loadBefore: 2,
    loadAfter: 3.5,
    failures: [],
    ...over,
  };
}

describe('a difference beyond noise', () => {
  it.each([
    ['ranges overlap', [10, 12, 11], [11.5, 9, 10], 'higher', 'within noise'],
    ['touching ranges overlap', [10, 12, 11], [12, 13, 14], 'higher', 'within noise'],
    ['every B run above every A run, higher better', [10, 12, 11], [12.1, 13, 14], 'higher', 'better beyond noise'],
    ['every B run above every A run, lower better', [10, 12, 11], [12.1, 13, 14], 'lower', 'worse beyond noise'],
    ['every B run below every A run, higher better', [10, 12, 11], [7, 9.9, 8], 'higher', 'worse beyond noise'],
    ['every B run below every A run, lower better', [10, 12, 11], [7, 9.9, 8], 'lower', 'better beyond noise'],
    ['one run a side has no spread', [10], [20], 'higher', 'too few runs'],
    ['a side with no run', [], [20, 21], 'lower', 'too few runs'],
  ] as const)('%s', (_name, a, b, better, verdict) => {
    expect(noiseVerdict([...a], [...b], better)).toBe(verdict);
  });
});

/** A results JSON as bench/run.ts writes it for one 64 MiB run. */
const rows = (over: { baseline?: number; upload?: number; uploadRatio?: number; cpuUpload?: number; task?: number } = {}): ResultRow[] => [
  { name: 'baseline raw RTCDataChannel', value: over.baseline ?? 10, unit: 'MB/s', runs: [over.baseline ?? 10] },
  { name: 'CPU per MB, baseline', value: 170, unit: 'ms/MB', runs: [170] },
  { name: 'upload 64 MiB', value: over.upload ?? 6, unit: 'MB/s', ratioToBaseline: over.uploadRatio ?? 0.6, runs: [over.upload ?? 6] },
  { name: 'download 64 MiB', value: 6.5, unit: 'MB/s', ratioToBaseline: 0.65, runs: [6.5] },
  { name: 'download 64 MiB time to first byte', value: 90, unit: 'ms', runs: [90] },
  { name: 'peak JS heap growth, owner, 64 MiB', value: 1.2, unit: 'MiB' },
  { name: 'peak JS heap growth, host, 64 MiB', value: 0.9, unit: 'MiB' },
  { name: 'longest main-thread task, owner, 64 MiB', value: over.task ?? 300, unit: 'ms' },
  { name: 'CPU per MB, upload 64 MiB', value: over.cpuUpload ?? 255, unit: 'ms/MB', ratioToBaseline: 1.5, runs: [255] },
  { name: 'CPU per MB, download 64 MiB', value: 272, unit: 'ms/MB', ratioToBaseline: 1.6, runs: [272] },
];

describe('one run’s figures', () => {
  it('reads each figure of its size, and CPU per MB over the raw channel’s from the ms/MB', () => {
    const figures = runFigures(rows(), 64);
    expect(figures['upload']).toBe(6);
    expect(figures['upload × raw channel']).toBe(0.6);
    expect(figures['download × raw channel']).toBe(0.65);
    expect(figures['CPU per MB, upload × raw channel']).toBeCloseTo(1.5);
    expect(figures['CPU per MB, download × raw channel']).toBeCloseTo(1.6);
    expect(figures['longest main-thread task, owner']).toBe(300);
    expect(figures['peak JS heap growth, host']).toBe(0.9);
    expect(figures['raw channel']).toBe(10);
  });

  it('leaves out what the run did not report (another size, no CPU figures off Linux)', () => {
    const figures = runFigures(rows().filter((row) => !row.name.startsWith('CPU per MB')), 256);
    expect(figures['upload']).toBeUndefined();
    expect(figures['CPU per MB, upload × raw channel']).toBeUndefined();
    expect(figures['raw channel']).toBe(10);
  });
});

describe('A against B', () => {
  const a = [rows({ uploadRatio: 0.6, task: 300 }), rows({ uploadRatio: 0.62, task: 500 }), rows({ uploadRatio: 0.58, task: 400 })].map((r) => runFigures(r, 64));
  const b = [rows({ uploadRatio: 0.5, task: 320 }), undefined, rows({ uploadRatio: 0.52, task: 280 })].map((r) => r && runFigures(r, 64));
  const comparisons = compareRuns(a, b);
  const find = (label: string) => comparisons.find((c) => c.metric.label === label)!;

  it('takes each side’s median, B over A per round where both ran, and says what is beyond noise', () => {
    const upload = find('upload × raw channel');
    expect(upload.aMedian).toBe(0.6);
    expect(upload.bMedian).toBeCloseTo(0.51);
    expect(upload.ratio).toBeCloseTo(0.85);
    expect(upload.roundRatios.map((r) => Number(r.toFixed(3)))).toEqual([0.833, 0.897]);
    expect(upload.b).toEqual([0.5, undefined, 0.52]);
    expect(upload.verdict).toBe('worse beyond noise');
    expect(find('longest main-thread task, owner').verdict).toBe('within noise');
    expect(find('download × raw channel').verdict).toBe('within noise');
  });

  it('writes a section under its own heading that names both trees, the failed run and the verdicts', () => {
    const section = compareSection(comparisons, metaOf({ failures: ['B, round 2'] }));
    expect(section.startsWith(`${COMPARE_HEADING}\n`)).toBe(true);
    expect(section).toContain('- A: `abc1234` = abc1234 "before"');
    expect(section).toContain('- B: this tree, fed4321 "after"\n');
    expect(section).toContain('in the order A B A B A B');
    expect(section).toContain('Failed runs (left out of the medians): B, round 2');
    expect(section).toContain('| upload × raw channel | 0.60 | 0.51 | 0.85 | 0.83 / 0.90 | 0.60 / 0.62 / 0.58 | 0.50 / – / 0.52 | worse beyond noise |');
    expect(section).toContain('Worse beyond noise: upload × raw channel.');
    expect(section.slice(COMPARE_HEADING.length)).not.toMatch(/^## /m);
  });

  it('names B by its ref when it is a commit, and says when this tree had uncommitted changes', () => {
    const meta = metaOf({ command: 'npm run bench:compare -- abc1234 fed4321', rounds: 1, b: { ref: 'fed4321', commit: 'fed4321abc', subject: 'after', dirty: false } });
    expect(compareSection(comparisons, meta)).toContain('- B: `fed4321` = fed4321 "after"\n');
    expect(compareSection(comparisons, meta)).toContain('1 round in the order A B:');
    expect(compareSection(comparisons, { ...meta, b: { commit: 'fed4321abc', subject: 'after', dirty: true } })).toContain('- B: this tree, fed4321 "after" with uncommitted changes\n');
  });
});
