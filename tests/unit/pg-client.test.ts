import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgClients } from '../../server/db/pg-client.ts';

/** A stand-in for a pooled pg client: records what it is asked to run. */
function recording() {
  const sent: { name?: string; text: string; values: unknown[] }[] = [];
  const released: (boolean | undefined)[] = [];
  const client = {
    query: async (config: { name?: string; text: string; values: unknown[] }) => (sent.push(config), { command: 'SELECT', rowCount: 0, rows: [] }),
    release: (destroy?: boolean) => void released.push(destroy),
  } as unknown as pg.PoolClient;
  return { client, sent, released };
}

describe('pgClients', () => {
  it('replaces NUL in every bound string and leaves other values alone', async () => {
    const { client, sent } = recording();
    await pgClients()(client).query('update t set a = $1, b = $2, c = $3', ['disk\u0000full', 'plain', 7]);
    expect(sent[0]!.values).toEqual(['disk\uFFFDfull', 'plain', 7]);
  });

  it('names a statement with parameters by its text, the same name on every client of the pool, and none without parameters', async () => {
    const first = recording();
    const second = recording();
    const wrap = pgClients();
    await wrap(first.client).query('select $1', [1]);
    await wrap(first.client).query('select $1, $2', [1, 2]);
    await wrap(second.client).query('select $1', [3]);
    await wrap(second.client).query('begin', []);
    expect(first.sent.map((s) => s.name)).toEqual(['peercloud_1', 'peercloud_2']);
    expect(second.sent.map((s) => s.name)).toEqual(['peercloud_1', undefined]);
    // Another pool names its own statements.
    const other = recording();
    await pgClients()(other.client).query('select $1, $2', [1, 2]);
    expect(other.sent[0]!.name).toBe('peercloud_1');
  });

  it('sends texts unnamed once a thousand are named', async () => {
    const { client, sent } = recording();
    const wrapped = pgClients()(client);
    for (let n = 0; n < 1_001; n++) await wrapped.query(`select $1 as c${n}`, [n]);
    await wrapped.query('select $1 as c0', [0]);
    expect(sent[999]!.name).toBe('peercloud_1000');
    expect(sent[1_000]!.name).toBeUndefined();
    expect(sent[1_001]!.name).toBe('peercloud_1');
  });

  it('passes release on', () => {
    const { client, released } = recording();
    pgClients()(client).release(true);
    expect(released).toEqual([true]);
  });
});
