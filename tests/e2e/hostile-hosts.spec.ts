import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

test('a corrupting host never makes a download wrong; after 3 failures it gets nothing new and its level drops', async ({ peers, operator }) => {
  const [owner, corrupt, good] = await peers(3);
  // The corrupting host is the more reliable-looking one, so the tracker asks it first for every download.
  await corrupt!.offer(4096); // trust 5 → level 5
  await good!.offer(20); // trust 1…
  await good!.reload(); // …and one drop today → level 3
  await expect(corrupt!.level()).toHaveText('5');
  await expect(good!.level()).toHaveText('3');
  const [corruptId, goodId] = [await corrupt!.id(), await good!.id()];

  // Eight chunks each (the e2e CHUNK_SIZE is 256 KiB): corrupt from the middle on.
  const files = [randomFile('a.bin', 2 * MiB), randomFile('b.bin', 2 * MiB), randomFile('c.bin', 2 * MiB)];
  await owner!.upload(...files);
  for (const file of files) await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');

  // From the 5th chunk on, everything it serves is corrupt: the first four arrive fine from it.
  await corrupt!.setFaults({ corruptServedFrom: 4 });
  for (const [index, file] of files.entries()) {
    expect((await owner!.download(file.name)).sha256, file.name).toBe(file.sha256);
    // Counted once the tracker's audit of the piece the owner named confirms it (the host answers it corrupt too).
    await expect.poll(async () => (await operator.peer(corruptId)).metrics.integrityFailures, { message: file.name }).toBe(index + 1);
  }

  const punished = await operator.peer(corruptId);
  expect(punished.scores.availability).toBe(3);
  expect(punished.level).toBeLessThan(5);
  await expect(corrupt!.level()).not.toHaveText('5');
  const spared = await operator.peer(goodId);
  expect(spared.metrics).toEqual({ disconnections: 1, rejections: 0, integrityFailures: 0 });

  // Excluded from placement: a new file goes to the good host only.
  const next = randomFile('d.bin', MiB);
  await owner!.upload(next);
  await owner!.waitStored(next.name, 'Under-replicated: 1 of 2');
  expect((await operator.file(next.name, await owner!.id()))!.replicas.map((r) => r.hostId)).toEqual([goodId]);
});

test('a host that offers more than its browser can hold rejects cleanly and offers only what it holds', async ({ peers, operator }) => {
  const [owner, liar, b, c] = await peers(4);
  await liar!.offer(4096); // the most free space: asked first
  await b!.offer(2048);
  await c!.offer(1500);
  const [liarId, bId, cId] = [await liar!.id(), await b!.id(), await c!.id()];
  await liar!.setFaults({ quotaBytes: 0 });

  const file = randomFile('too-big-for-the-liar.bin', 3 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');

  const stored = (await operator.file(file.name, await owner!.id()))!;
  expect(stored.replicas.map((r) => r.hostId).sort()).toEqual([bId, cId].sort());
  await expect.poll(async () => (await operator.peer(liarId)).capacity).toBe(0);
  const liarRow = await operator.peer(liarId);
  expect(liarRow.metrics.rejections).toBe(1);
  expect(liarRow).toMatchObject({ used: 0, reserved: 0, replicas: 0 });
  await expect(liar!.page.getByTestId('offered')).toHaveText('0 B');
  await expect(liar!.page.getByTestId('hosted')).toContainText('0 B in 0 copies');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});
