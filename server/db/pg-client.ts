/**
 * The pooled PostgreSQL client as Kysely uses it: what the tracker needs of every statement it
 * sends, done to the statement as it is sent, whatever built it.
 *
 * NUL: PostgreSQL's text cannot hold the NUL character (SQLite's can): a string with one fails
 * its whole statement ("invalid byte sequence for encoding UTF8: 0x00"). The only free text the
 * tracker stores comes from peers (why a transfer failed or was refused), so rather than let a
 * peer's stray NUL turn its request into an INTERNAL error, every string bound to a statement
 * has its NULs replaced by U+FFFD, the replacement character, on PostgreSQL only. (A Kysely
 * plugin rewriting each query's tree did the same before, rebuilding every node of every
 * statement: about a fifth of Kysely's time in a CPU profile of the two-tracker bench.)
 *
 * Prepared: the tracker sends the same few dozen statements thousands of times a second, and
 * PostgreSQL parsed and planned each one anew. A statement with parameters is sent as a named
 * prepared statement instead (one name per text, for the whole process; each connection
 * prepares it the first time it sends it), so PostgreSQL parses it once per connection and
 * may keep its plan (plan_cache_mode's default: a generic plan only when it costs no more
 * than the custom ones). Texts past PREPARED_MAX are sent unnamed, as before, so that a
 * statement built with a varying number of parameters cannot grow every connection's cache
 * without end.
 */
import type { PostgresCursor, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';

const PREPARED_MAX = 1_000;

/** A string with its NULs replaced (see above); anything else as it is. */
export const withoutNul = (value: unknown) => (typeof value === 'string' && value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value);

/** Wraps a pool's clients; one per pool (its statement names are the pool's). */
export function pgClients(): (client: pg.PoolClient) => PostgresPoolClient {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < PREPARED_MAX) names.set(text, (name = `peercloud_${names.size + 1}`));
    return name;
  };
  return (client) => {
    function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
    function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
    function query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
      // Kysely streams through a cursor only when asked to (the tracker never does): passed on as it is.
      if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as unknown as pg.Submittable) as unknown as PostgresCursor<R>;
      const values = parameters?.map(withoutNul) ?? [];
      // Without parameters (begin, commit) the simple protocol is one message: left so.
      const name = values.length > 0 ? nameOf(sqlOrCursor) : undefined;
      return client.query(name ? { name, text: sqlOrCursor, values } : { text: sqlOrCursor, values }) as unknown as Promise<PostgresQueryResult<R>>;
    }
    return { query, release: (destroy?: boolean) => client.release(destroy) };
  };
}
