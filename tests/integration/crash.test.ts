/**
 * The tracker killed with SIGKILL, as a real process on a real database (an SQLite file, or
 * PostgreSQL in integration-pg): nothing it acknowledged may be lost, the database must stay
 * sound, and the cloud must heal itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PeercloudError } from '../../shared/errors.ts';
import { GiB } from '../../shared/units.ts';
import { CHUNK, rootOf } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { SimulatedHost } from '../support/simulated-host.ts';
import { createTestDatabase, expectSound, openTestDatabase, testDialect, type TestDatabase } from '../support/test-database.ts';
import { freePort, startTrackerProcess, type TrackerProcess } from '../support/tracker-process.ts';

let dir: string;
let database: TestDatabase;
let tracker: TrackerProcess | undefined;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-crash-'));
  database = await createTestDatabase(dir);
});
afterEach(async () => {
  await tracker?.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** What the owners were told: files stored, files deleted. */
interface Acknowledged {
  stored: Set<string>;
  deleted: Set<string>;
}

/** Stops the owner loops, and wakes those waiting for an answer that will never come. */
class Stop {
  now = false;
  #wake!: () => void;
  readonly stopped = new Promise<never>((_, reject) => (this.#wake = () => reject(new Error('stopped'))));
  constructor() {
    this.stopped.catch(() => undefined);
  }
  stop(): void {
    this.now = true;
    this.#wake();
  }
}

/** An owner uploading (and sometimes deleting) small files in a loop until `stop`. */
async function ownerLoop(owner: NodePeer, acked: Acknowledged, stop: Stop, deleteEvery = 0): Promise<void> {
  let n = 0;
  while (!stop.now) {
    try {
      const placed = await owner.request('file:place', { name: `f${n++}.bin`, size: 1000, chunkSize: CHUNK });
      await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(1000) });
      const done = await Promise.race([owner.next('file:updated', (f) => f.id === placed.file.id && f.state !== 'uploading', 3_000), stop.stopped]);
      if (done.state === 'stored') acked.stored.add(done.id);
      if (deleteEvery && n % deleteEvery === 0 && done.state === 'stored') {
        // Once asked to delete, the file may go whether or not the answer arrives.
        acked.stored.delete(done.id);
        await owner.request('file:delete', { fileId: done.id });
        acked.deleted.add(done.id);
      }
    } catch (error) {
      // Every host busy, or this owner's share used: a moment later it may work.
      if (error instanceof PeercloudError && (error.code === 'NO_HOST' || error.code === 'QUOTA' || error.code === 'RATE_LIMITED')) {
        // Pacing a load generator, not waiting for a state: any moment will do.
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      // The tracker died under us (the point of these tests): whatever was not acknowledged may be lost.
      return;
    }
  }
}

async function checkDatabase(acked: Acknowledged, on: TestDatabase = database): Promise<void> {
  const opened = openTestDatabase(on);
  const { db } = opened;
  try {
    await expectSound(opened);
    const stored = await db
      .selectFrom('files')
      .select('id')
      .where('state', '=', 'stored')
      .where(({ exists, selectFrom }) => exists(selectFrom('replicas').select('replicas.file_id').whereRef('replicas.file_id', '=', 'files.id').where('replicas.state', '=', 'stored')))
      .execute();
    const present = new Set(stored.map((row) => row.id));
    for (const id of acked.stored) {
      if (present.has(id)) continue;
      const detail = JSON.stringify({
        file: await db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst(),
        replicas: await db.selectFrom('replicas').selectAll().where('file_id', '=', id).execute(),
        transfers: await db.selectFrom('transfers').selectAll().where('file_id', '=', id).execute(),
      });
      expect.fail(`acknowledged file ${id} is not stored: ${detail}`);
    }
    const any = new Set((await db.selectFrom('files').select('id').execute()).map((row) => row.id));
    for (const id of acked.deleted) expect(any.has(id), `deleted file ${id}`).toBe(false);
  } finally {
    await opened.close();
  }
}

/**
 * Kills a tracker on `on` `kills` times at random moments while owners upload and delete, and
 * checks after each kill that the database is sound and holds every acknowledged operation.
 */
async function killLoop(on: TestDatabase, kills: number): Promise<Acknowledged> {
  const port = await freePort();
  const env = { ...on.env, REPLICAS: '1' };
  const acked: Acknowledged = { stored: new Set(), deleted: new Set() };
  // Two hosts that come back every round as themselves, with what they stored before.
  const hostKeys = await Promise.all([0, 1].map(() => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])));
  const hostStorage = hostKeys.map(() => new Map<string, string | null>());
  let running: TrackerProcess | undefined;
  try {
    for (let round = 0; round < kills; round++) {
      running = await startTrackerProcess(env, port);
      const url = running.url;
      const hosts = await Promise.all(hostKeys.map((keys, k) => SimulatedHost.start(url, { keys, reconnect: false, held: hostStorage[k] })));
      const owners = await Promise.all([0, 1, 2].map(() => NodePeer.join(url, 0)));
      const stop = new Stop();
      const before = acked.stored.size + acked.deleted.size;
      const loops = owners.map((owner) => ownerLoop(owner, acked, stop, 3));
      // Every other round, the random moment comes once two operations of this round were
      // acknowledged: however fast the database answers, those rounds kill the tracker with work
      // under way, and the whole loop acknowledges at least one operation per kill.
      if (round % 2 === 1) await expect.poll(() => acked.stored.size + acked.deleted.size, { timeout: 60_000 }).toBeGreaterThanOrEqual(before + 2);
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200)); // a random moment, not a wait for a state
      await running.kill9();
      running = undefined;
      stop.stop();
      await Promise.all(loops);
      for (const peer of [...owners, ...hosts.map((h) => h.peer)]) peer.disconnect();
      await checkDatabase(acked, on);
    }
  } finally {
    await running?.kill9();
  }
  return acked;
}

describe('the tracker killed with SIGKILL', () => {
  it('loses no acknowledged upload of 20 under way; peers come back by themselves and unfinished reservations are swept', async () => {
    const port = await freePort();
    const env = { ...database.env, UPLOAD_RESUME_GRACE: '1s', SWEEP_INTERVAL: '100ms', REPLICAS: '2' };
    tracker = await startTrackerProcess(env, port);
    const hosts = await Promise.all(Array.from({ length: 3 }, () => SimulatedHost.start(tracker!.url)));
    const owners = await Promise.all(Array.from({ length: 20 }, () => NodePeer.join(tracker!.url, 0)));
    const acked: Acknowledged = { stored: new Set(), deleted: new Set() };
    const stop = new Stop();
    const loops = owners.map((owner) => ownerLoop(owner, acked, stop));
    // Work under way when the kill comes: forty uploads acknowledged first (the timeout only stops a hung run).
    await expect.poll(() => acked.stored.size, { timeout: 60_000 }).toBeGreaterThanOrEqual(40);

    await tracker.kill9();
    stop.stop();
    await Promise.all(loops);
    await checkDatabase(acked);

    tracker = await startTrackerProcess(env, port);
    // The hosts reconnect on their own and report what they hold.
    await expect.poll(() => hosts.every((host) => host.peer.client.state === 'online'), { timeout: 30_000 }).toBe(true);
    await Promise.all(hosts.map((host) => host.reported));
    const opened = openTestDatabase(database);
    const { db } = opened;
    try {
      // Interrupted uploads wait UPLOAD_RESUME_GRACE for their owners; then the sweep releases them.
      await expect
        .poll(async () => (await db.selectFrom('peers').select((eb) => eb.fn.sum<number>('bytes_reserved').as('n')).executeTakeFirstOrThrow()).n, { timeout: 30_000 })
        .toBe(0);
      for (const host of hosts) {
        const stored = (await db.selectFrom('replicas').select('file_id').where('host_id', '=', host.peer.id).where('state', '=', 'stored').execute()).map((r) => r.file_id).sort();
        const complete = [...host.held].filter(([, root]) => root !== null).map(([id]) => id).sort();
        // After reconciliation, the tracker's table and what each host holds agree.
        expect(stored).toEqual(complete);
      }
    } finally {
      await opened.close();
    }
    await checkDatabase(acked);
    for (const owner of owners.slice(0, 5)) {
      const again = await NodePeer.connect(tracker.url, owner.keys);
      const listed = (await again.request('file:list', {})).files;
      for (const file of listed.filter((f) => acked.stored.has(f.id))) expect(file.state).toBe('stored');
      again.disconnect();
    }
  }, 120_000);

  /**
   * A hundred kills on the embedded SQLite file: its crash safety (WAL, integrity_check after
   * every kill) is ours to show, and issue 5 asks for a hundred. On PostgreSQL the storage's
   * crash safety is PostgreSQL's own; what the rounds test there is that our transactions leave
   * nothing half done, the same code as on SQLite: ten rounds, five killed at a random early
   * moment and five with an acknowledged upload of the round behind them (odd rounds), each
   * followed by amcheck and the foreign keys. The first test above kills it once more with
   * twenty uploads under way. Each round is a tracker process starting and about 5 s of a
   * worker: 25 rounds made this the longest file of the PostgreSQL run. On SQLite the hundred
   * kills go to two databases side by side, fifty each: a round is mostly a tracker process
   * starting, one core's work, and one loop after another was the longest wait of the whole
   * integration run (5.5 min on a loaded machine).
   */
  const DATABASES = testDialect() === 'sqlite' ? 2 : 1;
  const KILLS_EACH = testDialect() === 'sqlite' ? 50 : 10;
  const KILLS = DATABASES * KILLS_EACH;
  it(`keeps its database sound and every acknowledged operation through ${KILLS} kills at random moments`, async () => {
    const others = await Promise.all(Array.from({ length: DATABASES - 1 }, () => createTestDatabase(mkdtempSync(join(dir, 'side-')))));
    try {
      const acked = await Promise.all([database, ...others].map((each) => killLoop(each, KILLS_EACH)));
      expect(acked.reduce((sum, each) => sum + each.stored.size + each.deleted.size, 0)).toBeGreaterThanOrEqual(KILLS);
    } finally {
      await Promise.all(others.map((other) => other.drop()));
    }
    // A round is mostly a tracker process starting (Node loading the bundle): about 1 s on a quiet 2-core
    // machine, 3 to 6 s on one shared with other heavy jobs; the timeout only stops a hung run.
  }, 900_000);
});
