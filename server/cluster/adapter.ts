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
  io.adapter(
    createAdapter(pool, {
      heartbeatInterval: options.heartbeatMs,
      heartbeatTimeout: options.timeoutMs,
      errorHandler: (error: Error) => options.log.warn({ err: error, event: 'adapter_error' }, 'the Socket.IO adapter could not publish or receive'),
    }),
  );
  return () => pool.end();
}

/** The room every connection of a peer joins, on whichever tracker. */
export function peerRoom(peerId: string): string {
  return `peer:${peerId}`;
}
