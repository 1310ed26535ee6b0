import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offeredTo, rootOf, storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { SimulatedHost } from '../support/simulated-host.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

const GRACE = 10 * 60_000;
let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '2', REPAIR_GRACE: '10m', REPAIR_CONCURRENCY: '2', REPAIR_RATE: '60' });
});
afterEach(async () => {
  await t.stop();
});

/** Hosts of the copies that count (a copy a repair replaced is kept on the books, retired, in case its host returns). */
const holders = async (fileId: string) =>
  (await t.database.db.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).where('state', '=', 'stored').where('retired_at', 'is', null).orderBy('host_id').execute()).map(
    (r) => r.host_id,
  );
const activeRepairs = async () =>
  (await t.database.db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', 'repair').where('state', 'in', ['offered', 'open']).executeTakeFirstOrThrow()).n;

async function goOffline(peer: NodePeer): Promise<void> {
  const online = t.tracker.stats().peersOnline;
  peer.disconnect();
  await expect.poll(() => t.tracker.stats().peersOnline).toBe(online - 1);
}

describe('repair', () => {
  it('copies a replica whose host stayed away past the grace to a new host, host to host, with the owner offline', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const a = await NodePeer.join(t.url, 4 * GiB);
    const b = await NodePeer.join(t.url, 4 * GiB);
    const { file } = await storeFile(owner, [a, b], 'precious.bin', MiB);
    const spare = await SimulatedHost.start(t.url);
    await goOffline(owner);
    await goOffline(a);

    // A reload, a short drop: no repair.
    await t.tracker.sweep();
    expect(await activeRepairs()).toBe(0);

    t.clock.advance(GRACE + 1);
    await t.tracker.sweep();
    // B, holding a live copy, is told to send it; the spare accepts and confirms it.
    const ready = await b.next('transfer:ready', (offer) => offer.fileId === file.id);
    expect(ready).toMatchObject({ kind: 'repair', role: 'sender', sha256: await rootOf(MiB) });
    await expect.poll(() => holders(file.id)).toEqual([b.id, spare.peer.id].sort());

    const ownerBack = await NodePeer.connect(t.url, owner.keys);
    const [listed] = (await ownerBack.request('file:list', {})).files;
    expect(listed).toMatchObject({ replicas: { wanted: 2, stored: 2, online: 2, repairing: 0 }, repairedAt: t.clock.now() });

    // A comes back with its old copy. It is not dropped on sight in favour of the new one: it
    // is audited, counts again once it proves itself, and the least proven copy (the newest,
    // the spare's) is the one let go.
    const aBack = await NodePeer.join(t.url, 4 * GiB, a.keys);
    aBack.holds.set(file.id, { size: MiB, chunkSize: CHUNK });
    expect((await aBack.request('host:inventory', { replicas: [{ fileId: file.id, root: await rootOf(MiB) }], last: true })).drop).toEqual([]);
    await expect.poll(async () => (await t.database.db.selectFrom('replicas').select('retired_at').where('file_id', '=', file.id).where('host_id', '=', a.id).executeTakeFirst())?.retired_at).toBeNull();
    await t.tracker.sweep();
    expect(await holders(file.id)).toEqual([a.id, b.id].sort());
    expect(await spare.peer.next('replica:drop')).toEqual({ fileIds: [file.id] });
  });

  it('keeps to its concurrency cap when many hosts leave at once, and loses nothing that had a live copy', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const a = await NodePeer.join(t.url, 4 * GiB);
    const b = await NodePeer.join(t.url, 4 * GiB);
    const files = [];
    for (let i = 0; i < 4; i++) files.push((await storeFile(owner, [a, b], `f${i}.bin`, MiB)).file);
    // Two new hosts that accept but take their time.
    const c = await NodePeer.join(t.url, 4 * GiB);
    const d = await NodePeer.join(t.url, 4 * GiB);
    await goOffline(a);
    t.clock.advance(GRACE + 1);

    await t.tracker.sweep();
    expect(await activeRepairs()).toBe(2);
    await t.tracker.sweep();
    expect(await activeRepairs()).toBe(2);

    // As repairs finish, the next ones start, until every file is whole again.
    for (let done = 0; done < 4; done++) {
      const isRepair = (o: { kind: string }) => o.kind === 'repair';
      await expect.poll(() => [c, d].some((host) => host.peek('transfer:open', isRepair))).toBe(true);
      const host = [c, d].find((candidate) => candidate.peek('transfer:open', isRepair))!;
      const offer = await host.next('transfer:open', isRepair);
      // The new host is not told the root it must produce: it can't confirm a copy it never took.
      expect(offer).toMatchObject({ role: 'receiver', sha256: null });
      await host.request('transfer:accept', { transferId: offer.transferId });
      await host.request('replica:stored', { transferId: offer.transferId, sha256: await rootOf(MiB) });
      t.clock.advance(1_000);
      await t.tracker.sweep();
      expect(await activeRepairs()).toBeLessThanOrEqual(2);
    }
    for (const file of files) {
      expect(await holders(file.id)).toHaveLength(2);
      expect(await holders(file.id)).toContain(b.id);
    }
  });

  it('replaces at once a copy that served corrupt data', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const a = await NodePeer.join(t.url, 4 * GiB);
    const b = await NodePeer.join(t.url, 4 * GiB);
    const { file } = await storeFile(owner, [a, b], 'x.bin', MiB);
    const spare = await SimulatedHost.start(t.url);
    const { transferId } = await owner.request('file:locate', { fileId: file.id });
    const sender = await offeredTo([a, b], transferId);
    await sender.request('transfer:accept', { transferId });
    await owner.request('transfer:progress', { transferId, bytes: 65536 });
    // The owner's word starts an audit of that chunk; the host cannot produce it.
    sender.audits = 'wrong';
    await owner.request('transfer:fail', { transferId, code: 'INTEGRITY', message: 'chunk 0 failed authentication', chunk: 0 });
    expect(await sender.next('replica:drop')).toEqual({ fileIds: [file.id] });

    await t.tracker.sweep(); // no grace for a corrupt copy
    const good = sender === a ? b : a;
    await expect.poll(() => holders(file.id)).toEqual([good.id, spare.peer.id].sort());
  });

  it('does not repair what has no live copy, and forgets nothing', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const a = await NodePeer.join(t.url, 4 * GiB);
    const b = await NodePeer.join(t.url, 4 * GiB);
    const { file } = await storeFile(owner, [a, b], 'dormant.bin', MiB);
    await SimulatedHost.start(t.url);
    await goOffline(a);
    await goOffline(b);
    t.clock.advance(GRACE + 1);
    await t.tracker.sweep();
    expect(await activeRepairs()).toBe(0);
    expect(await holders(file.id)).toEqual([a.id, b.id].sort());
  });

  it('does not mistake a restart of the tracker for hosts gone past the grace', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const a = await NodePeer.join(t.url, 4 * GiB);
    const b = await NodePeer.join(t.url, 4 * GiB);
    const { file } = await storeFile(owner, [a, b], 'steady.bin', MiB);
    // Both hosts stay online for longer than the grace; then the tracker restarts.
    t.clock.advance(GRACE + 1);
    await t.restart();
    // A is back first, B is on its way; a spare that a repair could go to is there.
    await NodePeer.join(t.url, 4 * GiB, a.keys);
    await SimulatedHost.start(t.url);
    await t.tracker.sweep();
    expect(await activeRepairs()).toBe(0);
    expect(await holders(file.id)).toEqual([a.id, b.id].sort());
  });

  it('may copy a file back to a host that held it before', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const a = await NodePeer.join(t.url, 4 * GiB);
    const b = await NodePeer.join(t.url, 4 * GiB);
    const { file } = await storeFile(owner, [a, b], 'again.bin', MiB);
    const spare = await SimulatedHost.start(t.url);
    await goOffline(owner);
    await goOffline(a);
    t.clock.advance(GRACE + 1);
    await t.tracker.sweep();
    await expect.poll(() => holders(file.id)).toEqual([b.id, spare.peer.id].sort());

    // A comes back empty-handed (its copy was replaced); later B leaves for good.
    await SimulatedHost.start(t.url, { keys: a.keys });
    await goOffline(b);
    t.clock.advance(GRACE + 1);
    await t.tracker.sweep();
    await expect.poll(() => holders(file.id)).toEqual([a.id, spare.peer.id].sort());
  });
});
