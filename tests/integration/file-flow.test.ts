import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, offeredTo, rootOf, storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker();
});
afterEach(async () => {
  await t.stop();
});

const peerRow = (id: string) => t.database.db.selectFrom('peers').select(['bytes_used as used', 'bytes_reserved as reserved']).where('id', '=', id).executeTakeFirstOrThrow();

describe('place → accept → stored → list → locate → delete', () => {
  it('runs the whole life of a file', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const hostA = await NodePeer.join(t.url, 2 * GiB);
    const hostB = await NodePeer.join(t.url, 2 * GiB);
    const size = 5 * MiB;
    const bytes = storedSize(size, CHUNK);

    const placed = await owner.request('file:place', { name: 'report.pdf', size, chunkSize: CHUNK });
    expect(placed.transferIds).toHaveLength(2);
    expect(placed.file).toMatchObject({ name: 'report.pdf', size, state: 'uploading', replicas: { wanted: 2, stored: 0, pending: 2 } });

    // Space is reserved at placement, before any byte moved.
    const offerA = await offerFor(hostA, placed.file.id);
    const offerB = await offerFor(hostB, placed.file.id);
    expect(offerA).toMatchObject({ kind: 'store', role: 'receiver', bytes, sha256: null });
    expect(await peerRow(hostA.id)).toEqual({ used: 0, reserved: bytes });

    for (const [host, offer] of [
      [hostA, offerA],
      [hostB, offerB],
    ] as const) {
      await host.request('transfer:accept', { transferId: offer.transferId });
      const ready = await owner.next('transfer:ready', (r) => r.transferId === offer.transferId);
      expect(ready).toMatchObject({ role: 'sender', fileId: placed.file.id });
    }

    // The first host confirms before the owner sealed: not stored yet.
    const root = await rootOf(size);
    await hostA.request('replica:stored', { transferId: offerA.transferId, sha256: root });
    expect((await owner.request('file:list', {})).files[0]!.replicas.stored).toBe(0);

    await owner.request('file:seal', { fileId: placed.file.id, sha256: root });
    await hostB.request('replica:stored', { transferId: offerB.transferId, sha256: root });
    const stored = await owner.next('file:updated', (f) => f.state === 'stored');
    expect(stored.replicas).toEqual({ wanted: 2, stored: 2, online: 2, pending: 0, repairing: 0 });
    expect(await peerRow(hostA.id)).toEqual({ used: bytes, reserved: 0 });

    const { files } = await owner.request('file:list', {});
    expect(files.map((f) => [f.name, f.state])).toEqual([['report.pdf', 'stored']]);

    // Download: one of the hosts is asked to send, then the owner is told to connect.
    const { transferId } = await owner.request('file:locate', { fileId: placed.file.id });
    const sender = await offeredTo([hostA, hostB], transferId);
    const fetchOffer = await sender.next('transfer:open', (o) => o.transferId === transferId);
    expect(fetchOffer).toMatchObject({ kind: 'fetch', role: 'sender', sha256: root });
    await sender.request('transfer:accept', { transferId });
    expect(await owner.next('transfer:ready', (r) => r.transferId === transferId)).toMatchObject({ role: 'receiver' });
    await owner.request('transfer:finish', { transferId });
    expect(await owner.next('transfer:ended', (e) => e.transferId === transferId)).toMatchObject({ ok: true });

    await owner.request('file:delete', { fileId: placed.file.id });
    expect(await hostA.next('replica:drop')).toEqual({ fileIds: [placed.file.id] });
    expect(await hostB.next('replica:drop')).toEqual({ fileIds: [placed.file.id] });
    expect(await owner.next('file:removed')).toEqual({ fileId: placed.file.id });
    expect((await owner.request('file:list', {})).files).toEqual([]);
    expect(await peerRow(hostA.id)).toEqual({ used: 0, reserved: 0 });
  });

  it('refuses a replica whose hash does not match the seal, releasing the reservation', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'x.bin', size: MiB, chunkSize: CHUNK });
    const offer = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId: offer.transferId });
    await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(MiB) });
    await host.request('replica:stored', { transferId: offer.transferId, sha256: 'b'.repeat(64) });
    expect(await host.next('transfer:ended')).toMatchObject({ ok: false, code: 'INTEGRITY' });
    const file = await owner.next('file:updated', (f) => f.state !== 'uploading');
    expect(file).toMatchObject({ state: 'failed', replicas: { stored: 0 } });
    expect(await peerRow(host.id)).toEqual({ used: 0, reserved: 0 });
  });

  it('tells a host that was offline during a delete to drop the replica when it reports its inventory', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [host], 'old.txt', 1000);
    host.disconnect();
    await expect.poll(() => t.tracker.stats().peersOnline).toBe(1);
    await owner.request('file:delete', { fileId: file.id });

    const back = await NodePeer.join(t.url, GiB, host.keys);
    const { drop } = await back.request('host:inventory', { replicas: [{ fileId: file.id, root: await rootOf(file.size) }], last: true });
    expect(drop).toEqual([file.id]);
  });

  it('answers NO_HOST in words when nobody else is online, and when nobody has room', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    await expect(owner.request('file:place', { name: 'a', size: 10, chunkSize: CHUNK })).rejects.toMatchObject({
      code: 'NO_HOST',
      message: expect.stringContaining('No other peer is online'),
    });
    await NodePeer.join(t.url, 10 * MiB);
    const refusal = owner.request('file:place', { name: 'a', size: 50 * MiB, chunkSize: CHUNK });
    await expect(refusal).rejects.toMatchObject({ code: 'NO_HOST', message: expect.stringContaining('No online peer can take this file now (it needs ') });
    // It never says how much room others have: that would tell an attacker how much to reserve.
    await expect(refusal).rejects.toSatisfy((error: Error) => !/has free|free space|10(\.\d+)? ?(MB|MiB)/.test(error.message));
    expect((await owner.request('file:list', {})).files).toEqual([]);
  });

  it('places on fewer hosts than wanted and says the file is under-replicated', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [host], 'lonely.txt', 1000);
    expect(file).toMatchObject({ state: 'stored', replicas: { wanted: 2, stored: 1, online: 1 } });
  });

  it("dates each summary by the database's clock, in milliseconds: a later read says a later time", async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'dated.txt', size: 1000, chunkSize: CHUNK });
    // The placement's answer is what it committed, not a read: any read is newer.
    expect(placed.file.readAt).toBe(0);
    await owner.request('file:delete', { fileId: placed.file.id });
    const { file } = await storeFile(owner, [host], 'f.txt', 1000);
    // The database's clock, not the tracker's (a manual one in these tests): this machine's.
    expect(Math.abs(file.readAt - Date.now())).toBeLessThan(60_000);
    const listed = (await owner.request('file:list', {})).files.find((f) => f.id === file.id)!;
    expect(listed.readAt).toBeGreaterThanOrEqual(file.readAt);
    host.disconnect();
    const offline = await owner.next('file:updated', (f) => f.id === file.id && f.replicas.online === 0);
    expect(offline.readAt).toBeGreaterThanOrEqual(listed.readAt);
  });

  it('opens downloads only from online hosts, and says so when none is', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [host], 'f.txt', 1000);
    host.disconnect();
    const offline = await owner.next('file:updated', (f) => f.id === file.id && f.replicas.online === 0);
    expect(offline.replicas).toMatchObject({ stored: 1, online: 0 });
    await expect(owner.request('file:locate', { fileId: file.id })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
