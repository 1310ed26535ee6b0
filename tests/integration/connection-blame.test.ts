/**
 * Transfers whose peers could not connect (issue: between computers): who loses availability.
 * The rule (shared/blame.ts): a peer is blamed only when the other one connected to someone
 * else within the hour and it did not, once a day per pair.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, rootOf } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '1' });
});
afterEach(async () => {
  await t.stop();
});

async function rejections(peer: NodePeer): Promise<number> {
  return (await peer.request('peer:report', { capacity: GiB, used: 0 })).peer.metrics.rejections;
}

/** Places a file with one replica on `host` (the only one online besides the owner) and ends the store as `end` says. */
async function store(owner: NodePeer, host: NodePeer, end: 'stored' | 'unreachable'): Promise<void> {
  const placed = await owner.request('file:place', { name: 'f', size: MiB, chunkSize: CHUNK });
  const offer = await offerFor(host, placed.file.id);
  await host.request('transfer:accept', { transferId: offer.transferId });
  if (end === 'stored') {
    await host.request('replica:stored', { transferId: offer.transferId, sha256: await rootOf(MiB) });
    await owner.request('file:seal', { fileId: placed.file.id, sha256: await rootOf(MiB) });
    await owner.next('file:updated', (f) => f.id === placed.file.id && f.state === 'stored');
  } else {
    // Both sides time out waiting for the data channel; the first report ends the transfer.
    await owner.request('transfer:fail', { transferId: offer.transferId, code: 'CONNECTION', message: 'no data channel' });
    await owner.next('transfer:ended', (e) => e.transferId === offer.transferId);
  }
}

describe('a data channel that never opened', () => {
  it('counts against a host nobody can reach, once a day per pair, and never against a well-connected one', async () => {
    const owner = await NodePeer.join(t.url, 0);
    const good = await NodePeer.join(t.url, GiB);
    // The owner has shown it can connect: a store with the good host went through.
    await store(owner, good, 'stored');
    good.disconnect();
    await expect.poll(() => t.tracker.stats().peersOnline).toBe(1);

    const unreachable = await NodePeer.join(t.url, GiB);
    await store(owner, unreachable, 'unreachable');
    expect(await rejections(unreachable)).toBe(1);
    await store(owner, unreachable, 'unreachable');
    expect(await rejections(unreachable)).toBe(1);
    // The owner that connects to others is not blamed for it.
    expect(await rejections(owner)).toBe(0);
  });

  it('costs a good host nothing when the owner is the one nobody reaches', async () => {
    const other = await NodePeer.join(t.url, 0);
    const good = await NodePeer.join(t.url, GiB);
    // The good host has shown it can connect, with another owner.
    await store(other, good, 'stored');
    other.disconnect();
    await expect.poll(() => t.tracker.stats().peersOnline).toBe(1);

    const cutOff = await NodePeer.join(t.url, 0);
    for (let i = 0; i < 3; i++) await store(cutOff, good, 'unreachable');
    expect(await rejections(good)).toBe(0);
  });

  it('costs nobody anything in a cloud where nobody has connected yet', async () => {
    const owner = await NodePeer.join(t.url, 0);
    const host = await NodePeer.join(t.url, GiB);
    await store(owner, host, 'unreachable');
    expect(await rejections(host)).toBe(0);
    expect(await rejections(owner)).toBe(0);
  });
});
