import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { listenUrls, listenWarnings, shareableUrl, type ListenFacts } from '../../server/http/listen-addresses.ts';
import { normalizeAddress, trustFunction } from '../../server/http/client-address.ts';
import { iceGrant, turnCredential } from '../../server/turn.ts';

const interfaces: ListenFacts['interfaces'] = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: '192.168.1.10', netmask: '255.255.255.0', family: 'IPv4', mac: '52:54:00:12:34:56', internal: false, cidr: '192.168.1.10/24' },
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '52:54:00:12:34:56', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    { address: '2001:db8::10', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '52:54:00:12:34:56', internal: false, cidr: '2001:db8::10/64', scopeid: 0 },
  ],
};
const facts = (over: Partial<ListenFacts>): ListenFacts => ({ host: 'localhost', port: 3000, scheme: 'http', interfaces, trustProxy: false, publicUrl: undefined, ...over });

describe('start-up addresses', () => {
  it.each([
    ['localhost', 'http', ['http://localhost:3000']],
    ['127.0.0.1', 'https', ['https://127.0.0.1:3000']],
    ['192.168.1.10', 'https', ['https://192.168.1.10:3000']],
    ['0.0.0.0', 'https', ['https://localhost:3000', 'https://192.168.1.10:3000']],
    ['::', 'http', ['http://localhost:3000', 'http://[::1]:3000', 'http://192.168.1.10:3000', 'http://[2001:db8::10]:3000']],
  ] as const)('listening on %s over %s answers on %j', (host, scheme, urls) => {
    expect(listenUrls(facts({ host, scheme }))).toEqual(urls);
  });

  it('warns when other devices could open the page but not use it', () => {
    expect(listenWarnings(facts({ host: 'localhost' }))).toEqual([]);
    expect(listenWarnings(facts({ host: '0.0.0.0', scheme: 'https' }))).toEqual([]);
    expect(listenWarnings(facts({ host: '0.0.0.0', trustProxy: true }))).toEqual([]);
    const [warning] = listenWarnings(facts({ host: '0.0.0.0' }));
    expect(warning).toMatch(/plain http.*cannot use it.*TLS_CERT.*TRUST_PROXY/s);
    expect(listenWarnings(facts({ host: '0.0.0.0', trustProxy: true, publicUrl: 'http://cloud.example' }))).toHaveLength(1);
  });

  it('hands other devices an address only when it can work for them', () => {
    expect(shareableUrl(facts({ host: '0.0.0.0', scheme: 'https' }), ['https://localhost:3000', 'https://192.168.1.10:3000'])).toBe('https://192.168.1.10:3000');
    expect(shareableUrl(facts({ host: '0.0.0.0' }), ['http://localhost:3000', 'http://192.168.1.10:3000'])).toBeUndefined();
    expect(shareableUrl(facts({ host: 'localhost', scheme: 'https' }), ['https://localhost:3000'])).toBeUndefined();
    expect(shareableUrl(facts({ publicUrl: 'https://cloud.example' }), [])).toBe('https://cloud.example');
  });
});

describe('client addresses behind proxies', () => {
  it('believes a hop count or listed proxies, and nothing without TRUST_PROXY', () => {
    expect(trustFunction(undefined)('127.0.0.1', 0)).toBe(false);
    const oneHop = trustFunction({ hops: 1 });
    expect([oneHop('10.0.0.1', 0), oneHop('10.0.0.1', 1)]).toEqual([true, false]);
    const listed = trustFunction({ addresses: ['127.0.0.1', '10.0.0.0/8'] });
    expect([listed('127.0.0.1', 0), listed('10.9.9.9', 3), listed('192.168.1.1', 0)]).toEqual([true, true, false]);
  });

  it('spells an IPv4 client the same on a dual-stack socket', () => {
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeAddress('::ffff:a00:1')).toBe('::ffff:a00:1');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('network configuration', () => {
  it('reads TLS, proxies, relays and the public address', () => {
    const config = loadConfig({
      TLS_CERT: '/etc/peercloud/cert.pem',
      TLS_KEY: '/etc/peercloud/key.pem',
      TRUST_PROXY: '127.0.0.1, 10.0.0.0/8',
      TURN_URLS: 'turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349',
      TURN_SECRET: 'a-turn-secret-of-16+',
      TURN_TTL: '1h',
      PUBLIC_URL: 'https://cloud.example/',
      CONNECT_TIMEOUT: '5s',
    });
    expect(config).toMatchObject({
      tls: { certPath: '/etc/peercloud/cert.pem', keyPath: '/etc/peercloud/key.pem' },
      trustProxy: { addresses: ['127.0.0.1', '10.0.0.0/8'] },
      turn: { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], secret: 'a-turn-secret-of-16+', ttlMs: 3_600_000 },
      publicUrl: 'https://cloud.example',
      connectTimeoutMs: 5_000,
    });
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toEqual({ hops: 2 });
    expect(loadConfig({})).toMatchObject({ tls: undefined, trustProxy: undefined, turn: undefined, publicUrl: undefined, connectTimeoutMs: 15_000 });
  });

  it.each([
    [{ TLS_CERT: '/x.pem' }, /TLS_KEY: must be set together with TLS_CERT/],
    [{ TURN_URLS: 'turn:x:3478' }, /TURN_SECRET: must be set together with TURN_URLS/],
    [{ TURN_URLS: 'stun:x:3478', TURN_SECRET: 'a-turn-secret-of-16+' }, /TURN_URLS: must be a comma-separated list of turn: or turns: URLs/],
    [{ TURN_URLS: 'turn:x:3478', TURN_SECRET: 'short' }, /TURN_SECRET: must be at least 16 characters/],
    [{ TRUST_PROXY: 'true' }, /TRUST_PROXY: must be the number of proxies/],
    [{ TRUST_PROXY: '0' }, /TRUST_PROXY: a hop count must be between 1 and 10/],
    [{ TRUST_PROXY: 'not-an-address' }, /TRUST_PROXY: must be a hop count or comma-separated addresses/],
    [{ PUBLIC_URL: 'ftp://x' }, /PUBLIC_URL: must be an http\(s\) URL/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('TURN credentials (coturn shared secret)', () => {
  it('signs "<expiry>:<peer>" with HMAC-SHA1 of the secret, as coturn checks it', () => {
    // Expected value from `printf '%s' 1700000000:abcd | openssl dgst -sha1 -hmac a-turn-secret-of-16+ -binary | base64`.
    expect(turnCredential('a-turn-secret-of-16+', 'abcd', 1_700_000_000_500)).toEqual({ username: '1700000000:abcd', credential: '4Wx32LYv4HULcuAeBg1+UJU068g=' });
  });

  it('adds the relays after the static servers, expiring a TTL from now', () => {
    const grant = iceGrant([{ urls: 'stun:stun.example.org' }], { urls: ['turn:t.example:3478'], secret: 'a-turn-secret-of-16+', ttlMs: 60_000 }, 'abcd', 1_000_000);
    expect(grant.expiresAt).toBe(1_060_000);
    expect(grant.iceServers).toEqual([{ urls: 'stun:stun.example.org' }, { urls: ['turn:t.example:3478'], username: '1060:abcd', credential: expect.any(String) }]);
    expect(iceGrant([], undefined, 'abcd', 0)).toEqual({ iceServers: [], expiresAt: null });
  });
});
