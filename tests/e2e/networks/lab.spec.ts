/**
 * The network lab itself, proven with plain WebRTC and a tiny test page (no Peercloud): two
 * browsers on two home networks, each behind its own NAT router, a server network with coturn,
 * the page server and the proxies. If these pass, a Peercloud spec on the same lab that fails
 * is Peercloud's failure, not the lab's. See DEVELOPERS.md, "The network lab".
 */
import { expect, test, type Page } from '@playwright/test';
import { channelThroughput, closeChannel, echo, openChannel, selectedPair } from '../../support/data-channel.ts';
import { launchBrowserIn } from '../../support/lab-browser.ts';
import { probe, startCaddy, startLabPageServer, startNginx, type LabPageServer } from '../../support/lab-services.ts';
import { openLab, type Lab } from '../../support/lab.ts';

// A channel that can open here opens within 50–150 ms (WEBRTC-NOTES.md); one that has not
// after 4 s never will: ICE stays in `checking` rather than reaching `failed`.
const NEVER_OPENS_MS = 4_000;
const OPENS_MS = 10_000;

let lab: Lab;
let site: LabPageServer;
/** One page in each home's browser, kept for the whole file: a new page costs seconds here. */
let a: Page;
let b: Page;

test.beforeAll(async () => {
  lab = await openLab({ homes: 2, nat: 'cone', turnSecret: 'lab-turn-secret' });
  site = await startLabPageServer(lab.net, { tls: lab.tls, ca: lab.tls.ca });
  const opened = await Promise.all(
    lab.browsers.map(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`${site.httpUrl}/`);
      return page;
    }),
  );
  [a, b] = [opened[0]!, opened[1]!];
});

// Even after a failure, the next test starts without a connection.
test.afterEach(async () => {
  await Promise.all([closeChannel(a), closeChannel(b)]);
});

test.afterAll(async () => {
  await site?.stop();
  await lab?.close();
});

test('a page opened by address over https is a secure context, over http it is not, and the certificate is really checked', async () => {
  await a.goto(`${site.httpsUrl}/`);
  expect(await a.evaluate(() => ({ secure: isSecureContext, subtle: typeof crypto.subtle, storage: typeof navigator.storage }))).toEqual({
    secure: true,
    subtle: 'object',
    storage: 'object',
  });
  await a.goto(`${site.httpUrl}/`);
  expect(await a.evaluate(() => ({ secure: isSecureContext, subtle: typeof crypto.subtle, storage: typeof navigator.storage }))).toEqual({
    secure: false,
    subtle: 'undefined',
    storage: 'undefined',
  });

  // A browser whose owner never trusted the test CA is refused, as a real device would be.
  const stranger = await launchBrowserIn(lab.net, 1);
  try {
    const strangerPage = await stranger.newPage();
    await expect(strangerPage.goto(`${site.httpsUrl}/`)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await stranger.close();
  }
});

test('behind cone NATs, STUN is enough: the channel opens directly, router to router', async () => {
  await lab.net.setNat('cone');
  const stun = { iceServers: [{ urls: lab.coturn!.stunUrl }] };
  const attempt = await openChannel(a, b, { offerer: stun, answerer: stun }, OPENS_MS);
  expect(attempt).toMatchObject({ open: true });

  const path = await selectedPair(a);
  expect(path.local.type).toBe('srflx');
  expect(path.remote).toMatchObject({ type: 'srflx', address: lab.net.homes[1]!.router.wanAddress });
  expect(await echo(a, b, 'over the direct path')).toBe('over the direct path');
});

const RELAY_ONLY_NETWORKS = { symmetric: 'behind symmetric NATs', block: 'behind routers that let through only traffic to the server' } as const;
for (const [nat, where] of Object.entries(RELAY_ONLY_NETWORKS) as [keyof typeof RELAY_ONLY_NETWORKS, string][]) {
  test(`${where}, TURN relays the channel and getStats shows the relay`, async () => {
    await lab.net.setNat(nat);
      const relayOnly = (id: string): RTCConfiguration => ({ iceServers: lab.coturn!.iceServers(id), iceTransportPolicy: 'relay' });
    const attempt = await openChannel(a, b, { offerer: relayOnly('home-0'), answerer: relayOnly('home-1') }, OPENS_MS);
    expect(attempt).toMatchObject({ open: true });

    for (const page of [a, b]) {
      const path = await selectedPair(page);
      expect(path.local).toMatchObject({ type: 'relay', address: lab.net.server.address });
      expect(path.remote).toMatchObject({ type: 'relay', address: lab.net.server.address });
    }
    expect(await echo(b, a, 'through coturn')).toBe('through coturn');
  });
}

test('behind symmetric NATs without a relay, the channel never opens', async () => {
  await lab.net.setNat('symmetric');
  const stun = { iceServers: [{ urls: lab.coturn!.stunUrl }] };
  const attempt = await openChannel(a, b, { offerer: stun, answerer: stun }, NEVER_OPENS_MS);
  expect(attempt.open).toBe(false);
  for (const side of [attempt.offerer, attempt.answerer]) {
    expect(['checking', 'failed', 'disconnected']).toContain(side.ice);
    expect(side.connection).not.toBe('connected');
  }
});

test('a shaped home link is never faster than its rate (its uplink than its own), and its loss drops what leaves the home', async () => {
  await lab.net.setNat('cone');
  const stun = { iceServers: [{ urls: lab.coturn!.stunUrl }] };
  // 2 Mbit/s is 0.25 MB/s of packets; the channel's payload is less than that, however idle the machine.
  await lab.net.shape(0, { rateMbit: 2 });
  try {
    expect(await openChannel(a, b, { offerer: stun, answerer: stun }, OPENS_MS)).toMatchObject({ open: true });
    expect(await channelThroughput(a, b, 512 * 1024)).toBeLessThan(0.25);

    // A home broadband link: the way out of the home (the router's wan) slower than the way in (its lan).
    await lab.net.shape(0, { rateMbit: 100, uplinkMbit: 2 });
    const router = lab.net.homes[0]!.router.ns;
    expect(await lab.net.run(router, 'tc', ['qdisc', 'show', 'dev', 'wan'])).toMatch(/tbf .* rate 2Mbit /);
    expect(await lab.net.run(router, 'tc', ['qdisc', 'show', 'dev', 'lan'])).toMatch(/tbf .* rate 100Mbit /);
    expect(await channelThroughput(a, b, 512 * 1024)).toBeLessThan(0.25);

    const stunFromHome = (timeoutMs: number) => probe(lab.net, lab.net.homes[0]!.ns, { kind: 'stun', host: lab.net.server.address, port: lab.coturn!.port }, timeoutMs);
    await lab.net.shape(0, { lossPermille: 1000 });
    await expect(stunFromHome(1_000)).rejects.toThrow(/no STUN answer/);
    await lab.net.shape(0, {});
    await stunFromHome(5_000);
  } finally {
    await lab.net.shape(0, {});
  }
});

test('nginx and caddy terminate TLS, pass WebSocket upgrades, and send the home router’s address in X-Forwarded-For', async () => {
  const upstreams = [site.httpUpstream];
  const [nginx, caddy] = await Promise.all([startNginx(lab.net, { upstreams, tls: lab.tls, ca: lab.tls.ca }), startCaddy(lab.net, { upstreams, tls: lab.tls, ca: lab.tls.ca })]);
  try {
    const router = lab.net.homes[0]!.router.wanAddress;
    const seenThrough = async (url: string) => {
      await a.goto(`${url}/`);
      return a.evaluate(async () => {
        type Seen = { remoteAddress: string; headers: Record<string, string> };
        const forged = (await (await fetch('/echo', { headers: { 'X-Forwarded-For': '203.0.113.9' } })).json()) as Seen;
        const socket = await new Promise<Seen>((resolve, reject) => {
          const ws = new WebSocket(`${location.origin.replace('https:', 'wss:')}/ws`);
          ws.onmessage = (event) => resolve(JSON.parse(String(event.data)) as Seen);
          ws.onerror = () => reject(new Error('WebSocket failed'));
        });
        return { secure: isSecureContext, forged, socket };
      });
    };

    // Every request reaches the upstream from the proxy's address: only the header tells clients apart.
    const viaNginx = await seenThrough(nginx.url);
    expect(viaNginx.secure).toBe(true);
    expect(viaNginx.socket.remoteAddress).toBe(lab.net.server.address);
    expect(viaNginx.socket.headers).toMatchObject({ upgrade: 'websocket', 'x-forwarded-for': router, 'x-forwarded-proto': 'https' });
    // nginx appends: whatever the client claimed stays in front, only the last entry is nginx's own.
    expect(viaNginx.forged.headers['x-forwarded-for']).toBe(`203.0.113.9, ${router}`);

    const viaCaddy = await seenThrough(caddy.url);
    expect(viaCaddy.secure).toBe(true);
    expect(viaCaddy.socket.remoteAddress).toBe(lab.net.server.address);
    expect(viaCaddy.socket.headers).toMatchObject({ upgrade: 'websocket', 'x-forwarded-for': router, 'x-forwarded-proto': 'https' });
    // caddy drops what an untrusted client claimed.
    expect(viaCaddy.forged.headers['x-forwarded-for']).toBe(router);
  } finally {
    await a.goto(`${site.httpUrl}/`);
    await Promise.all([nginx.stop(), caddy.stop()]);
  }
});
