/**
 * Many trackers, one cloud, with browsers (issue 13): two tracker processes on one PostgreSQL
 * (a throw-away cluster of Debian's postgresql, tests/support/postgres.ts) behind Debian's
 * HAProxy with deploy/haproxy-peercloud.cfg. The owner's page comes through HAProxy; its hosts'
 * pages come from the other tracker, so every signal, offer and acknowledgement of the
 * transfers crosses from one tracker to the other through the Socket.IO adapter, while the
 * bytes go browser to browser as on one tracker.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminFile } from '../../shared/operator-api.ts';
import { MiB } from '../../shared/units.ts';
import { startHaproxy, type Haproxy } from '../support/haproxy.ts';
import { startPostgresCluster, withClient, type PostgresCluster } from '../support/postgres.ts';
import { startTrackerProcess, type TrackerProcess } from '../support/tracker-process.ts';
import { E2E_ADMIN_TOKEN, E2E_PORT, E2E_TRACKER_ENV } from './fixtures/settings.ts';
import { expect, PeerPage, randomFile, test } from './fixtures/peers.ts';

const NAMES = ['tracker-a', 'tracker-b'] as const;
type Name = (typeof NAMES)[number];

let dir: string;
let cluster: PostgresCluster;
let haproxy: Haproxy;
const trackers = new Map<Name, TrackerProcess>();

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-e2e-trackers-'));
  cluster = await startPostgresCluster();
  await withClient(cluster.url('postgres'), (client) => client.query('create database peercloud'));
  for (const [index, name] of NAMES.entries()) {
    const env = {
      ...E2E_TRACKER_ENV,
      DATABASE_URL: cluster.url('peercloud'),
      TRACKER_ID: name,
      REDUNDANCY: 'replicate:2',
      // HAProxy on loopback is the only proxy: its X-Forwarded-For is believed, no one else's.
      TRUST_PROXY: '127.0.0.1',
      // Kept in memory and printed only when a test fails (below): what each tracker decided.
      LOG_LEVEL: 'info',
    };
    // Ports of this worker's own range (fixtures/settings.ts): +5 and +6.
    trackers.set(name, await startTrackerProcess(env, E2E_PORT + 5 + index));
  }
  haproxy = await startHaproxy(dir, Object.fromEntries(NAMES.map((name) => [name, trackers.get(name)!.port])));
});

test.afterEach(({}, testInfo) => {
  if (testInfo.status === testInfo.expectedStatus) return;
  for (const [name, tracker] of trackers) {
    console.log(`── ${name}'s last log lines ──\n${tracker.output().trimEnd().split('\n').slice(-120).join('\n')}`);
  }
});

test.afterAll(async () => {
  await haproxy?.stop();
  for (const tracker of trackers.values()) await tracker.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The tracker a peer's connection is on, as the cloud's database says. */
async function trackerOf(peerId: string): Promise<string | null> {
  const { rows } = await withClient(cluster.url('peercloud'), (client) => client.query<{ tracker_id: string | null; online: number }>('select tracker_id, online from peers where id = $1', [peerId]));
  return rows[0]?.online === 1 ? rows[0].tracker_id : null;
}

test('an owner whose page came through HAProxy to one tracker stores a file on hosts of the other, and downloads it byte-identical', async ({ browser }) => {
  const open = async (baseURL: string) => PeerPage.open(browser, { context: await browser.newContext({ acceptDownloads: true, baseURL }) });
  const owner = await open(haproxy.url);
  try {
    const ownerId = await owner.id();
    const ownerTracker = (await trackerOf(ownerId)) as Name | null;
    expect(NAMES).toContain(ownerTracker);
    const otherName = NAMES.find((name) => name !== ownerTracker)!;
    const other = trackers.get(otherName)!;

    const hosts = await Promise.all([open(other.url), open(other.url)]);
    try {
      const hostIds = await Promise.all(hosts.map((host) => host.id()));
      for (const id of hostIds) expect(await trackerOf(id)).toBe(otherName);

      const file = randomFile('across-trackers.bin', 3 * MiB + 777);
      await owner.upload(file);
      await owner.waitStored(file.name, 'Stored on 2 of 2 peers');
      // Either tracker answers for the whole cloud: the owner's tracker reports the copies on the other's hosts.
      const response = await fetch(`${trackers.get(ownerTracker!)!.url}/api/files`, { headers: { Authorization: `Bearer ${E2E_ADMIN_TOKEN}` } });
      const stored = ((await response.json()) as { files: AdminFile[] }).files.find((f) => f.name === file.name && f.ownerId === ownerId)!;
      expect(stored.replicas.map((replica) => [replica.hostId, replica.state]).sort()).toEqual(hostIds.map((id) => [id, 'stored']).sort());

      const { sha256 } = await owner.download(file.name);
      expect(sha256).toBe(file.sha256);
    } finally {
      await Promise.all(hosts.map((host) => host.close()));
    }
  } finally {
    await owner.close();
  }
});
