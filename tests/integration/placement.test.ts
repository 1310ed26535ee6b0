import { afterEach, describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import type { PeercloudError } from '../../shared/errors.ts';
import { fragmentBytes } from '../../shared/redundancy.ts';
import { GiB, MiB } from '../../shared/units.ts';
import { CHUNK } from '../support/flows.ts';
import { NodePeer } from '../support/node-peer.ts';
import { spaceMismatches } from '../support/space-invariant.ts';
import { startTracker, type RunningTracker } from '../support/tracker-harness.ts';

let t: RunningTracker;
afterEach(async () => {
  await t.stop();
});

/** A peer offering `capacity` that has lost its connection `drops` times today. */
async function peerWith(capacity: number, drops: number): Promise<NodePeer> {
  let peer = await NodePeer.join(t.url, capacity);
  for (let i = 0; i < drops; i++) {
    const online = t.tracker.stats().peersOnline;
    peer.disconnect();
    await expect.poll(() => t.tracker.stats().peersOnline).toBe(online - 1);
    peer = await NodePeer.join(t.url, capacity, peer.keys);
  }
  return peer;
}

const hostsOf = async (fileId: string) =>
  (await t.database.db.selectFrom('replicas').select('host_id').where('file_id', '=', fileId).orderBy('host_id').execute()).map((r) => r.host_id);

/**
 * The paper's rule, with every offer credited in full (NEWCOMER_SPACE far above the offers):
 * what is earned rather than claimed is tested in hostile-peers.test.ts.
 */
const PAPER = { NEWCOMER_SPACE: '1TiB' };

describe('placement by reliability level, then free space', () => {
  it("follows the paper's example: a level-3 uploader's file goes to the level-3 host with most free space", async () => {
    t = await startTracker({ ...PAPER, REPLICAS: '1' });
    const uploader = await peerWith(1 * MiB, 1); // trust 1, dynamism 4, availability 5 → 3
    const level5 = await peerWith(4 * GiB, 0); // 5, 5, 5 → 5
    const level4 = await peerWith(64 * MiB, 0); // 2, 5, 5 → 4
    const level3small = await peerWith(40 * MiB, 1); // 1, 4, 5 → 3
    const level3big = await peerWith(50 * MiB, 1); // 1, 4, 5 → 3
    const level1ish = await peerWith(60 * MiB, 8); // 1, 1, 5 → 2: the lowest these metrics reach without rejections
    const peers = [uploader, level5, level4, level3small, level3big, level1ish];
    const table = await t.database.db.selectFrom('peers').select(['id', 'level']).execute();
    const levelOf = (p: NodePeer) => table.find((row) => row.id === p.id)!.level;
    expect(peers.map(levelOf)).toEqual([3, 5, 4, 3, 3, 2]);

    const placed = await uploader.request('file:place', { name: 'paper.pdf', size: 5 * MiB, chunkSize: CHUNK });
    expect(await hostsOf(placed.file.id)).toEqual([level3big.id]);
  });

  it('widens to the closest levels, the higher one winning a tie, when the own level runs out', async () => {
    t = await startTracker({ ...PAPER, REPLICAS: '3' });
    const uploader = await peerWith(1 * MiB, 1); // level 3
    const level4 = await peerWith(64 * MiB, 0); // level 4: distance 1, higher
    const level3 = await peerWith(50 * MiB, 1); // level 3: same level
    const level2 = await peerWith(60 * MiB, 8); // level 2: distance 1, lower
    await peerWith(4 * GiB, 0); // level 5: distance 2, most free space, still last
    const placed = await uploader.request('file:place', { name: 'a', size: 5 * MiB, chunkSize: CHUNK });
    expect(await hostsOf(placed.file.id)).toEqual([level3.id, level4.id, level2.id].sort());
  });

  it('passes over hosts caught serving corrupt data INTEGRITY_EXCLUSION times in a day, and hosts as busy as a host may be', async () => {
    t = await startTracker({ ...PAPER, REPLICAS: '1', INTEGRITY_EXCLUSION: '3', MAX_HOST_TRANSFERS: '1' });
    const uploader = await peerWith(1 * MiB, 1); // level 3, as all of these
    const corrupt = await peerWith(54 * MiB, 1);
    const forgiven = await peerWith(50 * MiB, 1);
    const twice = await peerWith(46 * MiB, 1);
    const plain = await peerWith(42 * MiB, 1);
    const now = Date.now();
    const failures = (peer: NodePeer, n: number, at: number) => Array.from({ length: n }, () => ({ peer_id: peer.id, kind: 'integrity_failure' as const, at, detail: null }));
    await t.database.db
      .insertInto('peer_events')
      .values([...failures(corrupt, 3, now - 60_000), ...failures(forgiven, 3, now - 25 * 3600_000), ...failures(twice, 2, now - 60_000)])
      .execute();
    const levels = await t.database.db.selectFrom('peers').select('level').where('id', 'in', [uploader, corrupt, forgiven, twice, plain].map((p) => p.id)).execute();
    expect(levels.map((row) => row.level)).toEqual([3, 3, 3, 3, 3]);

    // Most free space first, among those fit: failures older than a day are forgotten, fewer
    // than INTEGRITY_EXCLUSION tolerated; each host then has its one store under way.
    const placed = [];
    for (const name of ['a', 'b', 'c']) placed.push(await uploader.request('file:place', { name, size: 1 * MiB, chunkSize: CHUNK }));
    expect(await Promise.all(placed.map((p) => hostsOf(p.file.id)))).toEqual([[forgiven.id], [twice.id], [plain.id]]);
    const refused = await uploader.request('file:place', { name: 'd', size: 1 * MiB, chunkSize: CHUNK }).catch((error: PeercloudError) => error.code);
    expect(refused).toBe('NO_HOST');
  });

  it('reserves space atomically: concurrent uploads never over-commit a host', async () => {
    t = await startTracker({ ...PAPER, REPLICAS: '1' });
    const host = await NodePeer.join(t.url, 10 * MiB);
    const owners = await Promise.all(Array.from({ length: 6 }, () => NodePeer.join(t.url, 0)));
    const results = await Promise.allSettled(owners.map((owner, i) => owner.request('file:place', { name: `f${i}`, size: 3 * MiB, chunkSize: CHUNK })));
    const placed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    // 3 × (3 MiB + tags) fit in 10 MiB; a fourth would not.
    expect(placed).toHaveLength(3);
    expect(refused.map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['NO_HOST', 'NO_HOST', 'NO_HOST']);
    const row = await t.database.db.selectFrom('peers').select(['capacity', 'bytes_reserved']).where('id', '=', host.id).executeTakeFirstOrThrow();
    expect(row.bytes_reserved).toBe(3 * storedSize(3 * MiB, CHUNK));
    expect(row.bytes_reserved).toBeLessThanOrEqual(row.capacity);
  });

  it('places fragments for owners who host each other, all at once, without a deadlock or an over-commit', async () => {
    // rs:4+4: each file takes 8 of the 11 other peers, each of which is placing its own files
    // (a new file holds a key-share lock on its owner's row, which others reserve on as a host).
    t = await startTracker({ ...PAPER, REDUNDANCY: 'rs:4+4', MAX_HOST_TRANSFERS: '64' });
    const bytes = fragmentBytes(100_000, CHUNK, 4);
    const peers = await Promise.all(Array.from({ length: 12 }, () => NodePeer.join(t.url, 10 * bytes)));
    const answers = await Promise.allSettled(peers.flatMap((peer) => Array.from({ length: 2 }, (_, n) => peer.request('file:place', { name: `f${n}`, size: 100_000, chunkSize: CHUNK }))));
    // Room for 120 fragments, 192 asked for: some files find too few hosts, none fails otherwise.
    const refused = answers.flatMap((answer) => (answer.status === 'rejected' ? [answer.reason as PeercloudError] : []));
    expect(refused.filter((error) => error.code !== 'NO_HOST').map((error) => `${error.code}: ${error.message}`)).toEqual([]);
    expect(answers.length - refused.length).toBeGreaterThanOrEqual(10);
    const rows = await t.database.db.selectFrom('replicas').select(['host_id', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('host_id').execute();
    for (const row of rows) expect(Number(row.n)).toBeLessThanOrEqual(10);
    expect(await spaceMismatches(t.database.db)).toEqual([]);
  });

  it('deletes files while owners who host each other place theirs, without a deadlock or a counter off', async () => {
    // A deletion takes its hosts' rows as placements do (in id order, in one step): first a file
    // each, then each owner deletes it while placing another.
    t = await startTracker({ ...PAPER, REDUNDANCY: 'rs:4+4', MAX_HOST_TRANSFERS: '64' });
    const bytes = fragmentBytes(100_000, CHUNK, 4);
    const peers = await Promise.all(Array.from({ length: 12 }, () => NodePeer.join(t.url, 10 * bytes)));
    const first = await Promise.all(peers.map((peer) => peer.request('file:place', { name: 'first', size: 100_000, chunkSize: CHUNK })));
    const answers = await Promise.allSettled(
      peers.flatMap((peer, index) => [peer.request('file:delete', { fileId: first[index]!.file.id }), peer.request('file:place', { name: 'second', size: 100_000, chunkSize: CHUNK })]),
    );
    const refused = answers.flatMap((answer) => (answer.status === 'rejected' ? [answer.reason as PeercloudError] : []));
    expect(refused.filter((error) => error.code !== 'NO_HOST').map((error) => `${error.code}: ${error.message}`)).toEqual([]);
    const left = await t.database.db.selectFrom('files').select('name').execute();
    expect(left.filter((file) => file.name === 'first')).toEqual([]);
    expect(await spaceMismatches(t.database.db)).toEqual([]);
  });
});
