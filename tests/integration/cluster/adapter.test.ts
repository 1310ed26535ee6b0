/**
 * The Socket.IO adapter's connections to PostgreSQL (server/cluster/adapter.ts): it closes
 * whenever it is closed, even while its listening connection is still being opened (a tracker
 * stopped right after it started once hung there for good), gives back every connection it
 * took, and survives the loss of its listening connection. Runs in `integration-pg` only.
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server } from 'socket.io';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachPostgresAdapter } from '../../../server/cluster/adapter.ts';
import type { TrackerServer } from '../../../server/sessions.ts';
import { silentLogger } from '../../../server/logger.ts';
import { withClient } from '../../support/postgres.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let dir: string;
let database: TestDatabase;
let url: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-adapter-'));
  database = await createTestDatabase(dir);
  url = database.env.DATABASE_URL!;
});
afterEach(async () => {
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

function attached() {
  const io: TrackerServer = new Server(createServer());
  const close = attachPostgresAdapter(io, url, { heartbeatMs: 1_000, timeoutMs: 5_000, log: silentLogger });
  return {
    io,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await close();
    },
  };
}

/** The adapter's connections to the test's database, by what they last ran. */
function adapterConnections(): Promise<{ pid: number; query: string }[]> {
  const name = new URL(url).pathname.slice(1);
  return withClient(url, async (client) => {
    const result = await client.query<{ pid: number; query: string }>(
      `select pid, query from pg_stat_activity where datname = $1 and application_name = 'peercloud-adapter'`,
      [name],
    );
    return result.rows;
  });
}

const listening = async () => (await adapterConnections()).filter((connection) => connection.query.startsWith('LISTEN')).length;

/** Settles with 'closed', or 'hung' after five seconds. */
function closedWithin(closing: Promise<void>): Promise<'closed' | 'hung'> {
  return Promise.race([closing.then(() => 'closed' as const), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000).unref())]);
}

describe('the Socket.IO adapter on PostgreSQL', () => {
  it('closes at once while its listening connection is still being opened, and leaves none behind', async () => {
    const adapter = attached();
    expect(await closedWithin(adapter.close())).toBe('closed');
    expect(await adapterConnections()).toEqual([]);
  });

  it('gives back its listening connection when closed after use', async () => {
    const adapter = attached();
    await expect.poll(listening).toBe(1);
    expect(await closedWithin(adapter.close())).toBe('closed');
    expect(await adapterConnections()).toEqual([]);
  });

  it('listens again after losing its connection, and still closes with nothing left', async () => {
    const first = attached();
    const second = attached();
    await expect.poll(listening).toBe(2);
    await withClient(url, (client) =>
      client.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'peercloud-adapter' and query like 'LISTEN%'`),
    );
    await expect.poll(listening, { timeout: 10_000 }).toBe(2);

    // Messages between the two go through the new connections.
    const heard = new Promise<unknown>((resolve) => second.io.on('peer:delivered', resolve));
    const message = { to: 'tracker-b', ids: ['one'] };
    first.io.serverSideEmit('peer:delivered', message);
    expect(await heard).toEqual(message);

    expect(await closedWithin(Promise.all([first.close(), second.close()]).then(() => undefined))).toBe('closed');
    expect(await adapterConnections()).toEqual([]);
  });
});
