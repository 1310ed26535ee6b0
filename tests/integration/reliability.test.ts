import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RELIABILITY_WINDOW_MS } from '../../shared/reliability.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  // The paper's metrics, with offers credited in full: what is earned rather than claimed is
  // tested in hostile-peers.test.ts.
  t = await startTracker({ NEWCOMER_SPACE: '1TiB' });
});
afterEach(async () => {
  await t.stop();
});

async function reconnect(peer: NodePeer): Promise<NodePeer> {
  peer.disconnect();
  await expect.poll(() => t.tracker.stats().peersOnline).toBe(0);
  return NodePeer.connect(t.url, peer.keys);
}

describe('reliability level from real behaviour', () => {
  it('scores trust from the capacity a peer offers, and tells the peer', async () => {
    const peer = await NodePeer.connect(t.url);
    const small = await peer.request('peer:report', { capacity: 10 * MiB, used: 0 });
    expect(small.peer).toMatchObject({ level: 4, scores: { trust: 1, dynamism: 5, availability: 5 } });
    const big = await peer.request('peer:report', { capacity: 4 * GiB, used: 0 });
    expect(big.peer).toMatchObject({ level: 5, scores: { trust: 5, dynamism: 5, availability: 5 } });
    expect(await peer.next('peer:status', (s) => s.level === 5)).toMatchObject({ metrics: { capacity: 4 * GiB } });
  });

  it('counts each lost connection, lowers dynamism, and forgets them after 24 hours', async () => {
    let peer = await NodePeer.join(t.url, 4 * GiB);
    for (let i = 0; i < 2; i++) peer = await reconnect(peer);
    const status = (await peer.request('peer:report', { capacity: 4 * GiB, used: 0 })).peer;
    // 2 disconnections → dynamism 3; (5 + 3 + 5) / 3 = 4.33 → 4
    expect(status).toMatchObject({ metrics: { disconnections: 2 }, scores: { dynamism: 3 }, level: 4 });

    t.clock.advance(RELIABILITY_WINDOW_MS + 1);
    await t.tracker.sweep();
    expect(await peer.next('peer:status', (s) => s.level === 5)).toMatchObject({ metrics: { disconnections: 0 }, scores: { dynamism: 5 } });
  });

  it('counts a rejected storage request against the host and lowers its availability', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const first = await NodePeer.join(t.url, 4 * GiB);
    await NodePeer.join(t.url, 2 * GiB);
    const placed = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    expect(placed.transferIds).toHaveLength(2);
    const offer = await offerFor(first, placed.file.id);
    await first.request('transfer:reject', { transferId: offer.transferId, reason: 'no_space' });
    const status = await first.next('peer:status', (s) => s.metrics.rejections === 1);
    expect(status.scores.availability).toBe(4);
    expect(await owner.next('transfer:ended', (e) => e.transferId === offer.transferId)).toMatchObject({ ok: false, code: 'REJECTED' });
  });

  it('counts a host that never answers as a rejection (timeout) and releases its reservation', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const silent = await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    await offerFor(silent, placed.file.id);
    t.clock.advance(t.config.acceptTimeoutMs + 1);
    await t.tracker.sweep();
    expect(await silent.next('peer:status', (s) => s.metrics.rejections === 1)).toMatchObject({ reserved: 0 });
    expect(await owner.next('file:updated', (f) => f.state === 'failed')).toMatchObject({ replicas: { stored: 0, pending: 0 } });
  });
});

describe('rejection fallback with one replica', () => {
  it('moves to the next candidate when the chosen host refuses', async () => {
    await t.stop();
    t = await startTracker({ NEWCOMER_SPACE: '1TiB', REPLICAS: '1' });
    const owner = await NodePeer.join(t.url, GiB);
    const roomy = await NodePeer.join(t.url, 3 * GiB);
    const next = await NodePeer.join(t.url, 2 * GiB);
    const placed = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const refused = await offerFor(roomy, placed.file.id);
    await roomy.request('transfer:reject', { transferId: refused.transferId, reason: 'busy' });
    const retried = await offerFor(next, placed.file.id);
    expect(retried.transferId).not.toBe(refused.transferId);
    expect(await roomy.next('peer:status', (s) => s.metrics.rejections === 1)).toMatchObject({ reserved: 0 });
  });
});
