/**
 * Peercloud itself on the network lab, for bench/networks.ts and bench/fragments-shaped.ts: the
 * real tracker (`server/main.ts`, started by the e2e's own `startLabTracker`) on the server
 * network, over TLS by address, with coturn as its STUN server and its relay (TURN_URLS,
 * TURN_SECRET: every page gets credentials of its own and lets ICE choose, as the product does),
 * by default one whole copy per file, an owner page in home 0 and a host page in home 1 (other
 * schemes and homes by option: rs:4+2 with an owner and six hosts in homes of their own), each a
 * context of that home's browser, driven through the page as bench/run.ts drives its tabs
 * (bench/peer-tabs.ts), and watching which candidate pair each of its connections used
 * (tests/support/ice-paths.ts).
 *
 * Timed as in bench/run.ts: an upload from choosing the file until the tracker's database has
 * every host's verified fragment or copy (read straight from the tracker's SQLite file: the bench process
 * has no route into the lab, and asking through a page would spend the CPU being measured); a
 * download from clicking Download until the browser saved the file, whose SHA-256 is checked
 * after the clock stops (and so is the upload's copy: the download reads the only one).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../server/db/schema.ts';
import { parseScheme, type Scheme } from '../shared/redundancy.ts';
import { MiB } from '../shared/units.ts';
import { icePaths, type IcePath } from '../tests/support/ice-paths.ts';
import type { Lab } from '../tests/support/lab.ts';
import { startLabTracker, type LabTracker } from '../tests/support/lab-tracker.ts';
import { BENCH_SPACE_POLICY } from './fragments.ts';
import { transferPhases, type TransferPhases } from './transfer-phases.ts';
import { offer, openPeer, peerId, timeDownload, timeUpload, type PeerTab } from './peer-tabs.ts';

/** Exactly one host per file, so a transfer is one channel between the two homes, like the raw one. */
export const LAB_CLOUD_REDUNDANCY = 'replicate:1';

export interface CloudTransfer {
  mbps: number;
  /** The candidate pair the transfer's connection used, on the owner's side: "srflx → srflx", "relay → relay". */
  path: string;
  /** Where its time went (before the bytes flowed, their steady rate, after), if the owner's samples cover it. */
  phases?: TransferPhases | undefined;
  /** The pair's round-trip time, as ICE measured it. */
  rttMs?: number | undefined;
  /** A download's time from clicking Download to its first bytes in the page. */
  firstByteMs?: number | undefined;
}

export interface CloudPeers {
  /** Every connection the owner's page made so far (its ICE paths, with their byte samples). */
  ownerPaths(): Promise<IcePath[]>;
  /** Uploads the file at `path` under `name` (a name new to this owner). */
  upload(path: string, name: string, size: number): Promise<CloudTransfer>;
  /** Downloads `name` and checks the saved bytes against `sha256` once the clock has stopped. */
  download(name: string, size: number, sha256: string): Promise<CloudTransfer>;
  close(): Promise<void>;
}

export interface LabCloud {
  tracker: LabTracker;
  scheme: Scheme;
  /** A new owner and new hosts lending `lendMiB` each (new identities: the routers' state may have changed since the last ones). */
  openPeers(lendMiB: number): Promise<CloudPeers>;
  close(): Promise<void>;
}

/** No upload on this machine takes longer than a file's size at 100 kB/s: past that, it failed. */
function uploadDeadlineMs(size: number): number {
  return Math.max(120_000, (size / 100_000) * 1000);
}

/** The newest connection the page made: its path as "local → remote" candidate types, and when its bytes moved. */
async function lastConnection(
  page: PeerTab['page'],
  run: { size: number; startedAt: number; endedAt: number; direction: 'sent' | 'received' },
): Promise<Omit<CloudTransfer, 'mbps'>> {
  const path = (await icePaths(page)).at(-1);
  if (!path) return { path: 'no connection seen' };
  return {
    path: `${path.local ?? '?'} → ${path.remote ?? '?'}`,
    phases: transferPhases(path.samples.map((sample) => ({ at: sample.at, bytes: sample[run.direction] })), run),
    rttMs: path.rttMs,
  };
}

/** coturn on the lab's server network: its URLs and the shared secret it was started with. */
export interface LabRelay {
  stunUrl: string;
  turnUrl: string;
  secret: string;
}

export interface LabCloudOptions {
  /** The tracker's REDUNDANCY (default replicate:1). */
  redundancy?: string;
  /** Its port on the server address (default the lab's 3000): two clouds on one lab need two. */
  port?: number;
  /** The home of the owner's page (default 0). */
  ownerHome?: number;
  /** The homes of the hosts' pages, one host each (default [1]): at least the scheme's n. */
  hostHomes?: number[];
  /** More of the tracker's environment, over the bench's own (LOG_LEVEL, say). */
  trackerEnv?: Record<string, string>;
}

/** Starts the tracker on `lab`, with `relay` as its STUN server and TURN relay. */
export async function openLabCloud(lab: Lab, relay: LabRelay, options: LabCloudOptions = {}): Promise<LabCloud> {
  const redundancy = options.redundancy ?? LAB_CLOUD_REDUNDANCY;
  const scheme = parseScheme(redundancy);
  if (!scheme) throw new Error(`not a redundancy scheme: "${redundancy}"`);
  const ownerHome = options.ownerHome ?? 0;
  const hostHomes = options.hostHomes ?? [1];
  // Fewer hosts than fragments: the upload would wait for a placement that cannot happen.
  if (hostHomes.length < scheme.n) throw new Error(`${redundancy} needs ${scheme.n} hosts, got homes ${hostHomes.join(', ')}`);
  for (const home of [ownerHome, ...hostHomes]) if (!lab.browsers[home]) throw new Error(`the lab has no browser in home ${home}`);
  const dbPath = join(lab.net.dir, `bench-tracker-${options.port ?? 'default'}.db`);
  const tracker = await startLabTracker(lab, {
    timings: 'defaults',
    ...(options.port === undefined ? {} : { port: options.port }),
    env: {
      DB_PATH: dbPath,
      REDUNDANCY: redundancy,
      // As bench/run.ts: a transfer starved of CPU by other work on the machine is not a dead one.
      TRANSFER_IDLE_TIMEOUT: '60s',
      LOG_LEVEL: 'warn',
      ...BENCH_SPACE_POLICY,
      ICE_SERVERS: JSON.stringify([{ urls: relay.stunUrl }]),
      TURN_URLS: relay.turnUrl,
      TURN_SECRET: relay.secret,
      ...options.trackerEnv,
    },
  });
  // Read-only beside the tracker's own connection: WAL lets a reader in without blocking it.
  const sqlite = new SQLite(dbPath, { readonly: true, fileMustExist: true });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  let current: CloudPeers | undefined;

  const openPeers = async (lendMiB: number): Promise<CloudPeers> => {
    await current?.close();
    const tabs: PeerTab[] = [];
    const close = async () => {
      await Promise.all(tabs.map((tab) => tab.context.close()));
    };
    try {
      // One at a time: a new page costs seconds of CPU on this machine (DEVELOPERS.md, the network lab).
      for (const home of [ownerHome, ...hostHomes]) tabs.push(await openPeer(lab.browsers[home]!, tracker.url, { watchIce: true }));
    } catch (error) {
      await close();
      throw error;
    }
    const [owner, ...hosts] = tabs as [PeerTab, ...PeerTab[]];
    const host = hosts[0]!;
    /** With BENCH_NETWORK_TRACE=<file>: both sides' newest connection (states, byte samples) as a line of JSON, to look into a run. */
    const trace = async (direction: 'upload' | 'download', name: string, startedAt: number, endedAt: number) => {
      const file = process.env.BENCH_NETWORK_TRACE;
      if (!file) return;
      const [ownerPath, hostPath] = await Promise.all([icePaths(owner.page), icePaths(host.page)].map(async (paths) => (await paths).at(-1)));
      appendFileSync(file, `${JSON.stringify({ direction, name, startedAt, endedAt, owner: ownerPath, host: hostPath })}\n`);
    };
    for (const each of hosts) await offer(each.page, lendMiB);
    const ownerId = await peerId(owner.page);
    const peers: CloudPeers = {
      ownerPaths: () => icePaths(owner.page),
      async upload(path, name, size) {
        const deadline = performance.now() + uploadDeadlineMs(size);
        let polls = 0;
        const stored = async () => {
          // Every fragment (or copy) the scheme stores, each verified by its host and counted by the tracker.
          const rows = await db
            .selectFrom('files')
            .innerJoin('replicas', 'replicas.file_id', 'files.id')
            .select('replicas.fragment')
            .where('files.owner_id', '=', ownerId)
            .where('files.name', '=', name)
            .where('replicas.state', '=', 'stored')
            .where('replicas.retired_at', 'is', null)
            .execute();
          const row = new Set(rows.map((each) => each.fragment)).size >= scheme.n ? rows[0] : undefined;
          // About once a second (not every poll: reading the page costs the CPU being measured), whether the page gave up.
          const gaveUp = row === undefined && ++polls % 40 === 0 && /No host could store it/.test((await owner.page.getByRole('list', { name: 'Uploads' }).textContent().catch(() => null)) ?? '');
          if (row === undefined && (gaveUp || performance.now() > deadline)) {
            const tray = await owner.page.getByRole('list', { name: 'Uploads' }).textContent().catch(() => null);
            const paths = await icePaths(owner.page).catch(() => []);
            throw new Error(
              `${name} was not stored${gaveUp ? '' : ` within ${Math.round(uploadDeadlineMs(size) / 1000)} s`}; the owner's uploads say: ${tray?.trim() || '(nothing)'}; ` +
                `its connections: ${JSON.stringify(paths.map(({ policy, states, local, remote, bytes }) => ({ policy, states, local, remote, bytes })))}`,
            );
          }
          return row !== undefined;
        };
        const mbps = await timeUpload(owner.page, path, name, size, stored);
        const endedAt = Date.now();
        const startedAt = endedAt - (size / 1e6 / mbps) * 1000;
        await trace('upload', name, startedAt, endedAt);
        return { mbps, ...(await lastConnection(owner.page, { size, startedAt, endedAt, direction: 'sent' })) };
      },
      async download(name, size, sha256) {
        const startedAt = Date.now();
        const { mbps, seconds, firstByteMs } = await timeDownload(owner.page, name, size, { sha256 });
        await trace('download', name, startedAt, startedAt + seconds * 1000);
        return { mbps, firstByteMs, ...(await lastConnection(owner.page, { size, startedAt, endedAt: startedAt + seconds * 1000, direction: 'received' })) };
      },
      close: async () => {
        await close();
        if (current === peers) current = undefined;
      },
    };
    current = peers;
    return peers;
  };

  return {
    tracker,
    scheme,
    openPeers,
    async close() {
      const steps = await Promise.allSettled([current?.close(), db.destroy()]);
      await tracker.stop();
      const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/** What a host lends for `runs` uploads of `size` bytes: each sealed copy a little larger than the file. */
export function lendFor(size: number, runs: number): number {
  return Math.ceil(((size * runs) / MiB) * 1.05) + 16;
}
