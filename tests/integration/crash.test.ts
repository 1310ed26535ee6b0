/**
 * The tracker killed with SIGKILL, as a real process on a real SQLite file: nothing it
 * acknowledged may be lost, the database must stay sound, and the cloud must heal itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GiB } from '../../shared/units.ts';
import { CHUNK, ROOT } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { SimulatedHost } from '../support/simulated-host.ts';
import { freePort, startTrackerProcess, type TrackerProcess } from '../support/tracker-process.ts';

let dir: string;
let dbPath: string;
let tracker: TrackerProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-crash-'));
  dbPath = join(dir, 'tracker.db');
});
afterEach(async () => {
  await tracker?.stop();
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
      await owner.request('file:seal', { fileId: placed.file.id, sha256: ROOT });
      const done = await Promise.race([owner.next('file:updated', (f) => f.id === placed.file.id && f.state !== 'uploading', 3_000), stop.stopped]);
      if (done.state === 'stored') acked.stored.add(done.id);
      if (deleteEvery && n % deleteEvery === 0 && done.state === 'stored') {
        // Once asked to delete, the file may go whether or not the answer arrives.
        acked.stored.delete(done.id);
        await owner.request('file:delete', { fileId: done.id });
        acked.deleted.add(done.id);
      }
    } catch {
      // The tracker died under us (the point of these tests): whatever was not acknowledged may be lost.
      return;
    }
  }
}

function checkDatabase(acked: Acknowledged): void {
  const db = new SQLite(dbPath, { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    const stored = db.prepare("select f.id from files f where f.state = 'stored' and exists (select 1 from replicas r where r.file_id = f.id and r.state = 'stored')").all() as { id: string }[];
    const present = new Set(stored.map((row) => row.id));
    for (const id of acked.stored) {
      const detail = () => JSON.stringify({ file: db.prepare('select * from files where id = ?').get(id), replicas: db.prepare('select * from replicas where file_id = ?').all(id), transfers: db.prepare('select * from transfers where file_id = ?').all(id) });
      expect(present.has(id), `acknowledged file ${id}: ${present.has(id) ? '' : detail()}`).toBe(true);
    }
    const any = new Set((db.prepare('select id from files').all() as { id: string }[]).map((row) => row.id));
    for (const id of acked.deleted) expect(any.has(id), `deleted file ${id}`).toBe(false);
  } finally {
    db.close();
  }
}

describe('the tracker killed with SIGKILL', () => {
  it('loses no acknowledged upload of 20 under way; peers come back by themselves and unfinished reservations are swept', async () => {
    const port = await freePort();
    const env = { DB_PATH: dbPath, UPLOAD_RESUME_GRACE: '1s', SWEEP_INTERVAL: '100ms', REPLICAS: '2' };
    tracker = await startTrackerProcess(env, port);
    const hosts = await Promise.all(Array.from({ length: 3 }, () => SimulatedHost.start(tracker!.url)));
    const owners = await Promise.all(Array.from({ length: 20 }, () => NodePeer.join(tracker!.url, 0)));
    const acked: Acknowledged = { stored: new Set(), deleted: new Set() };
    const stop = new Stop();
    const loops = owners.map((owner) => ownerLoop(owner, acked, stop));
    await expect.poll(() => acked.stored.size, { timeout: 10_000 }).toBeGreaterThanOrEqual(40);

    await tracker.kill9();
    stop.stop();
    await Promise.all(loops);
    checkDatabase(acked);

    tracker = await startTrackerProcess(env, port);
    // The hosts reconnect on their own and report what they hold.
    await expect.poll(() => hosts.every((host) => host.peer.client.state === 'online'), { timeout: 10_000 }).toBe(true);
    const db = new SQLite(dbPath, { readonly: true });
    try {
      // Interrupted uploads wait UPLOAD_RESUME_GRACE for their owners; then the sweep releases them.
      await expect.poll(() => (db.prepare('select sum(bytes_reserved) as n from peers').get() as { n: number }).n, { timeout: 10_000 }).toBe(0);
      for (const host of hosts) {
        const stored = (db.prepare("select file_id from replicas where host_id = ? and state = 'stored'").all(host.peer.id) as { file_id: string }[]).map((r) => r.file_id).sort();
        const complete = [...host.held].filter(([, root]) => root !== null).map(([id]) => id).sort();
        // After reconciliation, the tracker's table and what each host holds agree.
        expect(stored).toEqual(complete);
      }
    } finally {
      db.close();
    }
    checkDatabase(acked);
    for (const owner of owners.slice(0, 5)) {
      const again = await NodePeer.connect(tracker.url, owner.keys);
      const listed = (await again.request('file:list', {})).files;
      for (const file of listed.filter((f) => acked.stored.has(f.id))) expect(file.state).toBe('stored');
      again.disconnect();
    }
  });

  it('keeps its database sound and every acknowledged operation through 100 kills at random moments', async () => {
    const port = await freePort();
    const env = { DB_PATH: dbPath, REPLICAS: '1' };
    const acked: Acknowledged = { stored: new Set(), deleted: new Set() };
    // Two hosts that come back every round as themselves, with what they stored before.
    const hostKeys = await Promise.all([0, 1].map(() => crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])));
    const hostStorage = hostKeys.map(() => new Map<string, string | null>());
    for (let round = 0; round < 100; round++) {
      tracker = await startTrackerProcess(env, port);
      const hosts = await Promise.all(hostKeys.map((keys, k) => SimulatedHost.start(tracker!.url, { keys, reconnect: false, held: hostStorage[k] })));
      const owners = await Promise.all([0, 1, 2].map(() => NodePeer.join(tracker!.url, 0)));
      const stop = new Stop();
      const loops = owners.map((owner) => ownerLoop(owner, acked, stop, 3));
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200)); // a random moment, not a wait for a state
      await tracker.kill9();
      stop.stop();
      await Promise.all(loops);
      for (const peer of [...owners, ...hosts.map((h) => h.peer)]) peer.disconnect();
      checkDatabase(acked);
    }
    tracker = undefined;
    expect(acked.stored.size + acked.deleted.size).toBeGreaterThan(100);
  }, 300_000);
});
