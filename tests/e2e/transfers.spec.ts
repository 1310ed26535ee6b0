import { chunkCount } from '../../shared/chunking.ts';
import { KiB, MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

/** The e2e tracker's CHUNK_SIZE (playwright.config.ts). */
const CHUNK = 256 * KiB;
/** A slow uplink (a fault the page takes from the test): a few MiB then last long enough to be caught midway. */
const SLOW = { uplinkBytesPerSecond: MiB };

test('files of 0 bytes, 1 byte, one chunk and one chunk ± 1 byte go and come back intact', async ({ peers }) => {
  const [owner] = await peers(3);
  const files = [
    randomFile('empty.bin', 0),
    randomFile('one-byte.bin', 1),
    randomFile('chunk-minus-one.bin', CHUNK - 1),
    randomFile('one-chunk.bin', CHUNK),
    randomFile('chunk-plus-one.bin', CHUNK + 1),
  ];
  expect(files.map((file) => chunkCount(file.buffer.length, CHUNK))).toEqual([1, 1, 1, 1, 2]);
  await owner!.upload(...files);
  for (const file of files) await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  for (const file of files) expect((await owner!.download(file.name)).sha256, file.name).toBe(file.sha256);
});

test('a download whose host closes at about a third continues from another replica', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(3);
  const file = randomFile('long-video.mp4', 6 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const fileId = (await operator.file(file.name, await owner!.id()))!.id;
  const ids = await Promise.all(hosts.map((host) => host!.id()));
  for (const host of hosts) await host!.setFaults(SLOW);

  const downloaded = owner!.download(file.name);
  await expect.poll(() => owner!.progress(`Downloading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThanOrEqual(1 / 3);
  const sender = await operator.transferPeer(fileId, 'fetch');
  expect(ids).toContain(sender);
  const progressAtClose = await owner!.progress(`Downloading ${file.name}`);
  await hosts[ids.indexOf(sender!)]!.close();
  // Caught midway: the rest may come at the channel's speed.
  await hosts[1 - ids.indexOf(sender!)]!.setFaults({ uplinkBytesPerSecond: undefined });

  const { sha256 } = await downloaded;
  expect(sha256).toBe(file.sha256);
  expect(progressAtClose).toBeLessThan(1);
});

test('an upload whose host disappears continues on a newly placed host', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(4);
  const ownerId = await owner!.id();
  const ids = await Promise.all(hosts.map((host) => host!.id()));
  const file = randomFile('backup.tar', 6 * MiB);
  await owner!.setFaults(SLOW);
  await owner!.upload(file);
  await expect.poll(() => owner!.progress(`Uploading ${file.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThanOrEqual(0.2);
  const fileId = (await operator.file(file.name, ownerId))!.id;
  const receiver = await operator.transferPeer(fileId, 'store');
  expect(ids).toContain(receiver);
  await hosts[ids.indexOf(receiver!)]!.close();
  // Caught midway: the rest may go at the channel's speed.
  await owner!.setFaults({ uplinkBytesPerSecond: undefined });

  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const holders = (await operator.file(file.name, ownerId))!.replicas.map((replica) => replica.hostId);
  expect(holders).not.toContain(receiver);
  expect(holders).toHaveLength(2);
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});
