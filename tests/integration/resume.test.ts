import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor, rootOf } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '1', UPLOAD_RESUME_GRACE: '1h' });
});
afterEach(async () => {
  await t.stop();
});

const reservedOn = async (hostId: string) => (await t.database.db.selectFrom('peers').select('bytes_reserved').where('id', '=', hostId).executeTakeFirstOrThrow()).bytes_reserved;

/** An owner starts an upload to `host` and leaves in the middle of it. */
async function interruptedUpload(): Promise<{ owner: NodePeer; host: NodePeer; fileId: string }> {
  const owner = await NodePeer.join(t.url, GiB);
  const host = await NodePeer.join(t.url, GiB);
  const placed = await owner.request('file:place', { name: 'movie.mkv', size: 5 * MiB, chunkSize: CHUNK });
  const offer = await offerFor(host, placed.file.id);
  await host.request('transfer:accept', { transferId: offer.transferId });
  owner.disconnect();
  expect(await host.next('transfer:ended')).toMatchObject({ ok: false, code: 'PEER_GONE' });
  // The host hears of the end before the file is marked interrupted (which starts the grace).
  const state = async () => (await t.database.db.selectFrom('files').select('state').where('id', '=', placed.file.id).executeTakeFirstOrThrow()).state;
  await expect.poll(state).toBe('interrupted');
  return { owner, host, fileId: placed.file.id };
}

describe('an upload whose owner leaves', () => {
  it('is interrupted, its partial replica kept, and resumes on the same host', async () => {
    const { owner, host, fileId } = await interruptedUpload();
    expect(await reservedOn(host.id)).toBeGreaterThan(5 * MiB);
    expect(host.received('replica:drop')).toEqual([]);

    const back = await NodePeer.connect(t.url, owner.keys);
    const [listed] = (await back.request('file:list', {})).files;
    expect(listed).toMatchObject({ id: fileId, state: 'interrupted' });

    const resumed = await back.request('file:resume', { fileId });
    expect(resumed.file.state).toBe('uploading');
    const offer = await offerFor(host, fileId);
    expect(resumed.transferIds).toEqual([offer.transferId]);
    await host.request('transfer:accept', { transferId: offer.transferId });
    const root = await rootOf(5 * MiB);
    await host.request('replica:stored', { transferId: offer.transferId, sha256: root });
    await back.request('file:seal', { fileId, sha256: root });
    expect(await back.next('file:updated', (f) => f.state === 'stored')).toMatchObject({ replicas: { stored: 1 } });
    // Resuming reserved nothing twice: the host's space is used once, for this one replica.
    expect(await reservedOn(host.id)).toBe(0);
  });

  it('refuses to resume what is not interrupted, and refuses other peers', async () => {
    const { owner, fileId } = await interruptedUpload();
    const stranger = await NodePeer.join(t.url, 0);
    await expect(stranger.request('file:resume', { fileId })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const back = await NodePeer.connect(t.url, owner.keys);
    await back.request('file:resume', { fileId });
    await expect(back.request('file:resume', { fileId })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('fails after the grace period, and its hosts are told to drop the partial data', async () => {
    const { owner, host, fileId } = await interruptedUpload();
    t.clock.advance(3_600_000 + 1);
    await t.tracker.sweep();
    expect(await host.next('replica:drop')).toEqual({ fileIds: [fileId] });
    expect(await reservedOn(host.id)).toBe(0);
    const back = await NodePeer.connect(t.url, owner.keys);
    expect((await back.request('file:list', {})).files[0]).toMatchObject({ id: fileId, state: 'failed' });
  });

  it('continues on a newly placed host when the partial one is offline', async () => {
    const { owner, host, fileId } = await interruptedUpload();
    const other = await NodePeer.join(t.url, GiB);
    host.disconnect();
    await expect.poll(() => t.tracker.stats().peersOnline).toBe(1);
    const back = await NodePeer.connect(t.url, owner.keys);
    await back.request('file:resume', { fileId });
    const offer = await offerFor(other, fileId);
    expect(offer.kind).toBe('store');
    expect(await reservedOn(host.id)).toBe(0);
  });
});
