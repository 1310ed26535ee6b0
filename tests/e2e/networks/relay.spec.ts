/**
 * Homes whose networks allow no direct path (symmetric NATs: a new port per destination, so
 * hole punching fails): with the relay of docs/DEPLOY.md (deploy/turnserver.conf, credentials
 * made per peer by the tracker from TURN_URLS and TURN_SECRET), a file goes through it; without
 * one, the transfer fails in words within CONNECT_TIMEOUT and releases what it held. Each test
 * starts its own tracker. See DEVELOPERS.md, "The network lab".
 */
import { expect, test } from '@playwright/test';
import { icePaths, LabOperator, openLabPeer } from '../fixtures/lab-peers.ts';
import { CRASH_TEXT } from '../fixtures/page-text.ts';
import { randomFileOnDisk } from '../fixtures/peers.ts';
import { startDeployCoturn, type DeployCoturn } from '../../support/lab-deploy.ts';
import { openLab, type Lab } from '../../support/lab.ts';
import { startLabTracker, type LabTracker } from '../../support/lab-tracker.ts';
import { MiB } from '../../../shared/units.ts';

const TURN_SECRET = 'relay-spec-turn-secret-0123456789';
const CONNECT_TIMEOUT_MS = 5_000;

let lab: Lab;
let coturn: DeployCoturn;
let tracker: LabTracker | undefined;

test.beforeAll(async () => {
  lab = await openLab({ homes: 2, nat: 'symmetric' });
  coturn = await startDeployCoturn(lab.net, { secret: TURN_SECRET });
});

test.afterEach(async () => {
  await Promise.all(lab.browsers.flatMap((browser) => browser.contexts().map((context) => context.close())));
  await tracker?.stop();
  tracker = undefined;
});

test.afterAll(async () => {
  await coturn?.stop();
  await lab?.close();
});

test('behind symmetric NATs, with coturn from deploy/turnserver.conf and the tracker’s TURN_URLS and TURN_SECRET, a file goes up and down through the relay', async () => {
  tracker = await startLabTracker(lab, {
    env: { REPLICAS: '1', ICE_SERVERS: JSON.stringify([{ urls: coturn.stunUrl }]), TURN_URLS: coturn.turnUrl, TURN_SECRET },
  });
  const owner = await openLabPeer(lab.browsers[0]!, tracker.url, { watchIce: true });
  await openLabPeer(lab.browsers[1]!, tracker.url);

  const file = randomFileOnDisk('relayed.bin', 3 * MiB + 77);
  await owner.upload({ path: file.path });
  await owner.waitStored(file.name, 'Stored on 1 of 1 peer');
  expect((await owner.download(file.name)).sha256).toBe(file.sha256);

  // The page was given the relay with credentials of its own (not the secret), with every
  // candidate type allowed, as the product configures it; ICE found that only the relay
  // connects, and the whole file went over that pair, both ways.
  const paths = await icePaths(owner.page);
  expect(paths).toHaveLength(2);
  for (const path of paths) {
    expect(path.urls).toEqual([coturn.stunUrl, coturn.turnUrl]);
    expect(path.policy).toBe('all');
    expect(path).toMatchObject({ local: 'relay', remote: 'relay', remoteAddress: lab.net.server.address });
    expect(path.bytes).toBeGreaterThan(file.buffer.byteLength);
  }
});

test('behind symmetric NATs without a relay, an upload fails within CONNECT_TIMEOUT, says why in words, and releases the host’s reservation', async () => {
  tracker = await startLabTracker(lab, {
    env: { REPLICAS: '1', ICE_SERVERS: JSON.stringify([{ urls: coturn.stunUrl }]), CONNECT_TIMEOUT: `${CONNECT_TIMEOUT_MS}ms` },
  });
  const owner = await openLabPeer(lab.browsers[0]!, tracker.url, { watchIce: true });
  const host = await openLabPeer(lab.browsers[1]!, tracker.url);
  const hostId = await host.id();
  const operator = new LabOperator(owner.page);

  const file = randomFileOnDisk('unreachable.bin', MiB);
  const started = Date.now();
  await owner.upload({ path: file.path });
  await expect.poll(async () => (await operator.peer(hostId)).reserved).toBeGreaterThan(0);

  // The tray says, in a sentence, that the two could not reach each other and that the cloud has no relay.
  const tray = owner.page.getByRole('list', { name: 'Uploads' });
  await expect(tray).toContainText(/could not reach each other.*no relay/, { timeout: CONNECT_TIMEOUT_MS + 15_000 });
  const failedAfterMs = Date.now() - started;
  await expect(owner.page.locator('body')).not.toContainText(CRASH_TEXT);

  // Nothing hangs: the transfer is over on the tracker, and the host holds nothing for it.
  await expect.poll(() => operator.transfers()).toEqual([]);
  expect(await operator.peer(hostId)).toMatchObject({ reserved: 0, used: 0 });
  // The channel never opened, and the page gave up on it.
  const paths = await icePaths(owner.page);
  expect(paths.length).toBeGreaterThan(0);
  for (const path of paths) expect(path.states).not.toContain('connected');
  console.log(`unreachable: failed in words ${failedAfterMs} ms after choosing the file (CONNECT_TIMEOUT ${CONNECT_TIMEOUT_MS} ms)`);
});
