import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { migrate, openDatabase } from '../../server/db/database.ts';
import { createTracker } from '../../server/tracker.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, storeFile } from '../support/flows.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';
import { createTestDatabase, expectSound, openTestDatabase } from '../support/test-database.ts';
import { startTrackerProcess } from '../support/tracker-process.ts';

let t: RunningTracker | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** Parses Prometheus' text exposition strictly enough to reject anything malformed. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]?[Ii]nf)$/.exec(line); // Go's ParseFloat: NaN and Inf in any case
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

/**
 * The samples of one tracker's /metrics keyed without their `tracker` label, after checking
 * that every sample has it, with one value: with several trackers, each scrape says whose it is.
 */
function ofOneTracker(samples: Map<string, number>): Map<string, number> {
  const trackers = new Set<string>();
  const keyed = new Map<string, number>();
  for (const [key, value] of samples) {
    const match = /tracker="((?:[^"\\]|\\.)*)"/.exec(key);
    if (!match) throw new Error(`a sample without its tracker label: ${key}`);
    trackers.add(match[1]!);
    keyed.set(key.replace(/,?tracker="(?:[^"\\]|\\.)*"/, '').replace('{,', '{').replace('{}', ''), value);
  }
  expect(trackers.size).toBe(1);
  return keyed;
}

describe('operations', () => {
  it('serves /metrics in Prometheus text, and its counters move with what happened', async () => {
    t = await startTracker({ REPLICAS: '1' });
    const before = ofOneTracker(parsePrometheus(await (await fetch(`${t.url}/metrics`)).text()));
    expect(before.get('peercloud_placements_total{kind="store"}') ?? 0).toBe(0);

    const owner = await NodePeer.join(t.url, 0); // trust 1 → level 4
    const host = await NodePeer.join(t.url, 4 * GiB); // credited a newcomer's 256 MiB: trust 3; then one refusal → level 4
    await storeFile(owner, [host], 'a.bin', MiB);
    const refusing = await owner.request('file:place', { name: 'b.bin', size: MiB, chunkSize: CHUNK });
    const offer = await offerFor(host, refusing.file.id);
    await host.request('transfer:reject', { transferId: offer.transferId, reason: 'busy' });

    // /metrics is computed at most every 5 seconds.
    t.clock.advance(5_000);
    const response = await fetch(`${t.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const after = ofOneTracker(parsePrometheus(await response.text()));
    expect(after.get('peercloud_placements_total{kind="store"}')).toBe(2);
    expect(after.get('peercloud_transfers_total{kind="store",outcome="done"}')).toBe(1);
    expect(after.get('peercloud_transfers_total{kind="store",outcome="REJECTED"}')).toBe(1);
    expect(after.get('peercloud_rejections_total')).toBe(1);
    expect(after.get('peercloud_transfer_bytes_total{kind="store"}')).toBeGreaterThan(MiB);
    expect(after.get('peercloud_socketio_connections')).toBe(2);
    expect(after.get('peercloud_peers_online{level="5"}')).toBe(0);
    expect(after.get('peercloud_peers_online{level="4"}')).toBe(2);
    expect(after.has('peercloud_nodejs_eventloop_lag_seconds')).toBe(true);
    expect(after.get('peercloud_files{health="under-replicated"}') ?? after.get('peercloud_files{health="healthy"}')).toBe(1);
  });

  it('logs one structured line per placement, rejection and transfer, with ids and never names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercloud-logs-'));
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const testDatabase = await createTestDatabase(dir);
    const config = loadConfig({ ...testDatabase.env, WEB_ROOT: dir, REPLICAS: '1', SWEEP_INTERVAL: '1h' });
    const database = openDatabase(config);
    await migrate(database.db);
    const tracker = createTracker({ db: database.db, clock: new ManualClock(), config, log: pino({ level: 'info' }, sink) });
    const { url } = await tracker.listen(0, '127.0.0.1');
    try {
      const owner = await NodePeer.join(url, GiB);
      const host = await NodePeer.join(url, GiB);
      await storeFile(owner, [host], 'secret-name.txt', 1000);
      const placed = await owner.request('file:place', { name: 'other-secret.txt', size: 10, chunkSize: CHUNK });
      await host.request('transfer:reject', { transferId: (await offerFor(host, placed.file.id)).transferId, reason: 'no_space' });
      const events = lines.map((line) => line.event);
      expect(events.filter((event) => event === 'placement')).toHaveLength(2);
      expect(events.filter((event) => event === 'rejection')).toHaveLength(1);
      expect(events).toContain('transfer_end');
      expect(lines.find((line) => line.event === 'placement')).toMatchObject({ fileId: expect.any(String), hostId: host.id, hostLevel: expect.any(Number) });
      expect(JSON.stringify(lines)).not.toContain('secret');
    } finally {
      await tracker.close();
      await database.close();
      await testDatabase.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a peer whose registration failed on its side try again, and takes it once it can', async () => {
    t = await startTracker({});
    const { db } = t.database;
    // The tracker's database refuses every new peer for a while (an injected failure).
    if (t.testDatabase.dialect === 'postgres') {
      await sql`create function refuse_peers() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`.execute(db);
      await sql`create trigger refuse_peers before insert on peers for each row execute function refuse_peers()`.execute(db);
    } else {
      await sql`create trigger refuse_peers before insert on peers begin select raise(abort, 'injected failure'); end`.execute(db);
    }
    const peer = await NodePeer.connect(t.url, undefined, { reconnect: true });
    const states: string[] = [];
    peer.client.onState((state) => states.push(state));
    // Refused at least twice: it came back after the first failure.
    await expect.poll(() => states.filter((state) => state === 'offline').length).toBeGreaterThanOrEqual(2);
    expect(states).not.toContain('replaced');
    expect(await db.selectFrom('peers').select('id').where('id', '=', peer.id).execute()).toEqual([]);
    await sql`drop trigger refuse_peers${sql.raw(t.testDatabase.dialect === 'postgres' ? ' on peers' : '')}`.execute(db);
    await expect.poll(async () => (await db.selectFrom('peers').select('online').where('id', '=', peer.id).executeTakeFirst())?.online, { timeout: 10_000 }).toBe(1);
    // The row can be written before this process has read the tracker's connect packet.
    await expect.poll(() => peer.client.state).toBe('online');
    await peer.request('peer:report', { capacity: GiB, used: 0 });
    expect(states).not.toContain('replaced');
    peer.disconnect();
  });

  it('shuts down gracefully on SIGTERM: stops, finishes its writes, leaves a sound database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercloud-term-'));
    const testDatabase = await createTestDatabase(dir);
    const tracker = await startTrackerProcess(testDatabase.env);
    const peers = await Promise.all([0, 1, 2].map(() => NodePeer.join(tracker.url, GiB)));
    const exited = new Promise<number | null>((resolve) => tracker.child.once('exit', (code) => resolve(code)));
    const requests = peers.map((peer) => peer.request('file:list', {}).then(() => 'answered', () => 'refused'));
    tracker.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await Promise.all(requests)).toHaveLength(3);
    // Its peers lost a tracker, to reconnect to (through the load balancer, to any other): they
    // were not told that another tab of theirs took over, which would keep them away.
    await expect.poll(() => peers.map((peer) => peer.client.state)).toEqual(['offline', 'offline', 'offline']);
    for (const peer of peers) peer.disconnect();
    const database = openTestDatabase(testDatabase);
    await expectSound(database);
    // A tracker going away is not its peers' fault: they are offline, and no disconnection is counted.
    const { db } = database;
    expect(await db.selectFrom('peers').select((eb) => eb.fn.countAll<number>().as('n')).where('online', '=', 1).executeTakeFirst()).toEqual({ n: 0 });
    expect(await db.selectFrom('peer_events').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', 'disconnect').executeTakeFirst()).toEqual({ n: 0 });
    await database.close();
    await testDatabase.drop();
    rmSync(dir, { recursive: true, force: true });
  });
});
