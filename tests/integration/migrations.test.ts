/**
 * The schema on both databases: several trackers starting together on one new database run
 * each migration once, and the columns and constraints mean the same on SQLite and on
 * PostgreSQL (64-bit sizes and times, counts as numbers, the same CHECKs and foreign keys).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES, migrate, type OpenedDatabase } from '../../server/db/database.ts';
import type { NewPeer } from '../../server/db/schema.ts';
import { GiB } from '../../shared/units.ts';
import { createTestDatabase, expectSound, openTestDatabase, type TestDatabase } from '../support/test-database.ts';

let dir: string;
let database: TestDatabase;
let opened: OpenedDatabase | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-migrations-'));
});
afterEach(async () => {
  await opened?.close();
  opened = undefined;
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

const TiB = 1024 * GiB;

const peer = (id: string, values: Partial<NewPeer> = {}): NewPeer => ({
  id,
  public_key: `key-${id}`,
  last_address: null,
  first_seen: 0,
  last_seen: 0,
  online: 0,
  capacity: 0,
  reported_used: 0,
  bytes_used: 0,
  bytes_reserved: 0,
  level: 1,
  trust: 1,
  dynamism: 1,
  availability: 1,
  ...values,
});

describe('migrations', () => {
  it('run once when four trackers start together on one new database', async () => {
    database = await createTestDatabase(dir, { empty: true });
    const { DB_PATH: _path, DATABASE_URL: _url, ...inherited } = process.env;
    const children = [0, 1, 2, 3].map(() =>
      spawn(process.execPath, ['--import', 'tsx', 'tests/support/migrating-process.ts'], { env: { ...inherited, ...database.env }, stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    const outputs = children.map((child) => createInterface({ input: child.stdout! })[Symbol.asyncIterator]());
    const line = async (output: AsyncIterator<string>) => {
      const next = await output.next();
      if (next.done) throw new Error('the migrating process exited early');
      return next.value;
    };
    // All loaded and connected, then released at once.
    expect(await Promise.all(outputs.map(line))).toEqual(['ready', 'ready', 'ready', 'ready']);
    for (const child of children) child.stdin!.write('go\n');
    const ran = (await Promise.all(outputs.map(line))).map((text) => JSON.parse(text) as string[]);
    const codes = await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)))));
    expect(codes).toEqual([0, 0, 0, 0]);
    // Each migration ran in exactly one of them; the others found nothing left to do.
    expect(ran.flat().sort()).toEqual(MIGRATION_NAMES);
    opened = openTestDatabase(database);
    const recorded = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(opened.db);
    expect(recorded.rows.map((row) => row.name)).toEqual(MIGRATION_NAMES);
    await expectSound(opened);
    // Four Node processes starting at once take a while on a busy two-core machine.
  }, 120_000);

  it('keeps 64-bit sizes and times exact, and answers counts and sums as numbers', async () => {
    database = await createTestDatabase(dir);
    opened = openTestDatabase(database);
    await migrate(opened.db);
    const { db } = opened;
    const big = Number.MAX_SAFE_INTEGER; // the largest byte count the protocol accepts
    const now = Date.UTC(2100, 0, 1);
    await db.insertInto('peers').values([peer('a', { capacity: big, last_seen: now }), peer('b', { capacity: 5 * TiB, bytes_used: 3 * TiB })]).execute();
    await db.insertInto('files').values({ id: 'f', owner_id: 'a', name: 'huge', size: big, sha256: null, chunk_size: 16_777_216, chunk_count: Math.ceil(big / 16_777_216), stored_bytes: big, fragment_bytes: big, replicas_wanted: 1, created_at: now, state: 'uploading', interrupted_at: now, repaired_at: null }).execute();
    expect(await db.selectFrom('peers').select(['id', 'capacity', 'last_seen', 'bytes_used']).orderBy('id').execute()).toEqual([
      { id: 'a', capacity: big, last_seen: now, bytes_used: 0 },
      { id: 'b', capacity: 5 * TiB, last_seen: 0, bytes_used: 3 * TiB },
    ]);
    expect(await db.selectFrom('files').select(['size', 'chunk_count', 'stored_bytes', 'created_at']).executeTakeFirst()).toEqual({ size: big, chunk_count: Math.ceil(big / 16_777_216), stored_bytes: big, created_at: now });
    const totals = await db
      .selectFrom('peers')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('bytes_used').as('used'), eb.fn.max('capacity').as('largest')])
      .executeTakeFirstOrThrow();
    expect(totals).toEqual({ n: 2, used: 3 * TiB, largest: big });
    const event = await db.insertInto('peer_events').values({ peer_id: 'a', kind: 'connect', at: now, detail: null }).returning('id').executeTakeFirstOrThrow();
    expect(typeof event.id).toBe('number');
  });

  it('refuses what the schema forbids, the same way on both databases', async () => {
    database = await createTestDatabase(dir);
    opened = openTestDatabase(database);
    await migrate(opened.db);
    const { db } = opened;
    await db.insertInto('peers').values(peer('a')).execute();
    const refused = [
      db.insertInto('peers').values(peer('b', { level: 6 })),
      db.insertInto('peers').values(peer('c', { online: 2 })),
      db.insertInto('peers').values(peer('d', { public_key: 'key-a' })),
      db.updateTable('peers').set({ bytes_reserved: -1 }).where('id', '=', 'a'),
      db.insertInto('peer_events').values({ peer_id: 'nobody', kind: 'connect', at: 0, detail: null }),
      db.insertInto('peer_events').values({ peer_id: 'a', kind: 'teleport' as 'connect', at: 0, detail: null }),
      db.insertInto('replicas').values({ file_id: 'no-such-file', host_id: 'a', state: 'reserved', bytes: 1, sha256: null, created_at: 0, stored_at: null }),
    ];
    for (const query of refused) await expect(query.execute(), query.compile().sql).rejects.toThrow(/constraint/i);
    expect(await db.selectFrom('peers').select('id').execute()).toEqual([{ id: 'a' }]);
    // Deleting a peer's events with it: the one cascade a peer has.
    await db.insertInto('peer_events').values({ peer_id: 'a', kind: 'connect', at: 0, detail: null }).execute();
    await db.deleteFrom('peers').where('id', '=', 'a').execute();
    expect(await db.selectFrom('peer_events').selectAll().execute()).toEqual([]);
  });
});
