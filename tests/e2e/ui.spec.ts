import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

test('drag and drop several files: each gets its own progress bar; delete frees the hosts', async ({ peers }) => {
  const [owner, hostA, hostB] = await peers(3);
  const files = [
    { name: 'drop-one.bin', size: MiB },
    { name: 'drop-two.bin', size: 300 * 1024 + 7 },
  ];
  // Made in the page: a megabyte of bytes sent through the DevTools protocol blocks it for seconds.
  const dataTransfer = await owner!.page.evaluateHandle((list) => {
    const transfer = new DataTransfer();
    for (const { name, size } of list) {
      const bytes = new Uint8Array(size);
      for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(bytes.subarray(at, at + 65_536));
      transfer.items.add(new File([bytes], name));
    }
    return transfer;
  }, files);
  const bars = await owner!.recordProgress();
  await owner!.page.getByRole('region', { name: 'Drop files here to upload' }).dispatchEvent('drop', { dataTransfer });

  for (const file of files) await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  // Each file had a bar of its own while it was uploading.
  const seen = await bars();
  for (const file of files) expect(seen[`Uploading ${file.name}`]?.length, file.name).toBeGreaterThan(0);
  // Finished uploads fold into one line; their bars (which said "Uploading") are gone.
  await expect(owner!.page.getByTestId('uploads-complete')).toHaveText('✓ 2 uploads complete');
  await expect(owner!.page.getByRole('progressbar')).toHaveCount(0);
  await expect(hostA!.page.getByTestId('hosted')).toContainText('in 2 copies');

  await owner!.page.getByRole('button', { name: `Delete ${files[0]!.name}` }).click();
  await expect(owner!.row(files[0]!.name)).toHaveCount(0, { timeout: 30_000 });
  await expect(hostA!.page.getByTestId('hosted')).toContainText('in 1 copy');
  await expect(hostB!.page.getByTestId('hosted')).toContainText('in 1 copy');
});

test('with nobody to store it, the upload fails in plain words and the page stays usable', async ({ peers }) => {
  const [alone] = await peers(1);
  await alone!.upload(randomFile('lonely.txt', 1000));
  await expect(alone!.page.getByRole('alert')).toContainText('No other peer is online to store this file');
  await expect(alone!.page.getByLabel('Choose files')).toBeEnabled();
  await expect(alone!.page.getByText('No files yet')).toBeVisible();
});

test('the connection comes back by itself after the network drops', async ({ peers, operator }) => {
  const [peer] = await peers(1);
  const id = await peer!.id();
  const before = (await operator.peer(id)).metrics.disconnections;
  await peer!.context.setOffline(true);
  await expect(peer!.page.getByTestId('connection')).toHaveText('Offline — reconnecting');
  await peer!.context.setOffline(false);
  await expect(peer!.page.getByTestId('connection')).toHaveText('Online', { timeout: 40_000 });
  await expect(peer!.page.getByTestId('peer-id')).toHaveText(id);
  await expect.poll(async () => (await operator.peer(id)).metrics.disconnections).toBe(before + 1);
});
