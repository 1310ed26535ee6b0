import { io } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportPublicKey, generateIdentity, peerIdFromPublicKey, signChallenge } from '../../shared/identity.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
beforeEach(async () => {
  t = await startTracker();
});
afterEach(async () => {
  await t.stop();
});

async function challenge(url: string): Promise<string> {
  const response = await fetch(`${url}/api/challenge`);
  return ((await response.json()) as { nonce: string }).nonce;
}

/** Connects a raw socket with the given auth and resolves with the connect error's code, or 'connected'. */
function attempt(url: string, auth: Record<string, unknown>): Promise<string> {
  return new Promise((resolve) => {
    const socket = io(url, { auth, transports: ['websocket'], reconnection: false });
    socket.on('connect', () => {
      socket.close();
      resolve('connected');
    });
    socket.on('connect_error', (error: Error & { data?: { code: string } }) => {
      socket.close();
      resolve(error.data?.code ?? error.message);
    });
  });
}

describe('authentication', () => {
  it('admits a peer that signs a fresh challenge, under the id derived from its key', async () => {
    const keys = await generateIdentity();
    const publicKey = await exportPublicKey(keys.publicKey);
    const peer = await NodePeer.connect(t.url, keys);
    expect(peer.id).toBe(await peerIdFromPublicKey(publicKey));
    const { peer: status } = await peer.request('peer:report', { capacity: 0, used: 0 });
    expect(status.id).toBe(peer.id);
    peer.disconnect();
  });

  it('refuses a signature made with another key', async () => {
    const claimed = await generateIdentity();
    const other = await generateIdentity();
    const nonce = await challenge(t.url);
    const code = await attempt(t.url, {
      publicKey: await exportPublicKey(claimed.publicKey),
      nonce,
      signature: await signChallenge(other.privateKey, nonce),
    });
    expect(code).toBe('UNAUTHORIZED');
  });

  it('refuses a replayed nonce, even with a valid signature', async () => {
    const keys = await generateIdentity();
    const nonce = await challenge(t.url);
    const auth = { publicKey: await exportPublicKey(keys.publicKey), nonce, signature: await signChallenge(keys.privateKey, nonce) };
    expect(await attempt(t.url, auth)).toBe('connected');
    expect(await attempt(t.url, auth)).toBe('UNAUTHORIZED');
  });

  it('refuses a nonce the tracker never issued, and an expired one', async () => {
    const keys = await generateIdentity();
    const publicKey = await exportPublicKey(keys.publicKey);
    const invented = 'abcdefghijklmnopqrstuvwxyz234567';
    expect(await attempt(t.url, { publicKey, nonce: invented, signature: await signChallenge(keys.privateKey, invented) })).toBe('UNAUTHORIZED');

    const nonce = await challenge(t.url);
    t.clock.advance(61_000);
    expect(await attempt(t.url, { publicKey, nonce, signature: await signChallenge(keys.privateKey, nonce) })).toBe('UNAUTHORIZED');
  });

  it('refuses a handshake without auth, naming what is missing', async () => {
    expect(await attempt(t.url, {})).toBe('INVALID');
  });

  it('is the same peer, with its history, when it reconnects with the same key', async () => {
    const keys = await generateIdentity();
    const first = await NodePeer.join(t.url, 1024 ** 3, keys);
    first.disconnect();
    await expect.poll(() => t.tracker.stats().peersOnline).toBe(0);
    const again = await NodePeer.connect(t.url, keys);
    expect(again.id).toBe(first.id);
    const { peer } = await again.request('peer:report', { capacity: 1024 ** 3, used: 0 });
    expect(peer.metrics.disconnections).toBe(1);
    const rows = await t.database.db.selectFrom('peers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(rows.n).toBe(1);
    again.disconnect();
  });
});
