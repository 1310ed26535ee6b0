/** The benchmark's outputs: a printed table, bench/results.json, and docs/BENCHMARKS.md. */
import { cpus, totalmem, release, platform } from 'node:os';
import { writeFileSync } from 'node:fs';

export interface Figure {
  name: string;
  value: number;
  unit: 'MB/s' | 'ms' | 'MiB';
  /** Every run's value, when there were several. */
  runs?: number[];
  /** Median over runs of this figure divided by the baseline measured just before it. */
  ratio?: number;
}

export function median(values: number[]): number {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number) => (Number.isFinite(value) ? Math.round(value * 10) / 10 : value);

export function writeReports(figures: Figure[], meta: { chromium: string; runs: number }): void {
  const machine = {
    date: new Date().toISOString(),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    os: `${platform()} ${release()}`,
    node: process.version,
    chromium: meta.chromium,
    runs: meta.runs,
  };
  const rows = figures.map((figure) => ({
    name: figure.name,
    value: round(figure.value),
    unit: figure.unit,
    ratioToBaseline: figure.ratio === undefined ? undefined : Math.round(figure.ratio * 100) / 100,
    runs: figure.runs?.map(round),
  }));
  writeFileSync('bench/results.json', `${JSON.stringify({ machine, figures: rows }, null, 2)}\n`);
  console.table(rows.map(({ runs, ...row }) => ({ ...row, runs: runs?.join(' / ') })));

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
and backpressure policy (pause above 1 MiB buffered, resume below 256 KiB), measured again right
before every run because the machine's speed drifts; "× baseline" is the median of each run's
throughput divided by its own baseline.

- Upload: from choosing the file until the tracker has recorded the verified replica (sealed,
  hashed, sent, written, read back and verified on the host, confirmed to the tracker).
- Download: from clicking Download until the browser has saved the whole file (fetched,
  verified, decrypted, written to disk, handed to the browser's download).
- Time to first byte: from clicking Download until the first chunk bytes reach the owner's page.
- Peak JS heap growth: the most the page's JS heap rose above its level before the transfer.
- Longest main-thread task: the longest task the owner's page ran during the transfers.
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
`;
  writeFileSync('docs/BENCHMARKS.md', markdown);
}
