import { io, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GiB } from '../../shared/units.ts';
import { snapshot } from '../support/db-snapshot.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker();
});
afterEach(async () => {
  await t.stop();
});

/** Emits raw, untyped data on the peer's own socket and returns the ack. */
function raw(peer: NodePeer, event: string, ...args: unknown[]): Promise<{ ok: boolean; code?: string; message?: string }> {
  const socket = peer.client.socket as unknown as Socket;
  return socket.timeout(2_000).emitWithAck(event, ...args);
}

describe('malformed messages', () => {
  it('answers INVALID naming the field, and nothing else happens', async () => {
    const peer = await NodePeer.join(t.url, GiB);
    const before = await snapshot(t.database.db);
    const cases: [string, unknown, string][] = [
      ['file:place', { name: 'a', size: '10', chunkSize: 1048576 }, 'size'],
      ['file:place', { name: 'a', chunkSize: 1048576 }, 'size'],
      ['file:place', { name: 'a', size: -1, chunkSize: 1048576 }, 'size'],
      ['file:place', { name: 'a', size: 1.5, chunkSize: 1048576 }, 'size'],
      ['file:place', { name: 'a', size: null, chunkSize: 1048576 }, 'size'],
      ['file:place', { name: '', size: 1, chunkSize: 1048576 }, 'name'],
      ['file:place', { name: 'a\u0000b', size: 1, chunkSize: 1048576 }, 'name'],
      ['file:place', { name: 'x'.repeat(256), size: 1, chunkSize: 1048576 }, 'name'],
      ['file:place', { name: 'a', size: 1, chunkSize: 1 }, 'chunkSize'],
      ['file:place', { name: 'a', size: 1, chunkSize: 1048576, owner: 'someone-else' }, 'owner'],
      ['file:place', JSON.parse('{"__proto__": {"admin": true}, "name": "a", "size": 1, "chunkSize": 1048576}'), '__proto__'],
      ['file:delete', { fileId: '../../etc/passwd' }, 'fileId'],
      ['file:delete', 'not an object', 'expected object'],
      ['peer:report', { capacity: 1e300, used: 0 }, 'capacity'],
      ['transfer:signal', { transferId: 'a'.repeat(26), signal: { type: 'offer', sdp: 'x'.repeat(40_000) } }, 'signal.sdp'],
      ['transfer:signal', { transferId: 'a'.repeat(26), signal: { type: 'bogus' } }, 'signal.type'],
      ['transfer:reject', { transferId: 'a'.repeat(26), reason: 'because' }, 'reason'],
      ['host:inventory', { replicas: Array.from({ length: 501 }, () => ({ fileId: 'a'.repeat(26), root: null })), last: true }, 'replicas'],
    ];
    for (const [event, payload, field] of cases) {
      const answer = await raw(peer, event, payload);
      expect(answer, `${event} ${JSON.stringify(payload).slice(0, 80)}`).toMatchObject({ ok: false, code: 'INVALID' });
      expect(answer.message).toContain(field);
    }
    expect(await raw(peer, 'admin:grant', { all: true })).toMatchObject({ ok: false, code: 'INVALID', message: expect.stringContaining('unknown event') });
    // An ack as the only argument: the payload is missing.
    expect(await raw(peer, 'file:list')).toMatchObject({ ok: false, code: 'INVALID' });
    expect((await snapshot(t.database.db)).files).toEqual(before.files);

    // The tracker is still up and answers real requests.
    expect((await peer.request('file:list', {})).files).toEqual([]);
  });

  it('closes only the connection that sends a message over the size limit', async () => {
    const big = await NodePeer.join(t.url, GiB);
    const other = await NodePeer.join(t.url, GiB);
    const socket = big.client.socket as unknown as Socket;
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    socket.emit('file:place', { name: 'x'.repeat(t.config.maxMessageBytes * 2), size: 1, chunkSize: 1048576 });
    expect(await closed).toBe('transport close');
    expect((await other.request('file:list', {})).files).toEqual([]);
  });

  it('lets an unauthenticated socket do nothing at all', async () => {
    const socket = io(t.url, { transports: ['websocket'], reconnection: false, auth: {} });
    const error = await new Promise<Error>((resolve) => socket.on('connect_error', resolve));
    expect(error.message).toContain('handshake auth');
    expect(socket.connected).toBe(false);
    socket.close();
  });
});
