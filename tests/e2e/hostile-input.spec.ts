import { safeFileName, visibleName } from '../../shared/safe-name.ts';
import { expect, test, type PeerPage } from './fixtures/peers.ts';

/** Drops in-page files (any name at all, which a real file system might not allow) on the upload area. */
async function drop(peer: PeerPage, names: string[]): Promise<void> {
  const transfer = await peer.page.evaluateHandle((list) => {
    const data = new DataTransfer();
    for (const name of list) data.items.add(new File([`content of ${name.length} chars`], name));
    return data;
  }, names);
  await peer.page.getByRole('region', { name: 'Drop files here to upload' }).dispatchEvent('drop', { dataTransfer: transfer });
}

test('hostile file names: no script runs, each is shown literally or refused in words, downloads get safe names', async ({ peers }) => {
  const [owner] = await peers(3);
  const accepted = ['<img src=x onerror=alert(1)>.txt', '../../etc/passwd', 'invoice\u202Efdp.exe', '"; DROP TABLE files; --.sql'];
  const refused = ['x'.repeat(10_000), 'nul\u0000byte.txt'];
  await drop(owner!, [...accepted, ...refused]);

  await expect(owner!.page.getByRole('alert').filter({ hasText: 'must be at most 255 characters' })).toBeVisible();
  await expect(owner!.page.getByRole('alert').filter({ hasText: 'must not contain control characters' })).toBeVisible();
  for (const name of accepted) {
    await owner!.waitStored(visibleName(name), 'Stored on 2 of 2 peers');
    const { suggested } = await owner!.download(name);
    expect(suggested).toBe(safeFileName(name));
  }
  // The override character is shown, not obeyed.
  await expect(owner!.row('invoice⟨U+202E⟩fdp.exe')).toBeVisible();
  await expect(owner!.page.locator('img')).toHaveCount(0);
  expect(owner!.dialogs).toEqual([]);
});

test('a peer whose network goes away is marked offline within the heartbeat, counted once, and rejoins as itself', async ({ peers, operator }) => {
  const [peer] = await peers(1);
  const id = await peer!.id();
  const before = await operator.peer(id);
  // The e2e tracker's HEARTBEAT_INTERVAL + HEARTBEAT_TIMEOUT is 1 s + 2 s.
  await peer!.context.setOffline(true);
  await expect.poll(async () => (await operator.peer(id)).online, { timeout: 3_000 + 2_000, intervals: [100] }).toBe(false);
  await peer!.context.setOffline(false);
  await peer!.waitOnline();
  const after = await operator.peer(id);
  expect(after.online).toBe(true);
  expect(after.metrics.disconnections).toBe(before.metrics.disconnections + 1);
  expect((await operator.peers()).filter((row) => row.id === id)).toHaveLength(1);
});
