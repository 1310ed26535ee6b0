import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiB } from '../../shared/units.ts';
import { expect, PeerPage, randomFile, test } from './fixtures/peers.ts';

test('a recovery kit exported in one browser brings the peer and its files back in a fresh one', async ({ browser, peers }) => {
  const [owner] = await peers(3);
  const ownerId = await owner!.id();
  const file = randomFile('passport-scan.pdf', 2 * MiB + 123);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');

  const page = owner!.page;
  await page.getByText('Export a recovery kit').click();
  await page.getByLabel('Passphrase for the kit').fill('correct horse battery staple');
  await page.getByLabel('Repeat the passphrase').fill('correct horse battery staple');
  const saved = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export recovery kit' }).click();
  // Downloads go with their context: keep the kit somewhere of our own.
  const kitPath = join(mkdtempSync(join(tmpdir(), 'peercloud-kit-')), 'kit.json');
  await (await saved).saveAs(kitPath);
  await expect(page.getByRole('status').filter({ hasText: 'Recovery kit saved, with the keys of 1 file' })).toBeVisible();
  await owner!.close();

  const fresh = await PeerPage.open(browser);
  expect(await fresh.id()).not.toBe(ownerId);
  await fresh.page.getByText('Import a recovery kit').click();
  await fresh.page.getByLabel('Recovery kit file').setInputFiles(kitPath);
  await fresh.page.getByLabel('Passphrase of the kit').fill('wrong passphrase, surely');
  await fresh.page.getByRole('button', { name: 'Import recovery kit' }).click();
  await expect(fresh.page.getByRole('alert').filter({ hasText: 'The passphrase is wrong' })).toBeVisible();

  await fresh.page.getByLabel('Passphrase of the kit').fill('correct horse battery staple');
  await fresh.page.getByRole('button', { name: 'Import recovery kit' }).click();
  await expect(fresh.page.getByTestId('peer-id')).toHaveText(ownerId);
  await fresh.waitOnline();
  await fresh.waitStored(file.name, 'Stored on 2 of 2 peers');
  expect((await fresh.download(file.name)).sha256).toBe(file.sha256);
  await fresh.close();
});
