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

  // A fresh browser, while the first is still open.
  const fresh = await PeerPage.open(browser);
  const freshId = await fresh.id();
  expect(freshId).not.toBe(ownerId);
  await fresh.page.getByText('Import a recovery kit').click();
  await fresh.page.getByLabel('Recovery kit file').setInputFiles(kitPath);
  await fresh.page.getByLabel('Passphrase of the kit').fill('wrong passphrase, surely');
  await fresh.page.getByRole('button', { name: 'Import recovery kit' }).click();
  await expect(fresh.page.getByRole('alert').filter({ hasText: 'The passphrase is wrong' })).toBeVisible();

  // The right passphrase: the kit would replace this browser's peer, so it asks first.
  await fresh.page.getByLabel('Passphrase of the kit').fill('correct horse battery staple');
  await fresh.page.getByRole('button', { name: 'Import recovery kit' }).click();
  const question = fresh.page.getByRole('group', { name: 'Replace this browser’s peer?' });
  await expect(question).toContainText(`This browser is peer ${freshId.slice(0, 8)}…, with the keys of 0 files. The kit makes it peer ${ownerId.slice(0, 8)}… instead, with the keys of 1 file.`);
  await expect(question.getByRole('button', { name: 'Replace this browser’s peer' })).toBeFocused();
  await question.getByRole('button', { name: 'Cancel' }).click();
  await expect(question).toHaveCount(0);
  await expect(fresh.page.getByTestId('peer-id')).toHaveText(freshId);

  await fresh.page.getByRole('button', { name: 'Import recovery kit' }).click();
  await fresh.page.getByRole('button', { name: 'Replace this browser’s peer' }).click();
  // After the reload, the page says what happened.
  await expect(fresh.page.getByRole('status').filter({ hasText: `Recovery kit imported: this browser is now peer ${ownerId.slice(0, 8)}…, with the keys of 1 file.` }).first()).toBeVisible();
  await expect(fresh.page.getByTestId('peer-id')).toHaveText(ownerId);
  await fresh.waitOnline();
  await fresh.waitStored(file.name, 'Stored on 2 of 2 peers');
  expect((await fresh.download(file.name)).sha256).toBe(file.sha256);

  // The first browser stepped back, and says so instead of offering buttons that can't work.
  await expect(page.getByRole('heading', { name: 'This peer is now open in another browser' })).toBeVisible();
  await expect(page.getByLabel('Choose files')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Use this browser again' })).toBeEnabled();
  await owner!.close();
  await fresh.close();
});
