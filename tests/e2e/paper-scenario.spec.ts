import { MiB } from '../../shared/units.ts';
import { expect, randomFile, test, type PeerPage } from './fixtures/peers.ts';

/** A peer that offered `mebibytes` and dropped its connection `drops` times today. */
async function behave(peer: PeerPage, mebibytes: number, drops: number): Promise<void> {
  await peer.offer(mebibytes);
  for (let i = 0; i < drops; i++) await peer.reload();
}

test("the paper's scenario: an upload lands on hosts of the uploader's level, most free space first", async ({ peers, operator }) => {
  const [uploader, level5, level4, small3, big3, mid3] = await peers(6);
  // Six people at once, as in the paper's figure: each peer's own page, its own measurements.
  await Promise.all([
    behave(uploader!, 10, 1), // trust 1, dynamism 4, availability 5 → 3
    behave(level5!, 4096, 0), // 5, 5, 5 → 5
    behave(level4!, 64, 0), // 2, 5, 5 → 4
    behave(small3!, 30, 1), // 1, 4, 5 → 3
    behave(big3!, 50, 1), // 1, 4, 5 → 3
    behave(mid3!, 40, 1), // 1, 4, 5 → 3
  ]);

  for (const [peer, level] of [
    [uploader, '3'],
    [level5, '5'],
    [level4, '4'],
    [small3, '3'],
    [big3, '3'],
    [mid3, '3'],
  ] as const) {
    await expect(peer!.level()).toHaveText(level);
  }

  const file = randomFile('paper-figure-2.png', MiB);
  await uploader!.upload(file);
  await uploader!.waitStored(file.name, 'Stored on 2 of 2 peers');
  const hosts = (await operator.file(file.name, await uploader!.id()))!.replicas.map((r) => r.hostId).sort();
  // Same level as the uploader, and of those the two with the most free space.
  expect(hosts).toEqual([await big3!.id(), await mid3!.id()].sort());
});
