/**
 * The tracker behind the reverse proxies of docs/DEPLOY.md, configured as it says: nginx from
 * deploy/nginx-peercloud.conf and Caddy from deploy/Caddyfile (tests/support/lab-deploy.ts
 * substitutes only names, addresses and paths), the tracker on the server's loopback with
 * TRUST_PROXY=127.0.0.1. The page works through each (its Socket.IO runs over a WebSocket the
 * proxy upgrades), and per-address limits see each home's own address: two homes get a limit
 * each, and a client forging X-Forwarded-For is still counted as itself.
 */
import { expect, test } from '@playwright/test';
import { LabOperator, openLabPeer } from '../fixtures/lab-peers.ts';
import { connectFrom, type HomeClients } from '../../support/lab-clients.ts';
import { startDeployCaddy, startDeployNginx } from '../../support/lab-deploy.ts';
import { openLab, type Lab } from '../../support/lab.ts';
import type { Proxy } from '../../support/lab-services.ts';
import { startLabTracker, type LabTracker } from '../../support/lab-tracker.ts';

let lab: Lab;
let tracker: LabTracker | undefined;
let proxy: Proxy | undefined;
const clients: HomeClients[] = [];

test.beforeAll(async () => {
  lab = await openLab({ homes: 2, nat: 'cone' });
});

test.afterEach(async () => {
  await Promise.all(clients.splice(0).map((group) => group.close()));
  await Promise.all(lab.browsers.flatMap((browser) => browser.contexts().map((context) => context.close())));
  await proxy?.stop();
  await tracker?.stop();
  proxy = tracker = undefined;
});

test.afterAll(async () => {
  await lab?.close();
});

const PROXIES = { nginx: startDeployNginx, Caddy: startDeployCaddy } as const;

for (const [name, start] of Object.entries(PROXIES)) {
  test(`behind ${name} with TRUST_PROXY, the page works and each home has its own connection limit, forged X-Forwarded-For or not`, async () => {
    // As docs/DEPLOY.md says, with one connection per address so that a limit is reached at once.
    tracker = await startLabTracker(lab, { tls: false, host: '127.0.0.1', env: { TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_ADDRESS: '1' } });
    proxy = await start(lab.net, { tls: lab.tls, ca: lab.tls.ca });
    const [home0, home1] = [lab.net.homes[0]!.router.wanAddress, lab.net.homes[1]!.router.wanAddress];

    // A person in home 0 opens the page through the proxy: secure, online (WebSocket upgraded), seen from home 0.
    const person = await openLabPeer(lab.browsers[0]!, proxy.url);
    expect(await person.page.evaluate(() => isSecureContext)).toBe(true);
    const operator = new LabOperator(person.page);
    expect(await operator.peer(await person.id())).toMatchObject({ online: true, address: home0 });

    // A second client from home 0 finds its address full: the tracker counts home 0, not the proxy.
    const sameHome = await connectFrom(lab.net, 0, proxy.url, [{}], { ca: lab.tls.ca });
    clients.push(sameHome);
    expect(sameHome.outcomes).toEqual([{ ok: false, error: expect.stringMatching(/RATE_LIMITED: Too many connections from your address/) }]);

    // Home 1 has a limit of its own. Its first client claims to be home 0 and is still home 1
    // (admitted, where home 0 is full); its second claims a fresh address and is refused as home 1.
    const otherHome = await connectFrom(lab.net, 1, proxy.url, [{ headers: { 'X-Forwarded-For': home0 } }, { headers: { 'X-Forwarded-For': '203.0.113.7' } }], { ca: lab.tls.ca });
    clients.push(otherHome);
    const [claimsHome0, claimsFresh] = otherHome.outcomes;
    expect(claimsHome0).toEqual({ ok: true, id: expect.any(String) });
    expect(claimsFresh).toEqual({ ok: false, error: expect.stringMatching(/RATE_LIMITED: Too many connections from your address/) });
    expect(await operator.peer((claimsHome0 as { id: string }).id)).toMatchObject({ online: true, address: home1 });
    expect(await operator.peer(await person.id())).toMatchObject({ online: true, address: home0 });
  });
}
