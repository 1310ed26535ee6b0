/**
 * One tracker's peers for bench/trackers.ts, in a process of their own: authenticated Socket.IO
 * clients (each its own ECDSA identity, the real challenge and signature) from many loopback
 * addresses, so that the per-address limits are not what is measured. One process per tracker,
 * because a process may open only so many files: this machine's hard limit is 20,000, which two
 * trackers' 20,000 client sockets in one process exceed (and raising it needs CAP_SYS_RESOURCE);
 * it also lets the clients of two trackers use both cores.
 *
 * Driven by its parent over IPC (`ClientsCommand`), answering each command with a `ClientsReport`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { exportPublicKey, generateIdentity, signChallenge } from '../shared/identity.ts';
import { Challenge } from '../shared/protocol.ts';
import { GiB } from '../shared/units.ts';

/** Peers per loopback address: well under MAX_CONNECTIONS_PER_ADDRESS's default of 64. */
export const PER_ADDRESS = 32;
/** Admissions under way at once, per tracker. */
export const ADMITTING = 48;
export const LIST_EVERY_MS = 10_000;

export type ClientsCommand =
  | { kind: 'admit'; url: string; count: number; offset: number }
  | { kind: 'active'; seconds: number; placementsPerSecond: number }
  | { kind: 'connected' }
  | { kind: 'close' };

export type ClientsReport =
  | { kind: 'admitted'; held: number; failed: number; firstErrors: string[] }
  | {
      kind: 'active';
      placements: number[];
      refused: number;
      refusals: string[];
      listings: number[];
      /**
       * This process's own event-loop delay (p99 / max, ms) and CPU (% of one core) over the phase:
       * an ack waits for this loop too before it is timed, so a busy client process adds to every
       * latency measured (the bench's harness, not the tracker).
       */
      loop: { p99: number; max: number; cpuPercent: number };
    }
  | { kind: 'connected'; connected: number }
  | { kind: 'closed' };

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

/** One authenticated peer that offers 1 GiB, connected from its own address. */
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

const sockets: Socket[] = [];

/** Admits `count` peers to the tracker, ADMITTING at a time. */
async function admitAll(url: string, count: number, offset: number): Promise<ClientsReport> {
  let next = 0;
  let failed = 0;
  const firstErrors: string[] = [];
  await Promise.all(
    Array.from({ length: ADMITTING }, async () => {
      while (next < count) {
        const n = offset + next++;
        try {
          sockets.push(await admit(url, n));
        } catch (error) {
          if (failed++ < 3) firstErrors.push(error instanceof Error ? error.message : String(error));
        }
      }
    }),
  );
  // The admission's garbage (keys, handshakes) is this load generator's, not the trackers': collected
  // now, so that its major collection does not take a core from the trackers in the measured phase.
  (globalThis as { gc?: () => void }).gc?.();
  return { kind: 'admitted', held: sockets.length, failed, firstErrors };
}

/**
 * A tenth of the peers list every 10 s (staggered) and `placementsPerSecond` placements come
 * from them, for `seconds`; each placed upload is deleted once acknowledged.
 */
async function activePhase(seconds: number, placementsPerSecond: number): Promise<ClientsReport> {
  const active = sockets.filter((_, n) => n % 10 === 0);
  const placements: number[] = [];
  const listings: number[] = [];
  const refusals = new Map<string, number>();
  let refused = 0;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpuBefore = process.cpuUsage();
  const phaseBegan = performance.now();
  const end = Date.now() + seconds * 1_000;
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
        (data) => {
          placements.push(performance.now() - began);
          // The upload is then given up as a page's user does (removing the file: one
          // `file:delete`, which ends its 8 stores at once): these clients can't move bytes, and
          // store transfers left to time out would each be placed again on another host and
          // counted against the host (a cascade of ~8 more placements for each one asked, which
          // is not the load this measures).
          pending.push(request(socket, 'file:delete', { fileId: (data as { file: { id: string } }).file.id }).catch(() => undefined));
        },
        (error: unknown) => {
          refused++;
          const code = (error as { code?: string }).code ?? (error instanceof Error ? error.message : String(error));
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
        },
      ),
    );
  }, 1_000 / placementsPerSecond);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
  clearInterval(placer);
  for (const timer of timers) clearInterval(timer);
  await Promise.allSettled(pending);
  delay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const loop = { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, cpuPercent: (100 * (cpu.user + cpu.system)) / 1_000 / (performance.now() - phaseBegan) };
  return { kind: 'active', placements, refused, refusals: [...refusals].map(([code, n]) => `${n} × ${code}`), listings, loop };
}

/** This process holds one tracker's client sockets at once: it says so and stops when it may not open as many files. */
export function descriptorsNeeded(peers: number): number {
  return peers + ADMITTING + 1_000;
}

function checkDescriptors(peers: number): void {
  if (!existsSync('/proc/self/limits')) return;
  const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Number.POSITIVE_INFINITY);
  const needed = descriptorsNeeded(peers);
  if (soft < needed) throw new Error(`bench/tracker-clients.ts holds ${peers} client sockets at once and may open ${soft} files: run it after \`ulimit -n ${needed}\` (or set BENCH_TRACKER_PEERS lower).`);
}

async function handle(command: ClientsCommand): Promise<ClientsReport> {
  switch (command.kind) {
    case 'admit':
      checkDescriptors(command.count);
      return admitAll(command.url, command.count, command.offset);
    case 'active':
      return activePhase(command.seconds, command.placementsPerSecond);
    case 'connected':
      return { kind: 'connected', connected: sockets.filter((socket) => socket.connected).length };
    case 'close':
      for (const socket of sockets) socket.disconnect();
      return { kind: 'closed' };
  }
}

if (process.send) {
  process.on('message', (command: ClientsCommand) => {
    handle(command).then(
      (report) => {
        process.send!(report);
        if (report.kind === 'closed') process.disconnect();
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
