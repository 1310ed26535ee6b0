import { chooseHosts } from '../../shared/placement.ts';
import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

test('three peers join; a 5 MiB file is placed by the rules, travels peer to peer, and comes back intact', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(4);
  await hosts[0]!.offer(2048);
  await hosts[1]!.offer(1536);
  await hosts[2]!.offer(1200);
  const ownerId = await owner!.id();

  const before = await operator.stats();
  const file = randomFile('holiday.bin', 5 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const after = await operator.stats();

  // The tracker chose what its rules choose, given what it knew of every online peer.
  const stored = (await operator.file(file.name, ownerId))!;
  const everyone = await operator.peers();
  const me = everyone.find((p) => p.id === ownerId)!;
  const online = everyone.filter((p) => p.online);
  const expected = chooseHosts(
    { uploaderId: ownerId, uploaderLevel: me.level, bytes: stored.storedBytes, replicas: 2 },
    // Free space as it was at placement: the chosen hosts now count the replica as used.
    online.map((p) => ({ id: p.id, level: p.level, free: p.free + (stored.replicas.some((r) => r.hostId === p.id) ? stored.storedBytes : 0) })),
  ).map((host) => host.id);
  expect(stored.replicas.map((r) => r.hostId).sort()).toEqual(expected.sort());
  expect(expected).toEqual(expect.arrayContaining([await hosts[0]!.id(), await hosts[1]!.id()]));

  // The bytes never went through the tracker: what it received over Socket.IO is tiny next to the file.
  expect(after.socketBytesIn - before.socketBytesIn).toBeLessThan(file.buffer.length / 50);

  const { sha256 } = await owner!.download(file.name);
  expect(sha256).toBe(file.sha256);
});
