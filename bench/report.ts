/** The benchmark's outputs: a printed table, bench/results.json, and docs/BENCHMARKS.md. */
import { cpus, totalmem, release, platform } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { MiB } from '../shared/units.ts';

export interface Figure {
  name: string;
  value: number;
  unit: 'MB/s' | 'ms' | 'MiB' | 'ms/MB';
  /** Every run's value, when there were several. */
  runs?: number[];
  /** Median over runs of this figure divided by the baseline measured just before it. */
  ratio?: number;
}

/** Where the CPU went, per thread group, in one run of the largest size and the baseline before it. */
export interface CpuBreakdown {
  sizeMiB: number;
  baselineMiB: number;
  baseline: { totalMs: number; groups: [string, number][] };
  upload: { totalMs: number; groups: [string, number][] };
  download: { totalMs: number; groups: [string, number][] };
}

/** A markdown table of CPU ms per MB by thread group: the groups that cost most in any column. */
export function breakdownTable(breakdown: CpuBreakdown): string {
  const perMB = (groups: [string, number][], mebibytes: number) => new Map(groups.map(([label, ms]) => [label, ms / ((mebibytes * MiB) / 1e6)]));
  const columns = [perMB(breakdown.baseline.groups, breakdown.baselineMiB), perMB(breakdown.upload.groups, breakdown.sizeMiB), perMB(breakdown.download.groups, breakdown.sizeMiB)];
  const labels = [...new Set(columns.flatMap((column) => [...column].filter(([, value]) => value >= 0.5).map(([label]) => label)))];
  labels.sort((a, b) => Math.max(...columns.map((c) => c.get(b) ?? 0)) - Math.max(...columns.map((c) => c.get(a) ?? 0)));
  const cell = (value: number | undefined) => (value === undefined ? '' : value.toFixed(1));
  const totals = columns.map((column) => [...column.values()].reduce((sum, value) => sum + value, 0));
  return [
    `| process \\| thread | baseline | upload ${breakdown.sizeMiB} MiB | download ${breakdown.sizeMiB} MiB |`,
    '| --- | ---: | ---: | ---: |',
    ...labels.map((label) => `| ${label.replace('|', '\\|')} | ${columns.map((column) => cell(column.get(label))).join(' | ')} |`),
    `| **all** | **${totals.map((total) => total.toFixed(1)).join('** | **')}** |`,
  ].join('\n');
}

/**
 * A bench switch that must be a whole number of at least `min` (its default when unset): a typo
 * stops the run with the switch named, not hours later with NaN in a table.
 */
export function wholeNumberEnv(name: string, fallback: number, min = 1): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min} (got "${text}")`);
  return value;
}

export function median(values: number[]): number {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number) => (Number.isFinite(value) ? Math.round(value * 10) / 10 : value);

const REPORT = 'docs/BENCHMARKS.md';
const NETWORKS_HEADING = '## Separate networks';
const FRAGMENTS_HEADING = '## Fragments';

export function machineInfo(chromium: string) {
  return {
    date: new Date().toISOString(),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    os: `${platform()} ${release()}`,
    node: process.version,
    chromium,
  };
}

/** A report's `## ` sections, in order: each its heading line and its text up to the next one. */
export function splitSections(report: string): { heading: string; text: string }[] {
  const starts = [...report.matchAll(/^## .*$/gm)].map((match) => match.index);
  return starts.map((start, i) => {
    const text = report.slice(start, starts[i + 1]);
    return { heading: text.slice(0, text.indexOf('\n') < 0 ? undefined : text.indexOf('\n')).trimEnd(), text: text.trimEnd() };
  });
}

/**
 * The report a full run writes: its own head (`generated`, with the sections it makes), then
 * every other section of the report as it was, in its order: those other benchmarks wrote
 * (fragments, networks, trackers, audits) and those written by hand (checks, analyses). A
 * section measured in this run (`measured`, by heading) replaces the old one, or comes last.
 */
export function mergeReport(generated: string, previous: string, measured: Record<string, string | undefined>): string {
  const own = new Set(splitSections(generated).map((section) => section.heading));
  const kept = splitSections(previous).filter((section) => !own.has(section.heading));
  const parts = kept.map((section) => measured[section.heading] ?? section.text);
  for (const [heading, text] of Object.entries(measured)) if (text !== undefined && !kept.some((section) => section.heading === heading)) parts.push(text);
  return `${[generated, ...parts].map((part) => part.trimEnd()).join('\n\n')}\n`;
}

/** The section of the report under `heading` as it is now, if any, up to the next section. */
export function currentSection(heading: string): string | undefined {
  if (!existsSync(REPORT)) return undefined;
  const text = readFileSync(REPORT, 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) return undefined;
  const next = text.indexOf('\n## ', start + 1);
  return text.slice(start + 1, next < 0 ? undefined : next + 1);
}

/** Replaces (or adds, at the end) the section under `heading`, leaving the rest of the report as it is. */
export function writeSection(heading: string, section: string): void {
  const text = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : '# Benchmarks\n';
  const current = currentSection(heading);
  if (!current) return writeFileSync(REPORT, `${text.trimEnd()}\n\n${section.trimEnd()}\n`);
  // A blank line before the next section, if there is one.
  const last = text.endsWith(current);
  writeFileSync(REPORT, text.replace(current, () => `${section.trimEnd()}\n${last ? '' : '\n'}`));
}

/** The "Separate networks" section (bench/networks.ts), alone: BENCH_ONLY=networks. */
export function writeNetworksSection(section: string): void {
  writeSection(NETWORKS_HEADING, section);
}

/** The "Fragments" section (bench/fragments.ts), alone: BENCH_ONLY=fragments. */
export function writeFragmentsSection(section: string): void {
  writeSection(FRAGMENTS_HEADING, section);
}

/**
 * The figures as JSON (bench/results.json unless `path` says otherwise) and as a printed table:
 * what bench/compare.ts reads from each side's run. Returns the machine and the rows written.
 */
export function writeResults(figures: Figure[], meta: { chromium: string; runs: number }, path = 'bench/results.json') {
  const machine = { ...machineInfo(meta.chromium), runs: meta.runs };
  const rows = figures.map((figure) => ({
    name: figure.name,
    value: round(figure.value),
    unit: figure.unit,
    ratioToBaseline: figure.ratio === undefined ? undefined : Math.round(figure.ratio * 100) / 100,
    runs: figure.runs?.map(round),
  }));
  writeFileSync(path, `${JSON.stringify({ machine, figures: rows }, null, 2)}\n`);
  console.table(rows.map(({ runs, ...row }) => ({ ...row, runs: runs?.join(' / ') })));
  return { machine, rows };
}

export function writeReports(figures: Figure[], meta: { chromium: string; runs: number; breakdown?: CpuBreakdown | undefined; networks?: string | undefined; fragments?: string | undefined }): void {
  const { machine, rows } = writeResults(figures, meta);

  const table = [
    '| figure | value | unit | × baseline | runs |',
    '| --- | ---: | --- | ---: | --- |',
    ...rows.map((row) => `| ${row.name} | ${row.value} | ${row.unit} | ${row.ratioToBaseline ?? ''} | ${row.runs?.join(' / ') ?? ''} |`),
  ].join('\n');
  const markdown = `# Benchmarks

Produced by \`npm run bench\` (\`bench/run.ts\`): one headless Chromium, the owner and the host in
their own browser contexts, one replica, in the private network namespace the end-to-end tests
use. Throughput is MB/s (10^6 bytes per second); each figure is the median of ${meta.runs} runs.
The baseline is a raw RTCDataChannel between two contexts, with the same message size (64 KiB)
and backpressure policy (\`sendWatermarks\` in \`shared/wire.ts\`), moving as many bytes as the
transfer it is compared with, measured again right before every run because the machine's speed
drifts; "× baseline" is the median of each run's figure divided by its own baseline's.

- Upload: from choosing the file until the tracker has recorded the verified replica (sealed,
  hashed, sent, verified on receipt and written on the host, confirmed to the tracker, which
  audits one block against the owner's root before it counts the replica).
- Download: from clicking Download until the browser has saved the whole file (fetched,
  verified, decrypted, written to disk, handed to the browser's download).
- Time to first byte: from clicking Download until the first chunk bytes reach the owner's page.
- Peak JS heap growth: the most the page's JS heap rose above its level before the transfer.
- Longest main-thread task: the longest task the owner's page ran during the transfers.
- CPU per MB: the CPU time every Chromium process and the Node process (tracker and driver)
  spent, from \`/proc\`, divided by the megabytes moved: for the baseline, from connecting its two
  pages to the last byte; for a transfer, over the same span as its throughput.
- Flood: the ack latency of a client sending \`file:list\` every 20 ms for 8 s, first on a quiet
  tracker, then while another client (its own process) sends requests as fast as its socket
  takes them. The tracker runs as its own process with its default rate limits.

## Latest run

- Date: ${machine.date}
- Machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.os}
- Node ${machine.node}, Chromium ${machine.chromium}

${table}

Targets on this machine: upload and download ≥ 0.85 × baseline; peak heap growth ≤ 64 MiB per side
for 1 GiB; time to first byte ≤ 300 ms; no main-thread task over 200 ms during a transfer; while
another client floods, a quiet client's p99 ack latency under 200 ms.

## What limits throughput here

The data channel is CPU-bound on this machine: the baseline alone keeps both cores busy (its CPU
per MB times its MB/s is about 2 000 ms per second). Then a transfer's speed relative to the
baseline is about the inverse of its CPU cost per MB relative to the baseline's, and the table
shows it: compare "CPU per MB … × baseline" with the throughput ratios. Where the CPU went, in
ms per MB, in the last run of the largest size and the baseline before it:

${meta.breakdown ? breakdownTable(meta.breakdown) : '(CPU accounting needs Linux /proc.)'}

- The channel itself (both sides): the network service's IPC thread that carries every UDP
  packet, each renderer's WebRTC thread (SCTP, DTLS) and IPC thread. It costs the same per MB
  with or without Peercloud; it is most of the CPU.
- What Peercloud adds, all of it work the product must do: on the owner, reading the file,
  sealing (AES-GCM) and hashing each chunk (its Merkle digest over 32 KiB blocks, for audits);
  on the host, hashing each chunk as it arrives, before it is written, and writing each batch
  to IndexedDB (a Blob per chunk, the browser process's IPC and storage threads); on a
  download, the host's reads and the owner's opening and writing to disk through a worker.
  Chromium's WebCrypto seals, opens and hashes inside the call, on the page's main thread,
  and a fresh MiB-sized buffer costs several milliseconds here (page faults), so buffers are
  reused where the bytes are copied anyway. About a quarter more
  CPU per MB than the bare channel, hence ratios near 0.75–0.8 when the baseline has both
  cores; on a machine with cores to spare the channel, not Peercloud, sets the pace.
- What was removed on the way: the host's read-back of every chunk (a hash on receipt before
  the write instead, with audits reading stored blocks back), a hash on top of AES-GCM
  (owners); a fresh joined copy for each block's and inner node's hash (one reused buffer);
  a fresh buffer for each chunk read from the file (one lent to the seal); simple-peer's
  stream path for incoming messages; one
  \`slice().arrayBuffer()\` per chunk (a byte stream instead); the contiguous copy of each
  chunk before storing it (frames go into the Blob as they are); \`createWritable()\` for
  downloads (a synchronous access handle in a worker instead); and the slow start of a new
  channel with megabytes queued (the queue starts at 256 KiB and grows to 4 MiB after 8 MiB).
- Long main-thread tasks: under this full CPU load the owner's page tasks are stretched by
  preemption. Awaited promises that resolve at once chain into one task, so the upload and
  the download yield to the page between sealing (or opening) and hashing a chunk. Moving the
  work to a worker would move CPU between threads; it does not make the two cores any less busy.
- The machine's speed drifts between runs (the baseline has ranged from 21 to 47 MB/s in the
  same hour), hence a baseline before every run and ratios per run.
`;
  // A run without the network profiles or the fragments keeps the last measured ones, and every hand-written section.
  const previous = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : '';
  writeFileSync(REPORT, mergeReport(markdown, previous, { [FRAGMENTS_HEADING]: meta.fragments, [NETWORKS_HEADING]: meta.networks }));
}
