/**
 * Many trackers, measured as an operator would try them: authenticated Socket.IO clients (each
 * its own ECDSA identity, the real challenge and signature) from many loopback addresses, so
 * that the per-address limits are not what is measured, against tracker processes (the esbuild
 * bundle of server/main.ts, as the cluster tests run it) on one throw-away PostgreSQL from
 * Debian's packages (tests/support/postgres.ts).
 *
 * For one tracker, then for two on the same database: how many peers they hold and how fast
 * they admit them, resident memory per peer (the growth of each tracker's RSS from before the
 * first peer to after the last, divided by its peers), and, with a tenth of the peers active
 * (each lists its files every 10 s, staggered) and 5 placements a second from them, the
 * placement and listing ack latency p50/p99.
 *
 * `BENCH_ONLY=trackers npm run bench` runs only this and rewrites only its section of
 * docs/BENCHMARKS.md; `BENCH_TRACKERS=0` leaves it out of a full run (the last section is kept).
 * BENCH_TRACKER_PEERS (peers per tracker, default 10000) and BENCH_TRACKER_SECONDS (length of the
 * active phase, default 60) size it. Run alone: `node --import tsx bench/trackers.ts`. The client
 * sockets of two trackers' peers are all in this process: it needs `ulimit -n` above twice
 * BENCH_TRACKER_PEERS (it says so and stops otherwise).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { migrate, openDatabase } from '../server/db/database.ts';
import { exportPublicKey, generateIdentity, signChallenge } from '../shared/identity.ts';
import { Challenge } from '../shared/protocol.ts';
import { GiB } from '../shared/units.ts';
import { startPostgresCluster, withClient } from '../tests/support/postgres.ts';
import { startTrackerProcess, type TrackerProcess } from '../tests/support/tracker-process.ts';
import { machineInfo } from './report.ts';

const PEERS = Number(process.env.BENCH_TRACKER_PEERS ?? 10_000);
const ACTIVE_SECONDS = Number(process.env.BENCH_TRACKER_SECONDS ?? 60);
/** Peers per loopback address: well under MAX_CONNECTIONS_PER_ADDRESS's default of 64. */
const PER_ADDRESS = 32;
/** Admissions under way at once, per tracker. */
const ADMITTING = 48;
const LIST_EVERY_MS = 10_000;
const PLACEMENTS_PER_SECOND = 5;
const HEADING = '## Many trackers';
const REPORT = 'docs/BENCHMARKS.md';
const GOALS = { peersPerTracker: 10_000, bytesPerPeer: 30 * 1024, placementP99Ms: 50 };

interface Run {
  trackers: number;
  peersPerTracker: number[];
  admittedPerSecond: number;
  failedAdmissions: number;
  rssBytesPerPeer: number[];
  placement: { p50: number; p99: number; n: number; refused: number };
  listing: { p50: number; p99: number; n: number };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The n-th client's own loopback address (127.1.0.1 on): many addresses, as many devices would be. */
function addressOf(n: number): string {
  const index = Math.floor(n / PER_ADDRESS);
  return `127.1.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

/** GET /api/challenge from a given local address (fetch can't choose one). */
function challenge(url: string, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/api/challenge`, { localAddress, headers: { 'cache-control': 'no-store' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`challenge: HTTP ${res.statusCode} ${body}`));
        resolve(Challenge.parse(JSON.parse(body)).nonce);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function request(socket: Socket, event: string, payload: unknown): Promise<unknown> {
  const ack = (await socket.timeout(60_000).emitWithAck(event, payload)) as { ok: boolean; code?: string; data?: unknown };
  if (!ack.ok) throw Object.assign(new Error(`${event}: ${ack.code}`), { code: ack.code });
  return ack.data;
}

/** One authenticated peer that offers 1 GiB, connected from its own address; undefined when refused. */
async function admit(url: string, n: number): Promise<Socket> {
  const keys = await generateIdentity();
  const publicKey = await exportPublicKey(keys.publicKey);
  const localAddress = addressOf(n);
  const nonce = await challenge(url, localAddress);
  const signature = await signChallenge(keys.privateKey, nonce);
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, localAddress, auth: { publicKey, nonce, signature } } as Parameters<typeof io>[1]);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  await request(socket, 'peer:report', { capacity: GiB, used: 0 });
  return socket;
}

/** Admits `count` peers to the tracker, ADMITTING at a time. */
async function admitAll(url: string, count: number, offset: number): Promise<{ sockets: Socket[]; failed: number }> {
  const sockets: Socket[] = [];
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: ADMITTING }, async () => {
      while (next < count) {
        const n = offset + next++;
        try {
          sockets.push(await admit(url, n));
        } catch (error) {
          if (failed++ < 3) console.log(`admission failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }),
  );
  return { sockets, failed };
}

/** A tenth of the peers list every 10 s (staggered) and 5 placements a second come from them, for ACTIVE_SECONDS. */
async function activePhase(sockets: Socket[]): Promise<Run['placement'] & { listing: Run['listing'] }> {
  const active = sockets.filter((_, n) => n % 10 === 0);
  const placements: number[] = [];
  const listings: number[] = [];
  let refused = 0;
  const end = Date.now() + ACTIVE_SECONDS * 1_000;
  const timers: NodeJS.Timeout[] = [];
  const pending: Promise<unknown>[] = [];
  active.forEach((socket, n) => {
    const start = setTimeout(() => {
      const list = () => {
        if (Date.now() > end) return;
        const began = performance.now();
        pending.push(request(socket, 'file:list', {}).then(() => listings.push(performance.now() - began), () => undefined));
      };
      list();
      timers.push(setInterval(list, LIST_EVERY_MS));
    }, (n / active.length) * LIST_EVERY_MS);
    timers.push(start);
  });
  let placed = 0;
  const placer = setInterval(() => {
    if (Date.now() > end) return;
    // Each from another active peer: an owner may have 8 uploads under way.
    const socket = active[placed++ % active.length]!;
    const began = performance.now();
    pending.push(
      request(socket, 'file:place', { name: `bench-${placed}`, size: 1000, chunkSize: 65536 }).then(
        () => placements.push(performance.now() - began),
        () => refused++,
      ),
    );
  }, 1_000 / PLACEMENTS_PER_SECOND);
  await new Promise((resolve) => setTimeout(resolve, ACTIVE_SECONDS * 1_000));
  clearInterval(placer);
  for (const timer of timers) clearInterval(timer);
  await Promise.allSettled(pending);
  return {
    p50: percentile(placements, 50),
    p99: percentile(placements, 99),
    n: placements.length,
    refused,
    listing: { p50: percentile(listings, 50), p99: percentile(listings, 99), n: listings.length },
  };
}

/** The trackers' settings: defaults, except what lets one bench client be 10,000 peers. */
const TRACKER_ENV = {
  LOG_LEVEL: 'warn',
  // Each peer's transfers to hosts that never answer (bench clients) expire on their own.
  TRANSFER_IDLE_TIMEOUT: '30s',
};

async function measure(clusterUrl: (database: string) => string, adminUrl: string, count: number): Promise<Run> {
  const name = `bench_${count}_${Date.now()}`;
  await withClient(adminUrl, (client) => client.query(`create database ${name}`));
  const url = clusterUrl(name);
  const opened = openDatabase({ dbPath: '', databaseUrl: url });
  await migrate(opened.db);
  await opened.close();
  const trackers: TrackerProcess[] = [];
  const all: Socket[] = [];
  try {
    for (let n = 0; n < count; n++) trackers.push(await startTrackerProcess({ ...TRACKER_ENV, DATABASE_URL: url, TRACKER_ID: `bench${n + 1}` }));
    const before = trackers.map((tracker) => tracker.rss());
    const began = performance.now();
    const admitted = await Promise.all(trackers.map((tracker, n) => admitAll(tracker.url, PEERS, n * PEERS)));
    const seconds = (performance.now() - began) / 1_000;
    for (const { sockets } of admitted) all.push(...sockets);
    const held = admitted.map(({ sockets }) => sockets.length);
    const rssBytesPerPeer = trackers.map((tracker, n) => (tracker.rss() - before[n]!) / Math.max(1, held[n]!));
    console.log(`${count} tracker(s): ${held.join(' + ')} peers in ${seconds.toFixed(0)} s; RSS per peer ${rssBytesPerPeer.map((b) => (b / 1024).toFixed(1)).join(', ')} KB; active phase ${ACTIVE_SECONDS} s…`);
    const active = await activePhase(all);
    console.log(`  placement p50 ${active.p50.toFixed(1)} ms, p99 ${active.p99.toFixed(1)} ms (${active.n}, ${active.refused} refused); listing p50 ${active.listing.p50.toFixed(1)} ms, p99 ${active.listing.p99.toFixed(1)} ms`);
    // Still connected after all that: a tracker that dropped peers under load held fewer.
    const still = all.filter((socket) => socket.connected).length;
    if (still < all.length) console.log(`  ${all.length - still} peers were disconnected during the active phase`);
    return {
      trackers: count,
      peersPerTracker: held,
      admittedPerSecond: held.reduce((a, b) => a + b, 0) / seconds,
      failedAdmissions: admitted.reduce((sum, { failed }) => sum + failed, 0),
      rssBytesPerPeer,
      placement: { p50: active.p50, p99: active.p99, n: active.n, refused: active.refused },
      listing: active.listing,
    };
  } finally {
    for (const socket of all) socket.disconnect();
    await Promise.all(trackers.map((tracker) => tracker.stop()));
    await withClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
  }
}

/** This process holds every client's socket: two trackers' worth needs more descriptors than most shells allow. */
function checkDescriptors(): void {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.POSITIVE_INFINITY);
  const needed = 2 * PEERS + 2 * ADMITTING + 1_000;
  if (soft < needed) throw new Error(`bench/trackers.ts holds ${2 * PEERS} client sockets at once and may open ${soft} files: run it after \`ulimit -n ${Math.max(65_536, needed)}\` (or set BENCH_TRACKER_PEERS lower).`);
}

export async function measureTrackers(): Promise<string> {
  if (existsSync('/proc/self/limits')) checkDescriptors();
  const cluster = await startPostgresCluster();
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-trackers-bench-'));
  try {
    const runs = [await measure((db) => cluster.url(db), cluster.url('postgres'), 1), await measure((db) => cluster.url(db), cluster.url('postgres'), 2)];
    const machine = machineInfo('');
    writeFileSync('bench/trackers-results.json', `${JSON.stringify({ machine, peersPerTracker: PEERS, activeSeconds: ACTIVE_SECONDS, runs }, null, 2)}\n`);
    return section(runs, machine);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');

function section(runs: Run[], machine: ReturnType<typeof machineInfo>): string {
  const rows = runs.map(
    (run) =>
      `| ${run.trackers} | ${run.peersPerTracker.join(' + ')} | ${run.admittedPerSecond.toFixed(0)} | ${run.rssBytesPerPeer.map(kb).join(' / ')} | ${ms(run.placement.p50)} | ${ms(run.placement.p99)} | ${run.placement.n} (${run.placement.refused} refused) | ${ms(run.listing.p50)} | ${ms(run.listing.p99)} |`,
  );
  const worstRss = Math.max(...runs.flatMap((run) => run.rssBytesPerPeer));
  const worstP99 = Math.max(...runs.map((run) => run.placement.p99));
  const fewest = Math.min(...runs.flatMap((run) => run.peersPerTracker));
  const verdict = [
    `${fewest >= GOALS.peersPerTracker ? 'met' : 'missed'}: ≥ ${GOALS.peersPerTracker} peers per tracker (fewest held: ${fewest})`,
    `${worstRss <= GOALS.bytesPerPeer ? 'met' : 'missed'}: ≤ 30 KB of resident memory per peer (worst: ${kb(worstRss)} KB)`,
    `${worstP99 <= GOALS.placementP99Ms ? 'met' : 'missed'}: placement p99 ≤ ${GOALS.placementP99Ms} ms (worst: ${ms(worstP99)} ms)`,
  ];
  return `${HEADING}

Produced by \`BENCH_ONLY=trackers npm run bench\` (\`bench/trackers.ts\`): tracker processes on one
PostgreSQL (a throw-away Debian cluster, \`fsync\` off), ${PEERS} authenticated Socket.IO clients per
tracker from ${Math.ceil(PEERS / PER_ADDRESS)} loopback addresses (${PER_ADDRESS} each), all in one
Node process on the same machine as the trackers and the database. Memory per peer is the growth
of the tracker's resident memory from before the first peer to after the last, divided by its peers.
Then for ${ACTIVE_SECONDS} s a tenth of the peers list their files every 10 s and ${PLACEMENTS_PER_SECOND}
placements a second come from them (1000-byte files, the default redundancy rs:4+4: 8 hosts each).

- Date: ${machine.date}
- Machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.os}; Node ${machine.node}

| trackers | peers held | admitted / s | RSS per peer (KB) | placement p50 (ms) | placement p99 (ms) | placements | listing p50 (ms) | listing p99 (ms) |
| ---: | --- | ---: | --- | ---: | ---: | --- | ---: | ---: |
${rows.join('\n')}

Goals: ${verdict.join('; ')}.
`;
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
