import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

test('a host gone for good: its replica is remade on another host while the owner is away too; the owner comes back to whole files', async ({ peers, operator }) => {
  let [owner] = await peers(1);
  const ownerId = await owner!.id();
  const [leaving, staying] = await peers(2);
  const file = randomFile('family-photos.zip', 3 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  await owner!.closeTab();
  const leavingId = await leaving!.id();
  await leaving!.close();

  const [newcomer] = await peers(1);
  const newcomerId = await newcomer!.id();
  // Past the grace (3 s here), the staying host sends its copy to the newcomer: host to host.
  await expect
    .poll(async () => (await operator.file(file.name, ownerId))!.replicas.filter((r) => r.state === 'stored' && r.online).map((r) => r.hostId).sort(), { timeout: 30_000 })
    .toEqual([await staying!.id(), newcomerId].sort());
  // The departed host's copy no longer counts: it is retired (kept on the books, should it come back and prove it).
  const leftover = (await operator.file(file.name, ownerId))!.replicas.filter((r) => r.hostId === leavingId);
  expect(leftover.every((r) => r.retired)).toBe(true);

  owner = await owner!.reopen();
  await owner.waitStored(file.name, 'Stored on 2 of 2 peers');
  await expect(owner.row(file.name)).toContainText(/repaired/);
  expect((await owner.download(file.name)).sha256).toBe(file.sha256);
});

test('half the peers leave at once: repairs keep to the configured concurrency and nothing with a live copy is lost', async ({ peers, operator, request }) => {
  const [owner, ...hosts] = await peers(7);
  const ownerId = await owner!.id();
  const files = Array.from({ length: 6 }, (_, i) => randomFile(`doc-${i}.pdf`, MiB + i));
  await owner!.upload(...files);
  for (const file of files) await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');

  const gone = hosts.slice(0, 3);
  const goneIds = await Promise.all(gone.map((host) => host!.id()));
  const holders = async (name: string) => (await operator.file(name, ownerId))!.replicas;
  const hadLiveCopy: string[] = [];
  for (const file of files) if ((await holders(file.name)).some((r) => !goneIds.includes(r.hostId))) hadLiveCopy.push(file.name);
  await Promise.all(gone.map((host) => host!.close()));

  let mostAtOnce = 0;
  await expect
    .poll(
      async () => {
        const active = (await operator.transfers()).filter((t) => t.kind === 'repair').length;
        mostAtOnce = Math.max(mostAtOnce, active);
        const whole = await Promise.all(hadLiveCopy.map(async (name) => (await holders(name)).filter((r) => r.state === 'stored' && r.online).length === 2));
        return whole.every(Boolean);
      },
      { timeout: 60_000, intervals: [100] },
    )
    .toBe(true);
  expect(mostAtOnce).toBeLessThanOrEqual(2);
  const metrics = await (await request.get('/metrics')).text();
  expect(metrics).toMatch(/peercloud_repairs_total\{outcome="done",tracker="[^"]+"\} [1-9]/);
  for (const name of hadLiveCopy) expect((await owner!.download(name)).sha256).toBe(files.find((f) => f.name === name)!.sha256);
});
