/**
 * What proving storage costs (issue "Hostile peers"): the tracker's CPU per audit, and what that
 * makes per 1,000 hosts at the default audit interval. A tracker process (the same bundle the
 * tests run) on SQLite, H Node hosts that each hold one fragment and answer every audit with a
 * real Merkle proof, measured over the same window twice in one run: once with routine audits
 * every `BENCH_AUDIT_INTERVAL` on average, once with audits practically off (the baseline: the
 * same sockets, heartbeats and sweeps). The difference in the tracker's CPU time, divided by the
 * audits decided in the window, is the cost of one audit (issuing it, checking the proof against
 * the sealed root, recording the verdict). The hosts' side is measured in Node, not in a browser:
 * it is reading a block back and hashing its path.
 *
 * BENCH_ONLY=audits runs only this; BENCH_AUDIT_HOSTS (300), BENCH_AUDIT_WINDOW_S (60) size it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KiB } from '../shared/units.ts';
import type { TransferOffer } from '../shared/protocol.ts';
import { rootOf, TEST_CHUNK } from '../tests/support/fake-replica.ts';
import { NodePeer } from '../tests/support/node-peer.ts';
import { startTrackerProcess } from '../tests/support/tracker-process.ts';
import { machineInfo } from './report.ts';
import { processTimes } from './process-cpu.ts';

const HOSTS = Number(process.env.BENCH_AUDIT_HOSTS ?? 300);
const WINDOW_S = Number(process.env.BENCH_AUDIT_WINDOW_S ?? 60);
const INTERVAL_S = 30;
export const AUDITS_HEADING = '## Audits';

interface Window {
  trackerCpuMs: number;
  hostsCpuMs: number;
  audits: number;
  failed: number;
}

/** The store protocol as tests/support/flows.ts plays it, without Vitest: place, accept, confirm, seal. */
async function storeFile(owner: NodePeer, hosts: NodePeer[], name: string, size: number): Promise<void> {
  const root = await rootOf(size);
  const placed = await owner.request('file:place', { name, size, chunkSize: TEST_CHUNK });
  const isOurs = (offer: TransferOffer) => offer.fileId === placed.file.id;
  let holders: NodePeer[] = [];
  // Until every host placed has heard of it (a bench's loop, not a test's wait).
  while ((holders = hosts.filter((host) => host.peek('transfer:open', isOurs))).length < placed.transferIds.length) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const host of holders) {
    const offer = await host.next('transfer:open', isOurs);
    await host.request('transfer:accept', { transferId: offer.transferId });
    await owner.next('transfer:ready', (ready) => ready.transferId === offer.transferId);
    await host.request('replica:stored', { transferId: offer.transferId, sha256: root });
  }
  await owner.request('file:seal', { fileId: placed.file.id, sha256: root });
  await owner.next('file:updated', (file) => file.id === placed.file.id && file.state !== 'uploading');
}

/** utime + stime of a process (not of its children), in milliseconds. */
function processCpuMs(pid: number): number {
  const times = processTimes(pid);
  if (!times) throw new Error(`process ${pid} is gone: its CPU time cannot be read`);
  return times.own * 1000;
}

async function measureWindow(auditInterval: string): Promise<Window> {
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-bench-audits-'));
  const dbPath = join(dir, 'tracker.db');
  const tracker = await startTrackerProcess({
    DB_PATH: dbPath,
    REDUNDANCY: 'replicate:1',
    AUDIT_INTERVAL: auditInterval,
    AUDITS_PER_SWEEP: '10000',
    SWEEP_INTERVAL: '1s',
    NEWCOMER_SPACE: '1TiB',
    OWNER_ALLOWANCE: '1TiB',
    MAX_FILES_PER_PEER: '100000',
    MAX_PENDING_UPLOADS: '1000',
    NEW_PEERS_PER_NETWORK: '1000000',
    MAX_CONNECTIONS_PER_ADDRESS: '100000',
    // Each host from a network of its own (documentation ranges), so the per-address login limit is not what is measured.
    TRUST_PROXY: '127.0.0.1',
    // The owner stores one file per host as fast as it can: its request budget is not measured either.
    RATE_LIMIT: '10000',
    RATE_BURST: '10000',
  });
  const peers: NodePeer[] = [];
  try {
    for (let i = 0; i < HOSTS; i += 25) {
      peers.push(...(await Promise.all(Array.from({ length: Math.min(25, HOSTS - i) }, (_, k) => NodePeer.join(tracker.url, 1024 ** 3, undefined, { headers: { 'x-forwarded-for': `198.51.${Math.floor((i + k) / 200)}.${(i + k) % 200 + 1}` } })))));
    }
    const hosts = [...peers];
    const owner = await NodePeer.join(tracker.url, 0, undefined, { headers: { 'x-forwarded-for': '203.0.113.1' } });
    peers.push(owner);
    for (let i = 0; i < HOSTS; i++) await storeFile(owner, hosts, `f${i}.bin`, 64 * KiB);
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const decided = () => db.prepare<[], { audits: number; failed: number }>("SELECT count(*) AS audits, coalesce(sum(state = 'failed'), 0) AS failed FROM audits WHERE purpose = 'routine' AND state != 'pending'").get()!;
    const pid = tracker.child.pid!;
    const before = { tracker: processCpuMs(pid), hosts: process.cpuUsage(), decided: decided() };
    // A measurement window: the tracker works on its own schedule meanwhile.
    await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000));
    const hostsCpu = process.cpuUsage(before.hosts);
    const after = decided();
    const window = {
      trackerCpuMs: processCpuMs(pid) - before.tracker,
      hostsCpuMs: (hostsCpu.user + hostsCpu.system) / 1000,
      audits: after.audits - before.decided.audits,
      failed: after.failed - before.decided.failed,
    };
    db.close();
    return window;
  } finally {
    for (const peer of peers) peer.disconnect();
    await tracker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureAudits(): Promise<string> {
  const baseline = await measureWindow('1000h');
  const audited = await measureWindow(`${INTERVAL_S}s`);
  console.log('audits bench', { baseline, audited });
  const perAuditMs = audited.audits > 0 ? (audited.trackerCpuMs - baseline.trackerCpuMs) / audited.audits : NaN;
  const hostPerAuditMs = audited.audits > 0 ? (audited.hostsCpuMs - baseline.hostsCpuMs) / audited.audits : NaN;
  // Default AUDIT_INTERVAL: each stored fragment once per 6 hours on average.
  const perHour = (fragmentsPerHost: number) => ((1000 * fragmentsPerHost) / 6) * perAuditMs;
  const share = (ms: number) => `${((100 * ms) / 3_600_000).toFixed(3)} %`;
  const machine = machineInfo('');
  const round = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
  return `${AUDITS_HEADING}

Produced by \`BENCH_ONLY=audits npm run bench\` (\`bench/audits.ts\`): a tracker process on SQLite,
${HOSTS} Node hosts holding one fragment each and answering every audit with a real Merkle proof,
measured for ${WINDOW_S} s twice in one run: with routine audits every ${INTERVAL_S} s per fragment on average,
and with audits practically off (same sockets, heartbeats and sweeps: the baseline). An audit's
cost is the difference in the tracker's CPU time divided by the audits decided in the window.

- Date: ${machine.date}
- Machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.os}; Node ${machine.node}

| figure | value |
| --- | ---: |
| audits decided in the window (failed) | ${audited.audits} (${audited.failed}) |
| tracker CPU in the window, audits on / off | ${audited.trackerCpuMs} ms / ${baseline.trackerCpuMs} ms |
| tracker CPU per audit | ${round(perAuditMs)} ms |
| host CPU per audit answered (Node) | ${round(hostPerAuditMs)} ms |
| tracker CPU per hour for 1,000 hosts of 1 fragment each, default \`AUDIT_INTERVAL\` (6 h) | ${Math.round(perHour(1))} ms (${share(perHour(1))} of a core) |
| same, 1,000 hosts of 100 fragments each | ${Math.round(perHour(100))} ms (${share(perHour(100))} of a core) |

An audit costs the same whatever the fragment's size (one block and its path), so per megabyte
stored it shrinks with the fragment: the CPU of one audit divided by the fragment's size in MB.
Audits are spread over time (each fragment's next one is drawn from an exponential distribution)
and at most \`AUDITS_PER_SWEEP\` start per sweep, so this cost never arrives as one burst. An
audit asks one 1 KiB block: the bytes a host sends per audit are the block and about
log2(chunks) + log2(blocks per chunk) hashes, under 2 KB.
`;
}
