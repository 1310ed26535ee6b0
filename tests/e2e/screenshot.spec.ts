import { MiB } from '../../shared/units.ts';
import { expect, randomFileOnDisk, test } from './fixtures/peers.ts';

test('the main page with a few files, at desktop and phone width (docs/screenshot.png and docs/screenshot-phone.png, shown in the README)', async ({ peers }) => {
  const [owner] = await peers(3);
  const page = owner!.page;
  await page.setViewportSize({ width: 1200, height: 760 });
  await page.getByRole('button', { name: 'Done' }).click();
  const files = [randomFileOnDisk('holiday-photos.zip', 3 * MiB), randomFileOnDisk('tax-return-2026.pdf', 400 * 1000), randomFileOnDisk('notes.md', 12 * 1000)];
  await owner!.upload(...files.map(({ path }) => ({ path })));
  for (const file of files) await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  await expect(page.getByRole('list', { name: 'My files' }).getByRole('listitem')).toHaveCount(files.length);
  await expect(page.getByTestId('uploads-complete')).toHaveText('✓ 3 uploads complete');
  await page.screenshot({ path: 'docs/screenshot.png', fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: 'docs/screenshot-phone.png', fullPage: true });
});

test('the first run, as a newcomer sees it (docs/screenshot-first-run.png)', async ({ peers }) => {
  const [newcomer] = await peers(1);
  await newcomer!.page.setViewportSize({ width: 1200, height: 760 });
  await expect(newcomer!.page.getByTestId('peers-online')).toHaveText('0');
  await newcomer!.page.screenshot({ path: 'docs/screenshot-first-run.png', fullPage: true });
});
