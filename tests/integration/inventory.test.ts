import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, rootOf, storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '1' });
});
afterEach(async () => {
  await t.stop();
});

const usage = (id: string) => t.database.db.selectFrom('peers').select(['bytes_used as used', 'bytes_reserved as reserved']).where('id', '=', id).executeTakeFirstOrThrow();

describe('a host’s inventory, reconciled with the replica table', () => {
  it('forgets stored replicas the host no longer has, and frees their space', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [host], 'gone.bin', MiB);
    expect((await usage(host.id)).used).toBe(storedSize(MiB, CHUNK));

    // The host's browser lost its storage: it comes back holding nothing.
    host.disconnect();
    await owner.next('file:updated', (f) => f.replicas.online === 0);
    const back = await NodePeer.join(t.url, GiB, host.keys);
    expect((await back.request('host:inventory', { replicas: [], last: true })).drop).toEqual([]);
    expect(await usage(host.id)).toEqual({ used: 0, reserved: 0 });
    expect(await owner.next('file:updated', (f) => f.id === file.id && f.replicas.stored === 0)).toMatchObject({ state: 'stored', replicas: { stored: 0 } });
  });

  it('treats a replica held with another root, or only in part, as lost', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [host], 'changed.bin', MiB);
    const { drop } = await host.request('host:inventory', { replicas: [{ fileId: file.id, root: 'b'.repeat(64) }], last: true });
    expect(drop).toEqual([file.id]);
    expect((await usage(host.id)).used).toBe(0);
  });

  it('records a replica the host completed while the tracker was down', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'late.bin', size: MiB, chunkSize: CHUNK });
    const offer = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId: offer.transferId });
    await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(MiB) });
    // The tracker stops before the host's confirmation arrives; the host finished anyway.
    await t.restart();
    const back = await NodePeer.connect(t.url, host.keys);
    back.holds.set(placed.file.id, { size: MiB, chunkSize: CHUNK });
    const ownerBack = await NodePeer.connect(t.url, owner.keys);
    expect((await back.request('host:inventory', { replicas: [{ fileId: placed.file.id, root: await rootOf(MiB) }], last: true })).drop).toEqual([]);
    // Complete with the sealed root: stored, once it proves it holds it.
    const stored = await ownerBack.next('file:updated', (file) => file.id === placed.file.id && file.state === 'stored');
    expect(stored).toMatchObject({ replicas: { stored: 1, online: 1 } });
    expect(await usage(host.id)).toEqual({ used: storedSize(MiB, CHUNK), reserved: 0 });
  });

  it('reconciles a file listed twice only once', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [host], 'twice.bin', MiB);
    const changed = { fileId: file.id, root: 'b'.repeat(64) };
    expect((await host.request('host:inventory', { replicas: [changed, changed], last: false })).drop).toEqual([file.id]);
    await host.request('host:inventory', { replicas: [changed], last: true });
    expect(await usage(host.id)).toEqual({ used: 0, reserved: 0 });
  });

  it('does not take a replica confirmed after the host listed what it held for a lost one', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    // The host has read what it holds (nothing yet) and is sending its list when a store completes.
    t.clock.advance(1_000);
    const { file } = await storeFile(owner, [host], 'newer.bin', MiB);
    expect((await host.request('host:inventory', { replicas: [], last: true })).drop).toEqual([]);
    expect((await usage(host.id)).used).toBe(storedSize(MiB, CHUNK));
    const [listed] = (await owner.request('file:list', {})).files;
    expect(listed).toMatchObject({ id: file.id, replicas: { stored: 1 } });
  });
});
