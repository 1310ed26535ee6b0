import { expect, PeerPage, test } from './fixtures/peers.ts';

test('two tabs of one profile are one peer; the second can take over without a false disconnection', async ({ browser, operator }) => {
  const first = await PeerPage.open(browser);
  const id = await first.id();
  const second = await first.context.newPage();
  await second.goto('/');
  await expect(second.getByRole('heading', { name: 'Peercloud is open in another tab' })).toBeVisible();
  expect((await operator.peers()).filter((peer) => peer.id === id && peer.online)).toHaveLength(1);
  const before = await operator.peer(id);

  await second.getByRole('button', { name: 'Use this tab instead' }).click();
  await expect(second.getByTestId('connection')).toHaveText('Online');
  await expect(second.getByTestId('peer-id')).toHaveText(id);
  await expect(first.page.getByRole('heading', { name: 'Peercloud is open in another tab' })).toBeVisible();

  const after = await operator.peer(id);
  expect(after.online).toBe(true);
  expect(after.metrics.disconnections).toBe(before.metrics.disconnections);
  expect(after.capacity).toBe(before.capacity);
  expect((await operator.peers()).filter((peer) => peer.id === id)).toHaveLength(1);
  await first.close();
});
