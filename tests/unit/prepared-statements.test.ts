import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withPreparedStatements } from '../../server/db/prepared-statements.ts';

/** A real in-memory SQLite, counting what it is asked to prepare. */
function countingDatabase() {
  const sqlite = new SQLite(':memory:');
  const prepared: string[] = [];
  const database = {
    prepare: (text: string) => {
      prepared.push(text);
      return sqlite.prepare(text);
    },
    close: () => sqlite.close(),
  };
  return { sqlite, database, prepared };
}

describe('prepared statements kept for Kysely', () => {
  const opened: { close(): void }[] = [];
  afterEach(() => {
    for (const database of opened.splice(0)) database.close();
  });

  it('prepares a query once and runs it again with other values, with the right answers', async () => {
    const { database, prepared } = countingDatabase();
    const db = new Kysely<{ notes: { id: number; text: string } }>({ dialect: new SqliteDialect({ database: withPreparedStatements(database) }) });
    await sql`create table notes (id integer primary key, text text not null)`.execute(db);
    for (let id = 1; id <= 5; id++) await db.insertInto('notes').values({ id, text: `note ${id}` }).execute();
    const texts = [];
    for (let id = 1; id <= 5; id++) texts.push((await db.selectFrom('notes').select('text').where('id', '=', id).executeTakeFirstOrThrow()).text);
    expect(texts).toEqual(['note 1', 'note 2', 'note 3', 'note 4', 'note 5']);
    // One create, one insert, one select: each text prepared once though run five times.
    expect(prepared).toHaveLength(3);
    await db.destroy();
  });

  it('keeps at most `limit` statements, dropping the least recently used', () => {
    const { database, prepared } = countingDatabase();
    const kept = withPreparedStatements(database, 2);
    opened.push(kept);
    kept.prepare('select 1');
    kept.prepare('select 2');
    kept.prepare('select 1'); // used again: now the most recent
    kept.prepare('select 3'); // drops "select 2"
    kept.prepare('select 1');
    kept.prepare('select 2');
    expect(prepared).toEqual(['select 1', 'select 2', 'select 3', 'select 2']);
  });

  it('hands back the same statement for the same text, and closes the database', () => {
    const { sqlite, database } = countingDatabase();
    const kept = withPreparedStatements(database);
    expect(kept.prepare('select 1')).toBe(kept.prepare('select 1'));
    kept.close();
    expect(sqlite.open).toBe(false);
  });
});
