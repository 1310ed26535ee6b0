import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';
import { E2E_ADMIN_TOKEN } from './fixtures/settings.ts';

test('the dashboard lists every peer with its metrics and level, and the files’ health (docs/dashboard.png)', async ({ browser, peers }) => {
  const [owner, hostA, hostB] = await peers(3);
  await hostA!.offer(4096);
  await hostB!.offer(200);
  await owner!.upload(randomFile('report.pdf', MiB), randomFile('notes.txt', 2000));
  await owner!.waitStored('report.pdf', 'Stored on 2 of 2 peers');
  await owner!.waitStored('notes.txt', 'Stored on 2 of 2 peers');

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto('/admin');
  await page.getByLabel('Admin token').fill('not the token at all');
  await page.getByRole('button', { name: 'Open dashboard' }).click();
  await expect(page.getByRole('alert')).toContainText('not the admin token');
  await page.getByLabel('Admin token').fill(E2E_ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open dashboard' }).click();

  const peersTable = page.getByRole('region', { name: 'Peers', exact: true });
  for (const [peer, level] of [
    [hostA, '5'],
    [hostB, '4'],
  ] as const) {
    const row = peersTable.locator(`tr[data-peer-id="${await peer!.id()}"]`);
    await expect(row).toContainText('online');
    await expect(row.getByTestId('level')).toHaveText(level);
  }
  await expect(page.getByRole('region', { name: 'Files', exact: true }).getByRole('row').filter({ hasText: 'report.pdf' })).toContainText('Stored on 2 of 2 peers');

  // Live: a peer leaving shows without a reload.
  const leavingId = await hostB!.id();
  await hostB!.close();
  await expect(peersTable.locator(`tr[data-peer-id="${leavingId}"]`)).toContainText('offline');
  await page.screenshot({ path: 'docs/dashboard.png', fullPage: true });
  await context.close();
});

test('peers that are gone and hold nothing (a cleared browser, a replaced identity) are folded away on the dashboard', async ({ browser, peers }) => {
  const [passing] = await peers(1);
  const passingId = await passing!.id();
  await passing!.close();

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/admin');
  await page.getByLabel('Admin token').fill(E2E_ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Open dashboard' }).click();
  const peersTable = page.getByRole('region', { name: 'Peers', exact: true });
  const row = peersTable.locator(`tr[data-peer-id="${passingId}"]`);
  await expect(peersTable).toContainText(/\d+ departed peers? holding nothing hidden/);
  await expect(row).toHaveCount(0);
  await peersTable.getByRole('button', { name: 'Show them' }).click();
  await expect(row).toContainText('offline');
  await context.close();
});
