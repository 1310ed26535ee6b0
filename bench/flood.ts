/**
 * Flood benchmark: how fast a quiet client's requests are answered while another client floods
 * the tracker, against the same client's latency on a quiet tracker measured in the same run.
 * The tracker runs as its own process, as `npm start` runs it, with its default rate limits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodePeer } from '../tests/support/node-peer.ts';
import { startTrackerProcess } from '../tests/support/tracker-process.ts';
import type { Figure } from './report.ts';

const SAMPLE_MS = 8_000;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latencies(peer: NodePeer): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + SAMPLE_MS;
  while (performance.now() < end) {
    const start = performance.now();
    await peer.request('file:list', {});
    samples.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return samples;
}

export async function measureFlood(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-flood-bench-'));
  const tracker = await startTrackerProcess({ DB_PATH: join(dir, 'tracker.db') });
  try {
    const quiet = await NodePeer.join(tracker.url, 0);
    const calm = await latencies(quiet);
    const flooder = spawn(process.execPath, ['--import', 'tsx', 'bench/flooder.ts', tracker.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let report = '';
    flooder.stdout!.on('data', (data: Buffer) => (report += data.toString()));
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // let the flood build up before sampling
    const flooded = await latencies(quiet);
    flooder.kill('SIGTERM');
    await new Promise((resolve) => flooder.once('exit', resolve));
    console.log(`flood: the flooder ${report.trim()} requests; quiet client p99 ${percentile(calm, 99).toFixed(1)} ms calm, ${percentile(flooded, 99).toFixed(1)} ms flooded`);
    return [
      { name: 'quiet client ack latency p50, no flood', value: percentile(calm, 50), unit: 'ms' },
      { name: 'quiet client ack latency p99, no flood', value: percentile(calm, 99), unit: 'ms' },
      { name: 'quiet client ack latency p50, another client flooding', value: percentile(flooded, 50), unit: 'ms' },
      { name: 'quiet client ack latency p99, another client flooding', value: percentile(flooded, 99), unit: 'ms' },
    ];
  } finally {
    await tracker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await measureFlood());
}
