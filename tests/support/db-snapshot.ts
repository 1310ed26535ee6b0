import type SQLite from 'better-sqlite3';

/** Every row of the tracker's tables, to show that a refused request changed nothing. */
export function snapshot(sqlite: SQLite.Database): Record<string, unknown[]> {
  const tables = ['peers', 'files', 'replicas', 'transfers', 'peer_events'];
  return Object.fromEntries(tables.map((table) => [table, sqlite.prepare(`select * from ${table} order by rowid`).all()]));
}
