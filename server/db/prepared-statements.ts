/**
 * The SQLite database as Kysely sees it, with each statement prepared once. Kysely's SQLite
 * driver calls `prepare` for every query it runs, and compiling SQL is not free: in a CPU profile
 * of one tracker holding 10,000 peers (docs/BENCHMARKS.md, "Many trackers: where the time goes")
 * better-sqlite3's `prepare` took 3.5 s of the tracker's 24 s of work, more than half of what the
 * statements themselves took to run. Kysely sends values as parameters, never inlined in the SQL,
 * so the same query is the same text each time and its prepared statement can be run again.
 *
 * Bounded: a list of values (`in (?, ?, …)`) makes a text per length, so the least recently used
 * statements are dropped past `limit` (the collector finalizes them). A statement is only ever
 * run whole (`all` or `run`) between two awaits, or iterated by one stream holding Kysely's single
 * connection, so no two uses of one statement overlap.
 */

/** What Kysely's SqliteDialect needs of a database (better-sqlite3's `Database` has it). */
export interface PreparingDatabase<Statement> {
  prepare(sql: string): Statement;
  close(): void;
}

export const PREPARED_STATEMENTS_KEPT = 256;

export function withPreparedStatements<Statement>(database: PreparingDatabase<Statement>, limit = PREPARED_STATEMENTS_KEPT): PreparingDatabase<Statement> {
  const kept = new Map<string, Statement>();
  return {
    prepare(sql) {
      const statement = kept.get(sql);
      if (statement !== undefined) {
        // Most recently used last: a Map iterates in insertion order, so the first is the one to drop.
        kept.delete(sql);
        kept.set(sql, statement);
        return statement;
      }
      const prepared = database.prepare(sql);
      kept.set(sql, prepared);
      if (kept.size > limit) kept.delete(kept.keys().next().value!);
      return prepared;
    },
    close() {
      kept.clear();
      database.close();
    },
  };
}
