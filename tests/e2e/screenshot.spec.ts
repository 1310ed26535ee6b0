import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

test('the main page with a few files (docs/screenshot.png, shown in the README)', async ({ peers }) => {
  const [owner] = await peers(3);
  await owner!.page.setViewportSize({ width: 1200, height: 760 });
  const files = [randomFile('holiday-photos.zip', 3 * MiB), randomFile('tax-return-2026.pdf', 400 * 1024), randomFile('notes.md', 12 * 1024)];
  await owner!.upload(...files);
  for (const file of files) await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  await expect(owner!.page.getByRole('row')).toHaveCount(files.length + 1);
  await owner!.page.screenshot({ path: 'docs/screenshot.png', fullPage: true });
});
