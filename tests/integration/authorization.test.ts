import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, storeFile } from '../support/flows.ts';
import { snapshot } from '../support/db-snapshot.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '1' });
});
afterEach(async () => {
  await t.stop();
});

describe('only a file’s owner can see or touch it', () => {
  it('refuses every owner-only operation to another peer, and changes nothing', async () => {
    const alice = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(alice, [host], 'diary.txt', 1234);
    const bob = await NodePeer.join(t.url, GiB);
    const before = await snapshot(t.database.db);

    expect((await bob.request('file:list', {})).files).toEqual([]);
    await expect(bob.request('file:locate', { fileId: file.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(bob.request('file:delete', { fileId: file.id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(bob.request('file:seal', { fileId: file.id, sha256: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await snapshot(t.database.db)).toEqual(before);
    expect(host.received('transfer:open').filter((o) => o.kind === 'fetch')).toEqual([]);
  });

  it('refuses a host-only confirmation from a peer that did not receive the replica', async () => {
    const alice = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const placed = await alice.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const { transferId } = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId });
    const before = await snapshot(t.database.db);

    // Neither the owner (the sender) nor a stranger can confirm what the host should have stored.
    await expect(alice.request('replica:stored', { transferId, sha256: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const mallory = await NodePeer.join(t.url, 0);
    const afterJoin = await snapshot(t.database.db);
    await expect(mallory.request('replica:stored', { transferId, sha256: 'a'.repeat(64) })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(mallory.request('transfer:accept', { transferId })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(mallory.request('transfer:fail', { transferId, code: 'CANCELLED', message: 'no' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // The owner can't answer for the host either.
    await expect(alice.request('transfer:reject', { transferId, reason: 'busy' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(before.replicas).toEqual(afterJoin.replicas);
    expect(await snapshot(t.database.db)).toEqual(afterJoin);
  });
});
