import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../server/http/security.ts';
import { GiB } from '../../shared/units.ts';
import { NodePeer } from '../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
afterEach(async () => {
  await t.stop();
});

describe('limits', () => {
  it('answers RATE_LIMITED past the per-connection budget, and the budget refills with time', async () => {
    t = await startTracker({ RATE_LIMIT: '5', RATE_BURST: '10' });
    const peer = await NodePeer.join(t.url, GiB); // one request spent
    const answers = await Promise.allSettled(Array.from({ length: 15 }, () => peer.request('file:list', {})));
    const codes = answers.map((answer) => (answer.status === 'fulfilled' ? 'ok' : (answer.reason as { code: string }).code));
    expect(codes.filter((code) => code === 'ok')).toHaveLength(9);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(6);
    t.clock.advance(1000); // five more
    expect((await peer.request('file:list', {})).files).toEqual([]);
    // Another connection has its own budget.
    const other = await NodePeer.join(t.url, GiB);
    expect((await other.request('file:list', {})).files).toEqual([]);
  });

  it('disconnects a connection that keeps flooding after a burst of refusals, tells it why, and lets it back after a pause', async () => {
    t = await startTracker({ RATE_LIMIT: '5', RATE_BURST: '10' });
    const flooder = await NodePeer.join(t.url, GiB, undefined, { reconnect: true });
    const socket = flooder.client.socket as unknown as Socket;
    const states: { state: string; detail?: string }[] = [];
    flooder.client.onState((state, detail) => states.push({ state, detail }));
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    for (let i = 0; i < 40; i++) socket.emit('file:list', {});
    expect(await closed).toBe('io server disconnect');
    expect(await flooder.next('session:closing')).toEqual({ reason: 'flooding' });
    // Not "another tab took over": the page says what happened and comes back by itself.
    expect(states[0]).toMatchObject({ state: 'offline', detail: expect.stringMatching(/more requests than it takes/) });
    await expect.poll(() => flooder.client.state).toBe('online');
    expect(states.map(({ state }) => state)).not.toContain('replaced');
    expect((await flooder.request('file:list', {})).files).toEqual([]);
    // The cut-off is the tracker's, not the peer's loss of connection: its dynamism is untouched.
    expect((await flooder.request('peer:report', { capacity: GiB, used: 0 })).peer.metrics.disconnections).toBe(0);
    const other = await NodePeer.join(t.url, GiB);
    expect((await other.request('file:list', {})).files).toEqual([]);
  });

  it('caps connections per address', async () => {
    t = await startTracker({ MAX_CONNECTIONS_PER_ADDRESS: '2' });
    await NodePeer.connect(t.url);
    await NodePeer.connect(t.url);
    await expect(NodePeer.connect(t.url)).rejects.toThrow(/RATE_LIMITED/);
  });

  it('holds the cap when many handshakes arrive at once', async () => {
    t = await startTracker({ MAX_CONNECTIONS_PER_ADDRESS: '2' });
    await Promise.allSettled(Array.from({ length: 8 }, () => NodePeer.connect(t.url)));
    await expect.poll(() => t.tracker.stats().peersOnline).toBeLessThanOrEqual(2);
    expect(t.tracker.stats().peersOnline).toBeGreaterThan(0);
  });

  it('lets only its own pages (and listed origins) open a socket', async () => {
    t = await startTracker({ ALLOWED_ORIGINS: 'https://peercloud.example' });
    const attempt = (origin: string) =>
      new Promise<string>((resolve) => {
        const socket: Socket = io(t.url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin }, auth: {} });
        socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
          socket.close();
          // A refused origin never reaches the handshake: the upgrade itself fails.
          resolve(error.data?.code ?? 'refused');
        });
      });
    expect(await attempt('https://evil.example')).toBe('refused');
    // Allowed origins get as far as authentication (which this empty auth then fails).
    expect(await attempt('https://peercloud.example')).toBe('INVALID');
    expect(await attempt(t.url)).toBe('INVALID');
  });

  it('sends the security headers on every response', async () => {
    t = await startTracker({ ADMIN_TOKEN: 'a-token-for-the-tests' });
    for (const path of ['/', '/healthz', '/api/challenge', '/api/peers', '/no-such-page']) {
      const response = await fetch(`${t.url}${path}`);
      expect(response.headers.get('content-security-policy'), path).toBe(CONTENT_SECURITY_POLICY);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
    }
  });
});
