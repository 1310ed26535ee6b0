/**
 * Files kept as erasure-coded fragments (REDUNDANCY=rs:4+2), between real browser tabs: six
 * fragments on six distinct hosts, any four read the file, a corrupt fragment is caught on
 * arrival, and a lost one is rebuilt by hosts alone.
 */
import { MiB } from '../../shared/units.ts';
import { ownTracker } from './fixtures/own-tracker.ts';
import { expect, randomFile, test } from './fixtures/peers.ts';

const baseURL = ownTracker(3, { REDUNDANCY: 'rs:4+2' });
test.use({ baseURL });
// Seven to ten browser contexts at once on two cores: more time than the usual spec.
test.setTimeout(240_000);

test('an rs:4+2 file goes to six distinct hosts by the rule; with two of them gone for good the owner still downloads it whole', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(7);
  const ownerId = await owner!.id();
  const hostIds = await Promise.all(hosts.map((host) => host!.id()));
  const file = randomFile('thesis.pdf', 3 * MiB + 12_345);
  await owner!.upload(file);
  await owner!.waitStored(file.name, 'Protected: survives 2 more peers leaving (6 of 6 fragments online, any 4 read it)');

  const stored = (await operator.file(file.name, ownerId))!;
  expect(stored.scheme).toEqual({ k: 4, n: 6 });
  expect(stored.replicas.map((r) => r.fragment).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  // Six distinct hosts, never the owner: with six candidates of one level, every one of them.
  expect(new Set(stored.replicas.map((r) => r.hostId)).size).toBe(6);
  expect(stored.replicas.map((r) => r.hostId).sort()).toEqual([...hostIds].sort());
  expect(stored.replicas.every((r) => r.state === 'stored')).toBe(true);
  // Each host keeps a quarter of the sealed file, not a copy of it.
  const used = await Promise.all(hostIds.map(async (id) => (await operator.peer(id)).used));
  for (const bytes of used) expect(bytes).toBeLessThan(file.buffer.length / 3);

  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);

  // Two hosts close for good, one of them holding a data fragment: any four still read it.
  const holderOf = (fragment: number) => hosts[hostIds.indexOf(stored.replicas.find((r) => r.fragment === fragment)!.hostId)]!;
  await holderOf(0).close();
  await holderOf(5).close();
  await owner!.waitStored(file.name, 'At risk: one more peer leaving makes it unreadable (4 of 6 fragments online, any 4 read it)');
  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
});

test('a host serving a corrupt fragment is caught on arrival and penalised, and the download still succeeds', async ({ peers, operator }) => {
  const [owner, ...hosts] = await peers(7);
  const ownerId = await owner!.id();
  const hostIds = await Promise.all(hosts.map((host) => host!.id()));
  const file = randomFile('corrupt-me.bin', 2 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, /Protected: survives 2 more peers leaving/);
  const stored = (await operator.file(file.name, ownerId))!;
  // The holder of a data fragment: the owner asks for data fragments first.
  const corruptId = stored.replicas.find((r) => r.fragment === 1)!.hostId;
  const corrupt = hosts[hostIds.indexOf(corruptId)]!;
  await corrupt.setFaults({ corruptServedFrom: 0 });

  expect((await owner!.download(file.name)).sha256).toBe(file.sha256);
  await expect.poll(async () => (await operator.peer(corruptId)).metrics.integrityFailures).toBeGreaterThanOrEqual(1);
  // Audited on the piece it served, it fails: its fragment no longer counts.
  await expect.poll(async () => (await operator.file(file.name, ownerId))!.replicas.find((r) => r.hostId === corruptId)?.state ?? 'gone', { timeout: 30_000 }).not.toBe('stored');
  for (const id of hostIds.filter((id) => id !== corruptId)) expect((await operator.peer(id)).metrics.integrityFailures).toBe(0);
});

test('with the owner away, hosts rebuild lost fragments on newcomers back to six; the owner comes back and downloads the file', async ({ peers, operator }) => {
  let [owner] = await peers(1);
  const ownerId = await owner!.id();
  const hosts = await peers(6);
  const hostIds = await Promise.all(hosts.map((host) => host!.id()));
  const file = randomFile('family-archive.zip', 3 * MiB);
  await owner!.upload(file);
  await owner!.waitStored(file.name, /Protected: survives 2 more peers leaving/);
  await owner!.closeTab();

  // Two hosts leave for good: four live fragments, at the repair threshold (k + 1 = 5) and below.
  await hosts[0]!.close();
  await hosts[1]!.close();
  const newcomers = await peers(2);
  const newcomerIds = await Promise.all(newcomers.map((peer) => peer.id()));
  const live = async () => (await operator.file(file.name, ownerId))!.replicas.filter((r) => r.state === 'stored' && r.online && !r.retired && !r.suspect);
  await expect.poll(async () => (await live()).map((r) => r.fragment).sort(), { timeout: 90_000 }).toEqual([0, 1, 2, 3, 4, 5]);
  // Rebuilt on the newcomers, from the four hosts that stayed: the owner had no part in it.
  const rebuiltOn = (await live()).map((r) => r.hostId).filter((id) => !hostIds.includes(id));
  expect(rebuiltOn.sort()).toEqual([...newcomerIds].sort());

  owner = await owner!.reopen();
  await owner.waitStored(file.name, /Protected: survives 2 more peers leaving/);
  expect((await owner.download(file.name)).sha256).toBe(file.sha256);
});
