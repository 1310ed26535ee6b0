/**
 * Two trackers on one PostgreSQL ending overlapping sets of transfers at the same moment (a
 * file deleted on both while its hosts leave): each transfer ends once, each reservation is
 * released once, and neither waits for the other in a cycle (rows are locked in id order).
 * PostgreSQL only, as this folder is: one SQLite file has one tracker.
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../../shared/units.ts';
import { CHUNK } from '../../support/flows.ts';
import { spaceMismatches } from '../../support/space-invariant.ts';
import { endingsCloud } from '../../support/standalone-transfers.ts';

const cloud = endingsCloud({ REPLICAS: '4', UPLOAD_RESUME_GRACE: '1m', MAX_HOST_TRANSFERS: '64' });
const SIZE = MiB;

describe('transfers ended together by two trackers', () => {
  it('two trackers ending overlapping transfers at once end each one once, releasing each reservation once', async () => {
    const hosts = [await cloud.join(10 * GiB), await cloud.join(10 * GiB), await cloud.join(10 * GiB), await cloud.join(10 * GiB)];
    const a = cloud.standalone();
    const b = cloud.standalone();
    for (let round = 0; round < 3; round++) {
      // A new owner each round: these standalone endings settle no upload, so the last owner's stay under way.
      const owner = await cloud.join();
      const files: string[] = [];
      const asked: string[] = [];
      for (let n = 0; n < 4; n++) {
        const placed = await owner.request('file:place', { name: `r${round}-${n}.bin`, size: SIZE, chunkSize: CHUNK });
        files.push(placed.file.id);
        asked.push(...placed.transferIds);
      }
      a.endings.length = 0;
      b.endings.length = 0;
      // Each file cancelled on both trackers, and two hosts' leaving on each, all at the same time:
      // every store is in two or three of these sets.
      await Promise.all([
        ...files.flatMap((fileId) => [a.transfers.cancelFile(fileId), b.transfers.cancelFile(fileId)]),
        a.transfers.peerGone(hosts[0]!.id),
        b.transfers.peerGone(hosts[0]!.id),
        b.transfers.peerGone(hosts[1]!.id),
        a.transfers.peerGone(hosts[1]!.id),
      ]);
      const ended = [...a.endings, ...b.endings].map((ending) => ending.transfer.id);
      expect(ended.length).toBe(asked.length);
      expect(new Set(ended)).toEqual(new Set(asked));
      const rows = await cloud.t.database.db.selectFrom('transfers').select('state').where('id', 'in', asked).execute();
      expect(rows.every((row) => row.state === 'failed')).toBe(true);
      for (const host of hosts) expect(await cloud.reserved(host.id)).toBe(0);
      expect(await spaceMismatches(cloud.t.database.db)).toEqual([]);
    }
  });
});
