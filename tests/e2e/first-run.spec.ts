import { formatBytes, GiB, MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';
import { E2E_PORT } from './fixtures/settings.ts';

test('a newcomer is told what Peercloud is, how much this browser lends, and how to bring another device; others are counted, not oneself', async ({ peers }) => {
  const [newcomer] = await peers(1);
  const page = newcomer!.page;
  const welcome = page.getByRole('region', { name: 'Welcome to Peercloud' });
  await expect(welcome).toContainText('Peercloud keeps your files, encrypted in this browser, in the other browsers of your cloud');
  // The default is said, not silent.
  await expect(welcome).toContainText(`This browser lends ${formatBytes(GiB)} to other peers now, the suggested amount.`);
  await expect(welcome.getByRole('slider', { name: 'Storage to lend' })).toHaveAttribute('aria-valuetext', formatBytes(GiB));
  // The way in for another device: the cloud's link and its QR code.
  const link = `http://127.0.0.1:${E2E_PORT}/`;
  await expect(welcome.getByTestId('invite-link')).toHaveText(link);
  await expect(welcome.getByRole('img', { name: `QR code of ${link}` })).toBeVisible();
  await expect(welcome).toContainText('your cloud needs at least 2 more, online');
  await expect(page.getByTestId('peers-online')).toHaveText('0');
  await expect(page.getByTestId('alone')).toBeVisible();

  const [other] = await peers(1);
  await expect(page.getByTestId('peers-online')).toHaveText('1');
  await expect(page.getByText('1 other peer online')).toBeVisible();
  await expect(page.getByTestId('alone')).toHaveCount(0);

  // Lending more with the slider, by keyboard: saved at once, and the level says why it moved.
  const slider = welcome.getByRole('slider', { name: 'Storage to lend' });
  await slider.focus();
  await page.keyboard.press('End');
  await expect(welcome.getByText(/^Saved: this browser now lends /)).toBeVisible();
  const lent = await page.getByTestId('offered').textContent();
  expect(await slider.getAttribute('aria-valuetext')).toBe(lent);

  await welcome.getByRole('button', { name: 'Done' }).click();
  await expect(welcome).toHaveCount(0);
  await newcomer!.reload();
  await expect(page.getByRole('region', { name: 'Welcome to Peercloud' })).toHaveCount(0);
  // Still there for later, folded away.
  await page.locator('summary').filter({ hasText: 'Bring another device or person' }).click();
  await expect(page.getByTestId('invite-link')).toHaveText(link);
  await other!.close();
});

test('the level is explained in words, and a change comes with a notice saying why', async ({ peers }) => {
  const [peer] = await peers(1);
  const page = peer!.page;
  await expect(peer!.level()).toHaveText('5');
  const status = page.getByRole('region', { name: 'This browser in the cloud' });
  await expect(status).toContainText('Reliability level: 5 of 5 — excellent');
  await expect(status).toContainText('The cloud keeps your files on peers whose level is close to yours');
  await expect(status).toContainText('how rarely you disconnect');

  // The network drops and comes back: one disconnection today.
  await peer!.context.setOffline(true);
  await expect(page.getByTestId('connection')).toHaveText('Offline — reconnecting');
  await peer!.context.setOffline(false);
  await peer!.waitOnline();
  await expect(peer!.level()).toHaveText('4');
  const why = 'Your reliability level went down from 5 to 4: this browser disconnected (closing the tab or losing the network counts for 24 hours).';
  await expect(page.getByRole('status').filter({ hasText: why })).toBeVisible();
  await expect(status.getByTestId('level-change')).toHaveText(why);
  await expect(status).toContainText(/To raise it: .*Keep this tab open/);
  // The raw numbers and the peer id are under Details.
  await status.getByText('Details').click();
  await expect(status).toContainText('Staying online: 4 of 5');
  await expect(status).toContainText('1 disconnection in the last 24 hours');
  await expect(status.getByTestId('peer-id')).toHaveText(await peer!.id());
});

test('lending less than this browser already holds says what that means before it is done', async ({ peers }) => {
  const [owner, host] = await peers(2);
  const file = randomFile('keep-me.bin', 3 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, /Stored on 1 of 2|Under-replicated: 1 of 2/);
  await expect(host!.page.getByTestId('hosted')).toContainText('in 1 copy');

  await host!.page.getByLabel('Exact amount (MB)').fill('1');
  await expect(host!.page.getByTestId('offer-warning')).toContainText('more than 1 MB. Nothing it holds is deleted, but no new files will come here');
  await host!.page.getByRole('button', { name: 'Lend less anyway' }).click();
  await expect(host!.page.getByTestId('offered')).toHaveText('1 MB');
  await expect(host!.page.getByTestId('hosted')).toContainText('in 1 copy');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});

test('persistent storage: asking again says what the browser answered', async ({ peers }) => {
  const [peer] = await peers(1);
  const page = peer!.page;
  // Chromium says no to a site nobody visited, bookmarked or installed: the refusal must be said.
  await page.getByText('Details').click();
  await expect(page.getByTestId('persistence')).toHaveText('Not granted');
  await page.getByRole('button', { name: 'Ask again' }).click();
  await expect(page.getByText('The browser said no again.')).toBeVisible();
});

test('a returning person does not see the welcome again', async ({ peers }) => {
  let [peer] = await peers(1);
  await peer!.page.getByRole('button', { name: 'Done' }).click();
  await expect(peer!.page.getByRole('region', { name: 'Welcome to Peercloud' })).toHaveCount(0);
  await peer!.closeTab();
  peer = await peer!.reopen();
  await expect(peer.page.getByRole('region', { name: 'Upload', exact: true })).toBeVisible();
  await expect(peer.page.getByRole('region', { name: 'Welcome to Peercloud' })).toHaveCount(0);
});
