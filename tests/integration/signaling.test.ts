import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignalData } from '../../shared/protocol.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK, offerFor } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker({ REPLICAS: '1' });
});
afterEach(async () => {
  await t.stop();
});

const offer: SignalData = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\n' };

describe('signaling relay', () => {
  it('relays only between the two peers of an open transfer, and only while it is open', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const stranger = await NodePeer.join(t.url, 0);
    const placed = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const { transferId } = await offerFor(host, placed.file.id);

    // Not open yet: the host has not accepted.
    await expect(owner.request('transfer:signal', { transferId, signal: offer })).rejects.toMatchObject({ code: 'CONFLICT' });

    await host.request('transfer:accept', { transferId });
    await owner.request('transfer:signal', { transferId, signal: offer });
    expect(await host.next('transfer:signal')).toEqual({ transferId, signal: offer });
    const answer: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 10.0.0.2 5000 typ host', sdpMLineIndex: 0, sdpMid: '0' } };
    await host.request('transfer:signal', { transferId, signal: answer });
    expect(await owner.next('transfer:signal')).toEqual({ transferId, signal: answer });

    // A third peer can neither inject into it nor read from it.
    await expect(stranger.request('transfer:signal', { transferId, signal: offer })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(stranger.received('transfer:signal')).toEqual([]);

    await host.request('transfer:fail', { transferId, code: 'CONNECTION', message: 'ICE failed' });
    await expect(owner.request('transfer:signal', { transferId, signal: offer })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it("ends a transfer whatever the text of a peer's refusal or failure holds, NUL included", async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const refused = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const rejected = (await offerFor(host, refused.file.id)).transferId;
    await host.request('transfer:reject', { transferId: rejected, reason: 'error', message: 'disk\u0000full' });
    const failed = await owner.request('file:place', { name: 'b', size: MiB, chunkSize: CHUNK });
    const { transferId } = await offerFor(host, failed.file.id);
    await host.request('transfer:accept', { transferId });
    await host.request('transfer:fail', { transferId, code: 'STORAGE', message: 'quota\u0000exceeded 🙃' });
    const ended = (id: string) => t.database.db.selectFrom('transfers').select(['state', 'error_code', 'error_message']).where('id', '=', id).executeTakeFirstOrThrow();
    // Both end, recorded in the tracker's words for their reason: what a peer says is only logged (cut short),
    // so no peer can put its text before the other party or into a column PostgreSQL would refuse.
    expect(await ended(rejected)).toEqual({ state: 'failed', error_code: 'REJECTED', error_message: 'The host could not take it.' });
    expect(await ended(transferId)).toEqual({ state: 'failed', error_code: 'STORAGE', error_message: 'A peer could not read or write its storage.' });
  });

  it('refuses signals for a transfer that does not exist', async () => {
    const peer = await NodePeer.join(t.url, 0);
    await expect(peer.request('transfer:signal', { transferId: 'a'.repeat(26), signal: offer })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('expires an open transfer that makes no progress and releases its reservation', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const { transferId } = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId });

    // Progress keeps it alive…
    t.clock.advance(t.config.transferIdleTimeoutMs - 1000);
    await owner.request('transfer:progress', { transferId, bytes: 1000 });
    t.clock.advance(t.config.transferIdleTimeoutMs - 1000);
    await t.tracker.sweep();
    // Still open: more progress is taken.
    await owner.request('transfer:progress', { transferId, bytes: 2000 });

    // …silence ends it.
    t.clock.advance(t.config.transferIdleTimeoutMs + 1);
    await t.tracker.sweep();
    expect(await host.next('transfer:ended')).toMatchObject({ transferId, ok: false, code: 'TIMEOUT' });
    const row = await t.database.db.selectFrom('peers').select('bytes_reserved').where('id', '=', host.id).executeTakeFirstOrThrow();
    expect(row.bytes_reserved).toBe(0);
    await expect(owner.request('transfer:signal', { transferId, signal: offer })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('ends the transfer when one of its peers goes offline, and tells the other', async () => {
    const owner = await NodePeer.join(t.url, GiB);
    const host = await NodePeer.join(t.url, GiB);
    const placed = await owner.request('file:place', { name: 'a', size: MiB, chunkSize: CHUNK });
    const { transferId } = await offerFor(host, placed.file.id);
    await host.request('transfer:accept', { transferId });
    host.disconnect();
    expect(await owner.next('transfer:ended')).toMatchObject({ transferId, ok: false, code: 'PEER_GONE' });
  });
});
