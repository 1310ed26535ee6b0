/**
 * Socket.IO's PostgreSQL adapter (`@socket.io/postgres-adapter`): what one tracker's Socket.IO
 * publishes (a peer's room closed on another tracker, a delivery between trackers) reaches the
 * others through NOTIFY on the cloud's own database; nothing else to run. It gets a small pool
 * of its own (one connection listens for good, the others publish), apart from the services'.
 * Messages over NOTIFY's 8000 bytes go through its `socket_io_attachments` table (migration 0004).
 */
import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { TrackerServer } from '../sessions.ts';

const ADAPTER_CONNECTIONS = 4;

/** Attaches the adapter to `io`; returns what closes its pool once `io` is closed. */
export function attachPostgresAdapter(io: TrackerServer, url: string, options: { heartbeatMs: number; timeoutMs: number; log: Logger }): () => Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: ADAPTER_CONNECTIONS, application_name: 'peercloud-adapter' });
  pool.on('error', (error) => options.log.warn({ err: error, event: 'adapter_connection_lost' }, 'a Socket.IO adapter connection was closed'));
  const subscriber = new SubscriberConnections(pool, options.log);
  io.adapter(
    createAdapter(subscriber.pool, {
      heartbeatInterval: options.heartbeatMs,
      heartbeatTimeout: options.timeoutMs,
      errorHandler: (error: Error) => options.log.warn({ err: error, event: 'adapter_error' }, 'the Socket.IO adapter could not publish or receive'),
    }),
  );
  return async () => {
    await subscriber.close();
    await pool.end();
  };
}

/**
 * The pool as the adapter sees it, owning the connection it LISTENs on. The adapter (0.5) takes
 * that connection with `pool.connect()` as it starts and after each loss, and gives it back only
 * if it holds it when closed: a tracker closed while the connection was still being opened (a
 * test's tracker stopped right after it listened) kept it checked out, and `pool.end()` waited
 * for it forever. A lost connection was never given back either (a pool slot gone each time),
 * and its 'error' had no listener. Here every connection handed out is known, its loss frees
 * its slot, and closing gives back whatever the adapter still holds; after that, `connect()`
 * never settles, so a reconnection the adapter had scheduled opens nothing.
 */
class SubscriberConnections {
  readonly pool: pg.Pool;
  #closed = false;
  readonly #held = new Set<pg.PoolClient>();
  readonly #connecting = new Set<Promise<unknown>>();

  constructor(
    private readonly real: pg.Pool,
    private readonly log: Logger,
  ) {
    // The adapter calls only these two (util.js of @socket.io/postgres-adapter 0.5; a test closes
    // an adapter at once and after use, so another version that needs more fails there).
    const facade = { connect: () => this.#connect(), query: (text: string, values?: unknown[]) => real.query(text, values) };
    this.pool = facade as unknown as pg.Pool;
  }

  async #connect(): Promise<pg.PoolClient> {
    if (this.#closed) return never();
    const connecting = this.real.connect();
    this.#connecting.add(connecting);
    const client = await connecting.finally(() => this.#connecting.delete(connecting));
    if (this.#closed) {
      client.release();
      return never();
    }
    this.#held.add(client);
    const release = client.release.bind(client);
    client.release = (destroy?: boolean | Error) => {
      this.#held.delete(client);
      release(destroy);
    };
    client.on('error', (error) => this.log.warn({ err: error, event: 'adapter_connection_lost' }, 'the Socket.IO adapter lost its listening connection'));
    // Listeners run in order: the adapter's own 'end' (a reconnection) comes after this one.
    client.on('end', () => {
      if (this.#held.has(client)) client.release(true);
    });
    return client;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#connecting]);
    for (const client of [...this.#held]) {
      // Not the adapter's 'end' listener: it would schedule a reconnection.
      client.removeAllListeners('end');
      client.removeAllListeners('notification');
      // Queries on a connection run in order: once this one answers, a LISTEN the adapter had
      // sent is done, and so is the adapter's own bookkeeping after it.
      await client.query('select 1').catch(() => undefined);
      if (this.#held.has(client)) client.release(true);
    }
  }
}

/** A promise that never settles: what the adapter's late `connect()` gets after closing. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/** The room every connection of a peer joins, on whichever tracker. */
export function peerRoom(peerId: string): string {
  return `peer:${peerId}`;
}
