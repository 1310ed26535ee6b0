/**
 * Races between the reads of a pool of database connections, which answer in any order:
 * PostgreSQL only (SQLite has one connection, its statements one after the other).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GiB } from '../../../shared/units.ts';
import { storeFile } from '../../support/flows.ts';
import { HeldResult } from '../../support/held-result.ts';
import { NodePeer } from '../../support/node-peer.ts';
import { startTracker, type RunningTracker } from '../../support/tracker-harness.ts';

let t: RunningTracker;
afterEach(async () => {
  await t.stop();
});

describe("an owner's file:updated", () => {
  it('ends on the file as it is: a read of its host leaving that answers after the host is back is not the last word', async () => {
    const held = new HeldResult();
    t = await startTracker({}, {}, { plugins: [held] });
    const owner = await NodePeer.join(t.url, GiB);
    const hostA = await NodePeer.join(t.url, GiB);
    const hostB = await NodePeer.join(t.url, GiB);
    const { file } = await storeFile(owner, [hostA, hostB], 'kept.bin', 1000);
    expect(file.replicas).toMatchObject({ stored: 2, online: 2 });
    const summaryOf = (rows: Record<string, unknown>[]) => rows.length === 1 && rows[0]!.id === file.id && 'online' in rows[0]!;

    // The summary read that host A's leaving makes (one host online) answers only once A is back.
    const hold = held.holdNext(summaryOf);
    try {
      hostA.disconnect();
      await hold.caught;
      const back = await NodePeer.connect(t.url, hostA.keys);
      const online = () => t.database.db.selectFrom('peers').select('online').where('id', '=', hostA.id).executeTakeFirstOrThrow();
      await expect.poll(async () => (await online()).online).toBe(1);
      // The read its coming back makes: unordered, it answers now, before the held one. Ordered, it
      // waits for the held one, and nothing tells of it: a bound instead.
      await Promise.race([hold.overtaken, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      const heard = () => owner.received('file:updated').filter((f) => f.id === file.id);
      const leavings = heard().filter((f) => f.replicas.online === 1).length;
      hold.release();

      // The owner hears the leaving (late), then the file as it is now: both hosts online.
      await expect.poll(() => heard().filter((f) => f.replicas.online === 1).length).toBe(leavings + 1);
      await expect.poll(() => heard().at(-1)?.replicas.online).toBe(2);
      expect((await owner.request('file:list', {})).files.find((f) => f.id === file.id)?.replicas.online).toBe(2);
      back.disconnect();
    } finally {
      // A failure above must not leave a pooled connection held: the tracker could not stop.
      hold.release();
    }
  });
});
