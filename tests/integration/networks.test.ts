import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ackSchema, type ClientRequestName } from '../../shared/protocol.ts';
import { makeTestCertificate } from '../support/certificates.ts';
import { getJson, rawJoin } from '../support/raw-client.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';
import { startTrackerProcess } from '../support/tracker-process.ts';
import type { Socket } from 'socket.io-client';

let t: RunningTracker | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await t?.stop();
  t = undefined;
});

async function ask<K extends ClientRequestName>(socket: Socket, name: K, payload: unknown) {
  const answer = ackSchema(name).parse(await socket.timeout(5_000).emitWithAck(name, payload));
  if (!answer.ok) throw new Error(`${answer.code}: ${answer.message}`);
  return answer.data;
}

/** The SHA-256 fingerprint of the certificate a fresh TLS connection to the tracker is shown. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('https', () => {
  it('serves the API and Socket.IO over TLS, and a renewed certificate reaches new connections without dropping peers', async () => {
    const first = makeTestCertificate({ name: 'first' });
    const second = makeTestCertificate({ name: 'second' });
    const dir = join(first.certPath, '..');
    const certPath = join(dir, 'live.crt');
    const keyPath = join(dir, 'live.key');
    copyFileSync(first.certPath, certPath);
    copyFileSync(first.keyPath, keyPath);
    t = await startTracker({ TLS_CERT: certPath, TLS_KEY: keyPath });
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(t.url).port);
    const ca = first.pem + second.pem;

    const peer = await rawJoin(t.url, { ca });
    sockets.push(peer);
    let dropped = false;
    peer.on('disconnect', () => (dropped = true));
    const fingerprint = await servedFingerprint(port, ca);

    // A renewal as ACME clients do it: new files moved into place.
    copyFileSync(second.certPath, `${certPath}.new`);
    copyFileSync(second.keyPath, `${keyPath}.new`);
    renameSync(`${keyPath}.new`, keyPath);
    renameSync(`${certPath}.new`, certPath);
    await expect.poll(() => servedFingerprint(port, ca)).not.toBe(fingerprint);
    const renewed = await servedFingerprint(port, ca);

    // The peer connected before the renewal is still there and still served.
    expect(dropped).toBe(false);
    expect(await ask(peer, 'file:list', {})).toEqual({ files: [] });

    // A broken renewal (what SIGHUP would load) keeps the certificate in use.
    writeFileSync(certPath, 'not a certificate');
    expect(t.tracker.reloadTls()).toBe(false);
    expect(await servedFingerprint(port, ca)).toBe(renewed);
    const another = await rawJoin(t.url, { ca });
    sockets.push(another);
    expect(another.connected).toBe(true);
  });
});

describe('behind a reverse proxy', () => {
  const forwarded = (address: string) => ({ 'x-forwarded-for': address });

  it('counts each client by the address a trusted proxy names', async () => {
    t = await startTracker({ TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_ADDRESS: '2', ADMIN_TOKEN: 'a-token-for-the-tests' });
    for (let i = 0; i < 2; i++) sockets.push(await rawJoin(t.url, { headers: forwarded('203.0.113.7') }));
    await expect(rawJoin(t.url, { headers: forwarded('203.0.113.7') })).rejects.toThrow('RATE_LIMITED');
    // Another household behind the same proxy has its own limit.
    sockets.push(await rawJoin(t.url, { headers: forwarded('198.51.100.20') }));
    // A socket is connected before the tracker has recorded its peer (and its address): wait for that.
    const addresses = async () => {
      const { body } = await getJson(`${t!.url}/api/peers`, { headers: { authorization: 'Bearer a-token-for-the-tests' } });
      return (body as { peers: { address: string | null }[] }).peers.map((peer) => peer.address).sort();
    };
    await expect.poll(addresses).toEqual(['198.51.100.20', '203.0.113.7', '203.0.113.7']);
  });

  it('gives each client its own login rate, by the address the proxy names', async () => {
    t = await startTracker({ TRUST_PROXY: '1' });
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) statuses.push((await getJson(`${t.url}/api/challenge`, { headers: forwarded('203.0.113.7') })).status);
    expect(statuses.at(-1)).toBe(429);
    expect((await getJson(`${t.url}/api/challenge`, { headers: forwarded('198.51.100.20') })).status).toBe(200);
  });

  it('ignores X-Forwarded-For from anyone it does not trust: a forger gets no one else’s limits', async () => {
    // Only 10.0.0.1 is a trusted proxy; this test's client (127.0.0.1) is not.
    t = await startTracker({ TRUST_PROXY: '10.0.0.1', MAX_CONNECTIONS_PER_ADDRESS: '2' });
    sockets.push(await rawJoin(t.url, { headers: forwarded('203.0.113.1') }));
    sockets.push(await rawJoin(t.url, { headers: forwarded('203.0.113.2') }));
    // Two forged addresses later, the forger's real address is full.
    await expect(rawJoin(t.url, { headers: forwarded('203.0.113.3') })).rejects.toThrow('RATE_LIMITED');
  });

  it('without TRUST_PROXY, believes no header at all', async () => {
    t = await startTracker({ MAX_CONNECTIONS_PER_ADDRESS: '1' });
    sockets.push(await rawJoin(t.url, { headers: forwarded('203.0.113.1') }));
    await expect(rawJoin(t.url, { headers: forwarded('203.0.113.2') })).rejects.toThrow('RATE_LIMITED');
  });
});

describe('relays', () => {
  it('gives each peer its own expiring TURN credentials, and never the secret', async () => {
    t = await startTracker({ TURN_URLS: 'turn:10.90.0.1:3478', TURN_SECRET: 'the-turn-secret-for-tests', TURN_TTL: '1h', ICE_SERVERS: '[{"urls":"stun:10.90.0.1:3478"}]' });
    const peer = await rawJoin(t.url);
    sockets.push(peer);
    const { config } = await ask(peer, 'peer:report', { capacity: 0, used: 0 });
    expect(config.iceExpiresAt).toBe(t.clock.now() + 3_600_000);
    expect(config.iceServers[0]).toEqual({ urls: 'stun:10.90.0.1:3478' });
    const relay = config.iceServers[1]!;
    expect(relay.urls).toEqual(['turn:10.90.0.1:3478']);
    expect(relay.username).toMatch(new RegExp(`^${Math.floor(config.iceExpiresAt! / 1000)}:[a-z2-7]{32}$`));
    expect(JSON.stringify(config)).not.toContain('the-turn-secret-for-tests');

    // Renewed on request, later and therefore different.
    t.clock.advance(50 * 60_000);
    const renewed = await ask(peer, 'peer:ice', {});
    expect(renewed.expiresAt).toBe(t.clock.now() + 3_600_000);
    expect(renewed.iceServers[1]!.credential).not.toBe(relay.credential);

    // Another peer gets credentials in its own name.
    const other = await rawJoin(t.url);
    sockets.push(other);
    const otherGrant = await ask(other, 'peer:ice', {});
    expect(otherGrant.iceServers[1]!.username!.split(':')[1]).not.toBe(relay.username!.split(':')[1]);
  });
});

describe('start-up', () => {
  it('prints every address the page answers on, and warns that plain http beyond localhost is of no use to other devices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercloud-startup-'));
    const plain = await startTrackerProcess({ DB_PATH: join(dir, 'plain.db'), HOST: '0.0.0.0' });
    try {
      await expect.poll(() => plain.output()).toContain('Warning: Listening beyond localhost over plain http');
      expect(plain.output()).toContain(`http://localhost:${plain.port}`);
      expect(plain.output()).not.toContain('https://');
    } finally {
      await plain.stop();
    }
    const certificate = makeTestCertificate();
    const secure = await startTrackerProcess({ DB_PATH: join(dir, 'secure.db'), HOST: '127.0.0.1', TLS_CERT: certificate.certPath, TLS_KEY: certificate.keyPath });
    try {
      expect(secure.output()).toContain(`https://127.0.0.1:${secure.port}`);
      expect(secure.output()).not.toContain('Warning');
    } finally {
      await secure.stop();
    }
  });
});
