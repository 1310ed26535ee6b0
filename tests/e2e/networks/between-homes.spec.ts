/**
 * Peercloud between computers: the tracker on the lab's server network, opened by its address
 * from browsers in two homes, each behind its own NAT router (tests/support/topology.ts). The
 * page, the upload, the host's copy and the download are the product's own; only the networks
 * are simulated. Each test starts its own tracker. See DEVELOPERS.md, "The network lab".
 */
import { expect, test } from '@playwright/test';
import { icePaths, openLabPeer } from '../fixtures/lab-peers.ts';
import { CRASH_TEXT } from '../fixtures/page-text.ts';
import { randomFileOnDisk } from '../fixtures/peers.ts';
import { openLab, type Lab } from '../../support/lab.ts';
import { LAB_TRACKER_PORT, startLabTracker, type LabTracker } from '../../support/lab-tracker.ts';
import { MiB } from '../../../shared/units.ts';

let lab: Lab;
let tracker: LabTracker | undefined;

test.beforeAll(async () => {
  lab = await openLab({ homes: 2, nat: 'cone', turnSecret: 'between-homes-turn-secret' });
});

test.afterEach(async () => {
  // Each test's pages go with their contexts; the browsers stay for the next test.
  await Promise.all(lab.browsers.flatMap((browser) => browser.contexts().map((context) => context.close())));
  await tracker?.stop();
  tracker = undefined;
});

test.afterAll(async () => {
  await lab?.close();
});

test('opened by address over https from one home, the page is a secure context and stores a file on a peer behind another NAT, directly with STUN', async () => {
  // No relay configured: coturn serves only as the STUN server it also is.
  tracker = await startLabTracker(lab, { env: { REPLICAS: '1', ICE_SERVERS: JSON.stringify([{ urls: lab.coturn!.stunUrl }]) } });
  const owner = await openLabPeer(lab.browsers[0]!, tracker.url, { watchIce: true });
  expect(await owner.page.evaluate(() => ({ secure: isSecureContext, origin: location.origin }))).toEqual({ secure: true, origin: tracker!.url });
  const host = await openLabPeer(lab.browsers[1]!, tracker.url);

  const file = randomFileOnDisk('between-homes.bin', 3 * MiB + 123);
  await owner.upload({ path: file.path });
  await owner.waitStored(file.name, 'Stored on 1 of 1 peer');
  expect((await owner.download(file.name)).sha256).toBe(file.sha256);

  // Both transfers (the upload, the download) went router to router: each side's public
  // (server-reflexive) address, punched through both cone NATs.
  const paths = await icePaths(owner.page);
  expect(paths).toHaveLength(2);
  for (const path of paths) {
    expect(path).toMatchObject({ local: 'srflx', remote: 'srflx', remoteAddress: lab.net.homes[1]!.router.wanAddress });
    expect(path.bytes).toBeGreaterThan(file.buffer.byteLength);
  }
  expect(host.dialogs).toEqual([]);
});

test('opened by address over plain http from a home, the page explains what to open instead and shows no error', async () => {
  tracker = await startLabTracker(lab, { tls: false });
  const context = await lab.browsers[0]!.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const address = `http://${lab.net.server.address}:${LAB_TRACKER_PORT}`;
  await page.goto(`${address}/`);

  expect(await page.evaluate(() => isSecureContext)).toBe(false);
  const problem = page.getByTestId('environment-problem');
  await expect(problem.getByRole('heading')).toHaveText('This address is not secure, so Peercloud can’t start');
  await expect(problem).toContainText(`You opened Peercloud at ${address}`);
  await expect(problem.getByRole('link', { name: `https://${lab.net.server.address}:${LAB_TRACKER_PORT}/` })).toBeVisible();
  await expect(page.locator('body')).not.toContainText(CRASH_TEXT);
  expect(errors).toEqual([]);
});
