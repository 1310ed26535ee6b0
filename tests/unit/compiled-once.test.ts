import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { compiledOnce, type Slots } from '../../server/db/compiled-once.ts';

interface Notes {
  notes: { id: number; owner: string; text: string; kind: string };
}

/** A real in-memory SQLite with a few notes of two owners. */
async function notesDatabase(): Promise<Kysely<Notes>> {
  const db = new Kysely<Notes>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
  await sql`create table notes (id integer primary key, owner text not null, text text not null, kind text not null)`.execute(db);
  await db
    .insertInto('notes')
    .values([
      { id: 1, owner: 'ann', text: 'one', kind: 'memo' },
      { id: 2, owner: 'bob', text: 'two', kind: 'memo' },
      { id: 3, owner: 'ann', text: 'three', kind: 'list' },
      { id: 4, owner: 'ann', text: 'four', kind: 'memo' },
    ])
    .execute();
  return db;
}

describe('queries compiled once', () => {
  const opened: Kysely<Notes>[] = [];
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.destroy();
  });
  async function open(): Promise<Kysely<Notes>> {
    const db = await notesDatabase();
    opened.push(db);
    return db;
  }

  it('builds the query once and runs it with new values each time, keeping the values built in', async () => {
    const db = await open();
    let built = 0;
    const memosOf = compiledOnce((db: Kysely<Notes>, slots: Slots<{ owner: string; after: number }>) => {
      built++;
      return db.selectFrom('notes').select('text').where('owner', '=', slots.owner).where('kind', '=', 'memo').where('id', '>', slots.after).orderBy('id').limit(10);
    });
    const texts = async (owner: string, after: number) => (await db.executeQuery(memosOf(db, { owner, after }))).rows.map((row) => row.text);
    expect(await texts('ann', 0)).toEqual(['one', 'four']);
    expect(await texts('bob', 0)).toEqual(['two']);
    expect(await texts('ann', 1)).toEqual(['four']);
    expect(await texts('carol', 0)).toEqual([]);
    expect(built).toBe(1);
    // The same text each time: the database prepares it once.
    expect(memosOf(db, { owner: 'x', after: 0 }).sql).toBe(memosOf(db, { owner: 'y', after: 5 }).sql);
    expect(memosOf(db, { owner: 'x', after: 5 }).parameters).toEqual(['x', 'memo', 5, 10]);
  });

  it('compiles for each database it runs on', async () => {
    const [first, second] = [await open(), await open()];
    let built = 0;
    const textOf = compiledOnce((db: Kysely<Notes>, slots: Slots<{ id: number }>) => {
      built++;
      return db.selectFrom('notes').select('text').where('id', '=', slots.id);
    });
    await second.updateTable('notes').set({ text: 'changed' }).where('id', '=', 2).execute();
    expect((await first.executeQuery(textOf(first, { id: 2 }))).rows).toEqual([{ text: 'two' }]);
    expect((await second.executeQuery(textOf(second, { id: 2 }))).rows).toEqual([{ text: 'changed' }]);
    expect((await first.executeQuery(textOf(first, { id: 3 }))).rows).toEqual([{ text: 'three' }]);
    expect(built).toBe(2);
  });

  it("compiles once for a database and its transactions, which see their own writes", async () => {
    const db = await open();
    let built = 0;
    const textOf = compiledOnce((db: Kysely<Notes>, slots: Slots<{ id: number }>) => {
      built++;
      return db.selectFrom('notes').select('text').where('id', '=', slots.id);
    });
    expect((await db.executeQuery(textOf(db, { id: 1 }))).rows).toEqual([{ text: 'one' }]);
    const inside = await db.transaction().execute(async (trx) => {
      await trx.updateTable('notes').set({ text: 'uno' }).where('id', '=', 1).execute();
      return (await trx.executeQuery(textOf(trx, { id: 1 }))).rows;
    });
    expect(inside).toEqual([{ text: 'uno' }]);
    expect(built).toBe(1);
  });

  it('refuses a value that does not reach the parameters, rather than run a query that ignores it', async () => {
    const db = await open();
    const unused = compiledOnce((db: Kysely<Notes>, slots: Slots<{ owner: string; kind: string }>) => {
      void slots.kind;
      return db.selectFrom('notes').select('text').where('owner', '=', slots.owner);
    });
    expect(() => unused(db, { owner: 'ann', kind: 'memo' })).toThrow(/kind did not reach the query's parameters/);
    const written = compiledOnce((db: Kysely<Notes>, slots: Slots<{ kind: string }>) => db.selectFrom('notes').select('text').where('kind', '=', sql.lit(slots.kind)));
    expect(() => written(db, { kind: 'memo' })).toThrow();
  });
});
