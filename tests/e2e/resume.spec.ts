import { readFileSync } from 'node:fs';
import { MiB } from '../../shared/units.ts';
import { expect, randomFileOnDisk, sha256, test } from './fixtures/peers.ts';

test('a reload during an upload offers to resume it, and the resumed file is whole', async ({ peers, operator }) => {
  const [owner] = await peers(3);
  const file = randomFileOnDisk('dissertation-data.csv', 6 * MiB);
  // A slow uplink, so that the reload comes midway (the reloaded page is as fast as ever).
  await owner!.setFaults({ uplinkBytesPerSecond: MiB });
  await owner!.upload({ path: file.path });
  await expect.poll(() => owner!.progress(`Uploading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThanOrEqual(0.3);
  await owner!.reload();

  await expect(owner!.row(file.name)).toContainText('Upload interrupted: choose the file again to resume');
  // The hosts kept what they had: nothing was released while the owner was away.
  const partial = (await operator.file(file.name, await owner!.id()))!;
  expect(partial.replicas.map((replica) => replica.state)).toEqual(['reserved', 'reserved']);

  await owner!.page.getByLabel(`Resume ${file.name}`).setInputFiles(file.path);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});

test('a reload during a download offers to resume it from where it was', async ({ peers }) => {
  const [owner, ...hosts] = await peers(3);
  const file = randomFileOnDisk('archive-2025.zip', 6 * MiB);
  await owner!.upload({ path: file.path });
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  // Hosts on slow uplinks, so that the reload comes midway.
  for (const host of hosts) await host!.setFaults({ uplinkBytesPerSecond: MiB });

  await owner!.page.getByRole('button', { name: `Download ${file.name}`, exact: true }).click();
  await expect.poll(() => owner!.progress(`Downloading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThanOrEqual(0.3);
  await owner!.reload();
  // Caught midway: the resumed download may come at the channels' speed.
  for (const host of hosts) await host!.setFaults({ uplinkBytesPerSecond: undefined });

  const resume = owner!.page.getByRole('button', { name: `Resume download ${file.name}` });
  await expect(owner!.row(file.name)).toContainText(/Download interrupted at [1-9]\d%/);
  const downloaded = owner!.page.waitForEvent('download');
  await resume.click();
  expect(sha256(readFileSync(await (await downloaded).path()))).toBe(file.sha256);
});
