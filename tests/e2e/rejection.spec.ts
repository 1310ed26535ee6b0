import { MiB } from '../../shared/units.ts';
import { expect, randomFile, randomFileOnDisk, test } from './fixtures/peers.ts';

test('a host without space rejects: the rejection is counted, its level drops, and the next host is used', async ({ peers, operator }) => {
  const [owner, full, second, third] = await peers(4);
  // The full host offers the most, so the tracker asks it first.
  await full!.offer(3000);
  await second!.offer(2000);
  await third!.offer(1500);
  const [fullId, secondId, thirdId] = [await full!.id(), await second!.id(), await third!.id()];
  await expect(full!.level()).toHaveText('5');

  // Its disk fills up after it made its offer: the browser now reports almost no room.
  await full!.page.evaluate(() => {
    navigator.storage.estimate = async () => ({ quota: 2 ** 30, usage: 2 ** 30 - 1024 });
  });

  const file = randomFile('big-slides.key', 2 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');

  const hosts = (await operator.file(file.name, await owner!.id()))!.replicas.map((r) => r.hostId);
  expect(hosts.sort()).toEqual([secondId, thirdId].sort());
  expect(hosts).not.toContain(fullId);
  const rejecter = await operator.peer(fullId);
  expect(rejecter.metrics.rejections).toBe(1);
  // trust 4 (≥ 1 GiB), dynamism 5, availability 4 (one rejection) → 4.33 → 4
  expect(rejecter.scores).toEqual({ trust: 4, dynamism: 5, availability: 4 });
  await expect(full!.level()).toHaveText('4');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});

test('a host receiving one upload takes another that fits beside it, without a rejection', async ({ peers, operator }) => {
  const [owner, host] = await peers(2);
  await host!.offer(10);
  const first = randomFileOnDisk('first.bin', 6 * MiB);
  const second = randomFileOnDisk('second.bin', 3 * MiB);
  // A slow uplink keeps the first upload going while the second is placed.
  await owner!.setFaults({ uplinkBytesPerSecond: MiB });
  await owner!.upload(first);
  // The host has made room for the first replica and is writing it when the second is offered:
  // 10 MiB offered, 6 MiB taken, 4 MiB free.
  await expect.poll(() => owner!.progress(`Uploading ${first.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThan(0);
  await owner!.upload(second);
  // Both under way on the host at once: the rest may go at the channel's speed.
  await expect.poll(() => owner!.progress(`Uploading ${second.name}`), { timeout: 30_000, intervals: [50] }).toBeGreaterThan(0);
  await owner!.setFaults({ uplinkBytesPerSecond: undefined });
  await owner!.waitStored(first.name, /Stored on 1 of|Under-replicated: 1 of/);
  await owner!.waitStored(second.name, /Stored on 1 of|Under-replicated: 1 of/);
  expect((await operator.peer(await host!.id())).metrics.rejections).toBe(0);
  expect((await owner!.download(second.name)).sha256).toBe(second.sha256);
});
