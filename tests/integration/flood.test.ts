import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MiB } from '../../shared/units.ts';
import { NodePeer } from '../support/node-peer.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { startTrackerProcess, type TrackerProcess } from '../support/tracker-process.ts';

let tracker: TrackerProcess;
let dir: string;
let database: TestDatabase;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-flood-'));
  database = await createTestDatabase(dir);
  // The rate limit is tested on its own; here every message must reach the parser.
  tracker = await startTrackerProcess({ ...database.env, RATE_LIMIT: '100000', RATE_BURST: '100000' });
});
afterAll(async () => {
  await tracker.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

function nested(depth: number): unknown {
  let value: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Ten kinds of garbage, in turn. */
function malformed(i: number): [string, unknown] {
  switch (i % 10) {
    case 0:
      return ['file:place', { name: 42, size: 'big', chunkSize: null }];
    case 1:
      return ['file:place', {}];
    case 2:
      return ['file:place', JSON.parse('{"__proto__": {"isAdmin": true}, "name": "x", "size": 1, "chunkSize": 1048576}')];
    case 3:
      return ['file:place', nested(2_000)];
    case 4:
      return ['file:place', { name: 'x', size: Number.NaN, chunkSize: 1048576 }];
    case 5:
      return ['file:place', { name: 'x', size: -1, chunkSize: 1048576 }];
    case 6:
      return ['peer:report', { capacity: -5, used: 'all' }];
    case 7:
      return ['transfer:signal', { transferId: ['array'], signal: { type: 'offer', sdp: 7 } }];
    case 8:
      return [`no:such:event:${i}`, { hello: 'world' }];
    default:
      return ['file:delete', 'x'.repeat(30_000)];
  }
}

describe('a flood of malformed messages from real socket.io clients', () => {
  // How fast the answers come under load is the flood benchmark's business (`npm run bench`):
  // here every message must be answered, in words, while the tracker stays up and small. Its
  // 10,000 round trips take about 6 s alone and over 30 s on a machine busy with other work: the
  // budget only stops a hung run.
  it('gets a typed error for every one, and the tracker stays up and small', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => NodePeer.join(tracker.url, 0)));
    const before = tracker.rss();
    let answered = 0;
    const codes = new Map<string, number>();
    await Promise.all(
      clients.map(async (client) => {
        const socket = client.client.socket as unknown as Socket;
        // Waves of 50 in flight per client: encoding a deeply nested message costs the *client*
        // most of a millisecond, and ten thousand at once would measure the test's own event loop.
        for (let wave = 0; wave < 1_000; wave += 50) {
          await Promise.all(
            Array.from({ length: 50 }, async (_, k) => {
              const [event, payload] = malformed(wave + k);
              const answer = (await socket.timeout(10_000).emitWithAck(event, payload)) as { ok: boolean; code: string };
              answered++;
              expect(answer.ok).toBe(false);
              codes.set(answer.code, (codes.get(answer.code) ?? 0) + 1);
            }),
          );
        }
      }),
    );
    expect(answered).toBe(10_000);
    expect([...codes.keys()]).toEqual(['INVALID']);
    expect(tracker.rss() - before).toBeLessThan(50 * MiB);

    // Messages over the size limit close only their own connection.
    const big = clients[0]!.client.socket as unknown as Socket;
    const closed = new Promise((resolve) => big.once('disconnect', resolve));
    big.emit('file:place', { name: 'x'.repeat(MiB), size: 1, chunkSize: 1048576 });
    await closed;
    expect((await clients[1]!.request('file:list', {})).files).toEqual([]);
    const healthy = await fetch(`${tracker.url}/healthz`);
    expect(healthy.status).toBe(200);
  }, 60_000);
});
