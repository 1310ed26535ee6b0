import { afterEach, describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../shared/units.ts';
import { storeFile } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
afterEach(async () => {
  await t.stop();
});

const TOKEN = 'operator-token-for-tests';

describe('operator API', () => {
  it('is disabled without ADMIN_TOKEN', async () => {
    t = await startTracker();
    expect((await fetch(`${t.url}/api/peers`)).status).toBe(404);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('needs the bearer token, then lists peers with their metrics and files with their replicas', async () => {
    t = await startTracker({ ADMIN_TOKEN: TOKEN, REPLICAS: '1' });
    expect((await fetch(`${t.url}/api/peers`)).status).toBe(401);
    expect((await fetch(`${t.url}/api/peers`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);

    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, 4 * GiB);
    const { file } = await storeFile(owner, [host], 'x', 100);
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };

    const { peers } = (await (await fetch(`${t.url}/api/peers`, auth)).json()) as { peers: Record<string, unknown>[] };
    expect(peers.find((p) => p.id === host.id)).toMatchObject({
      online: true,
      capacity: 4 * GiB,
      // Its 4 GiB claim is credited up to a newcomer's 256 MiB plus what it proved (100 bytes, not yet held long).
      credited: 256 * MiB,
      proven: 0,
      vetted: false,
      level: 4,
      scores: { trust: 3, dynamism: 5, availability: 5 },
      metrics: { disconnections: 0, rejections: 0, integrityFailures: 0 },
      replicas: 1,
    });
    const { files } = (await (await fetch(`${t.url}/api/files`, auth)).json()) as { files: Record<string, unknown>[] };
    expect(files).toEqual([expect.objectContaining({ id: file.id, ownerId: owner.id, replicas: [expect.objectContaining({ hostId: host.id, state: 'stored', online: true })] })]);
    const stats = (await (await fetch(`${t.url}/api/stats`, auth)).json()) as { socketBytesIn: number; peersOnline: number };
    expect(stats.peersOnline).toBe(2);
    expect(stats.socketBytesIn).toBeGreaterThan(0);
  });

  it('measures how much of the last day peers were online, per level, from its own connect and disconnect events', async () => {
    t = await startTracker({ ADMIN_TOKEN: TOKEN });
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    await NodePeer.join(t.url, GiB); // online throughout
    const leaving = await NodePeer.join(t.url, GiB);
    t.clock.advance(60 * 60_000);
    leaving.disconnect();
    await expect.poll(async () => ((await (await fetch(`${t.url}/api/peers`, auth)).json()) as { peers: { id: string; online: boolean }[] }).peers.find((p) => p.id === leaving.id)?.online).toBe(false);
    t.clock.advance(60 * 60_000);

    const report = (await (await fetch(`${t.url}/api/availability`, auth)).json()) as { windowMs: number; levels: { level: number; peers: number; mean: number }[]; all: { peers: number; mean: number; median: number } };
    // Both were first seen two hours ago: one online all of it, one half of it.
    expect(report.windowMs).toBe(24 * 60 * 60_000);
    expect(report.all).toEqual({ peers: 2, mean: 0.75, median: 0.75 });
    expect(report.levels.reduce((sum, level) => sum + level.peers, 0)).toBe(2);
    expect((await fetch(`${t.url}/api/availability`)).status).toBe(401);
  });
});
