import { MiB } from '../../shared/units.ts';
import { expect, randomFile, randomFileOnDisk, test, type PeerPage } from './fixtures/peers.ts';

/** The tray entry of an upload still open (not folded into "n uploads complete"). */
function trayEntry(peer: PeerPage, name: string) {
  return peer.page.getByRole('list', { name: 'Uploads', exact: true }).getByRole('listitem').filter({ hasText: name });
}

/** A slow uplink (a fault the page takes from the test): a few MiB then last long enough to be caught midway. */
const SLOW = { uplinkBytesPerSecond: MiB };

function nonDecreasing(values: number[]): boolean {
  return values.every((value, i) => i === 0 || value >= values[i - 1]!);
}

test('progress covers every copy and only moves forward when a host leaves mid-upload; the tray follows the repair that makes the missing copy', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(3);
  const ownerId = await owner!.id();
  const ids = await Promise.all(hosts.map((host) => host!.id()));
  const file = randomFileOnDisk('backup.tar', 6 * MiB);
  await owner!.setFaults(SLOW);
  const bars = await owner!.recordProgress();
  await owner!.upload({ path: file.path });

  // Speed and time left are shown while the bytes move.
  await expect(trayEntry(owner!, file.name).getByTestId('upload-status')).toHaveText(/Uploading 2 copies · \d+% · [\d.]+ [KMG]?B\/s · (about .* left|a few seconds left)/, { timeout: 30_000 });
  await expect.poll(() => owner!.progress(`Uploading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThanOrEqual(0.2);
  const fileId = (await operator.file(file.name, ownerId))!.id;
  const leaving = await operator.transferPeer(fileId, 'store');
  await hosts[ids.indexOf(leaving!)]!.close();
  // Caught midway: the rest may go at the channel's speed.
  await owner!.setFaults({ uplinkBytesPerSecond: undefined });

  // No other host to take the copy over: the file is kept once, and the tray says so honestly.
  await expect(trayEntry(owner!, file.name).getByTestId('upload-status')).toHaveText('1 of 2 copies — the second will be made when a peer is free', { timeout: 60_000 });
  await expect(owner!.row(file.name)).toContainText('Under-replicated: 1 of 2');
  const uploading = (await bars())[`Uploading ${file.name}`]!.filter((value) => value >= 0);
  expect(uploading.length).toBeGreaterThan(3);
  expect(nonDecreasing(uploading), `the bar went back: ${uploading.join(', ')}`).toBe(true);

  // A peer joins: the tracker makes the second copy from the first, and the tray follows it to the end.
  const [newcomer] = await peers(1);
  await expect(owner!.page.getByTestId('uploads-complete')).toHaveText('✓ 1 upload complete', { timeout: 60_000 });
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const holders = (await operator.file(file.name, ownerId))!.replicas.map((replica) => replica.hostId);
  expect(holders).toContain(await newcomer!.id());
  expect(nonDecreasing((await bars())[`Copies of ${file.name}`] ?? [])).toBe(true);
});

test('an upload with nobody to store it waits, offers Retry, and goes by itself as peers join', async ({ peers }) => {
  const [owner] = await peers(1);
  await expect(owner!.page.getByTestId('alone')).toContainText('No other peer is online yet');
  const file = randomFile('first-photo.jpg', 2 * MiB);
  await owner!.upload(file);
  const entry = trayEntry(owner!, file.name);
  await expect(entry.getByTestId('upload-status')).toHaveText('Waiting for another peer');
  await expect(entry.getByRole('alert')).toContainText('No other peer is online to store this file');
  await expect(entry.getByRole('button', { name: `Retry ${file.name}` })).toBeEnabled();
  // Retry by hand while still alone: it waits again, in the same words.
  await entry.getByRole('button', { name: `Retry ${file.name}` }).click();
  await expect(entry.getByRole('alert')).toContainText('No other peer is online to store this file');

  // One peer joins: the upload starts by itself, and one copy is all it can make for now.
  await peers(1);
  await expect(entry.getByTestId('upload-status')).toHaveText('1 of 2 copies — the second will be made when a peer is free', { timeout: 60_000 });
  // A second joins: the missing copy is made, and the tray says the upload is complete.
  await peers(1);
  await expect(owner!.page.getByTestId('uploads-complete')).toHaveText('✓ 1 upload complete', { timeout: 60_000 });
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});

test('a resume starts at its real progress, and a wrong file chosen first leaves no error behind', async ({ peers }) => {
  const [owner] = await peers(3);
  const file = randomFileOnDisk('dataset.csv', 6 * MiB);
  const other = randomFileOnDisk('dataset-v2.csv', 6 * MiB);
  await owner!.setFaults(SLOW);
  await owner!.upload({ path: file.path });
  await expect.poll(() => owner!.progress(`Uploading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThanOrEqual(0.3);
  await owner!.reload();
  await expect(owner!.row(file.name)).toContainText('Upload interrupted: choose the file again to resume');

  await owner!.page.getByLabel(`Resume ${file.name}`).setInputFiles(other.path);
  const wrong = owner!.page.getByRole('alert').filter({ hasText: `Could not resume ${file.name}` });
  await expect(wrong).toContainText('that is not the same file');

  const bars = await owner!.recordProgress();
  await owner!.page.getByLabel(`Resume ${file.name}`).setInputFiles(file.path);
  await expect(wrong).toHaveCount(0);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const shown = (await bars())[`Uploading ${file.name}`] ?? [];
  // Unknown at first (no "0 %"), then where the hosts had got to, then only forward.
  const known = shown.filter((value) => value >= 0);
  expect(shown[0], `bar values: ${shown.join(', ')}`).toBe(-1);
  expect(known[0]).toBeGreaterThanOrEqual(0.25);
  expect(nonDecreasing(known)).toBe(true);
});

test('two files of the same name are told apart, and each downloads as itself', async ({ peers }) => {
  const [owner] = await peers(3);
  const first = randomFile('photo.jpg', 300_000);
  const second = randomFile('photo.jpg', 200_000);
  await owner!.upload(first);
  await owner!.waitStored('photo.jpg', 'Stored on 2 of 2 peers');
  await owner!.upload(second);
  await owner!.waitStored('photo.jpg (2)', 'Stored on 2 of 2 peers');
  await expect(owner!.row('photo.jpg')).toContainText('300 KB');
  await expect(owner!.row('photo.jpg (2)')).toContainText('200 KB');
  expect((await owner!.download('photo.jpg')).sha256).toBe(first.sha256);
  expect((await owner!.download('photo.jpg (2)')).sha256).toBe(second.sha256);
  await expect(owner!.page.getByRole('button', { name: 'Delete photo.jpg (2)', exact: true })).toHaveCount(1);
});

test('delete can be undone; once the undo is over the hosts let the file go and the tray forgets it', async ({ peers }) => {
  const [owner, hostA, hostB] = await peers(3);
  const file = randomFile('old-draft.docx', MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  await expect(owner!.page.getByTestId('uploads-complete')).toHaveText('✓ 1 upload complete');

  await owner!.page.getByRole('button', { name: `Delete ${file.name}` }).click();
  const undo = owner!.page.getByRole('button', { name: `Undo deleting ${file.name}` });
  await expect(undo).toBeFocused();
  await expect(owner!.row(file.name)).toContainText('Deleted.');
  await undo.click();
  await expect(owner!.page.getByRole('button', { name: `Delete ${file.name}` })).toBeFocused();
  await expect(owner!.row(file.name)).toContainText('Stored on 2 of 2 peers');

  // Undone, so nothing happened: both hosts still hold it, and it downloads.
  for (const host of [hostA, hostB]) await expect(host!.page.getByTestId('hosted')).toContainText('in 1 copy');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);

  await owner!.page.getByRole('button', { name: `Delete ${file.name}` }).click();
  await expect(owner!.row(file.name)).toHaveCount(0, { timeout: 30_000 });
  for (const host of [hostA, hostB]) await expect(host!.page.getByTestId('hosted')).toHaveText('0 B in 0 copies');
  await expect(owner!.page.getByTestId('uploads-complete')).toHaveCount(0);
});

test('closing the tab with an upload under way asks first, and a host is told what closing costs', async ({ peers }) => {
  const [owner, hostA] = await peers(3);
  const file = randomFileOnDisk('video.mov', 8 * MiB);
  await owner!.setFaults(SLOW);
  // A browser asks before leaving only a page the person has used.
  await owner!.page.getByRole('heading', { name: 'Upload' }).click();
  await hostA!.page.getByRole('heading', { name: 'My files' }).click();
  await owner!.upload({ path: file.path });
  await expect.poll(() => owner!.progress(`Uploading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThan(0.05);

  await expect(owner!.page.getByTestId('leave-warning')).toContainText('If you close this tab now, 1 upload would stop');
  await expect(hostA!.page.getByTestId('leave-warning')).toContainText('for other peers would fail, which counts against this browser’s reliability level for 24 hours');

  const asked: string[] = [];
  let answered: () => void = () => undefined;
  const answer = new Promise<void>((resolve) => (answered = resolve));
  owner!.beforeUnload = async (dialog) => {
    asked.push(dialog.type());
    await dialog.dismiss();
    answered();
  };
  await owner!.page.close({ runBeforeUnload: true });
  await answer;
  expect(asked).toEqual(['beforeunload']);
  // Stayed: the page is still there and the upload goes on to the end.
  expect(owner!.page.isClosed()).toBe(false);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  await expect(owner!.page.getByTestId('leave-warning')).toHaveCount(0);
});
