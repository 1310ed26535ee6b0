import { MiB } from '../../shared/units.ts';
import { expect, PeerPage, randomFile, test } from './fixtures/peers.ts';

test('a host leaves: the file comes from the other replica, then shows unavailable; the host returns with its storage', async ({ peers, operator }) => {
  const [owner] = await peers(1);
  const profile = PeerPage.profileDir();
  let hostA = await PeerPage.openPersistent(profile);
  const [hostB] = await peers(1);
  const hostAId = await hostA.id();

  const file = randomFile('thesis.pdf', 3 * MiB + 12345);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const disconnectionsBefore = (await operator.peer(hostAId)).metrics.disconnections;

  // One host gone: still downloadable, from the other one.
  await hostA.close();
  await expect(owner!.row(file.name)).toContainText('Under-replicated: 1 of 2');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);

  // Both gone: the page says so, and won't pretend it can download.
  await hostB!.close();
  await expect(owner!.row(file.name)).toContainText('Unavailable: its hosts are offline');
  await expect(owner!.page.getByRole('button', { name: `Download ${file.name}` })).toBeDisabled();

  // The first host comes back with the same profile: same peer, same hosted data.
  hostA = await PeerPage.openPersistent(profile);
  expect(await hostA.id()).toBe(hostAId);
  await expect(hostA.page.getByTestId('hosted')).toContainText('in 1 copy');
  await expect(owner!.row(file.name)).toContainText('Under-replicated: 1 of 2');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
  expect((await operator.peer(hostAId)).metrics.disconnections).toBe(disconnectionsBefore + 1);
  await hostA.close();
});
