/**
 * New identities cost nothing to make, so a network may create only NEW_PEERS_PER_NETWORK of
 * them an hour (a key seen before is always welcome back). Peers on the tracker's own LAN have
 * no network (shared/network.ts) and no such limit.
 */
import type { ExtendedError } from 'socket.io';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';
import type { TrackerSocket } from '../sessions.ts';

const HOUR_MS = 3_600_000;

export function limitNewIdentities(db: Db, clock: Clock, perHour: number) {
  return async (socket: TrackerSocket, next: (error?: ExtendedError) => void): Promise<void> => {
    try {
      const network = socket.data.network;
      if (network === null) return next();
      const known = await db.selectFrom('peers').select('id').where('id', '=', socket.data.peerId).executeTakeFirst();
      if (known) return next();
      const recent = await db
        .selectFrom('peers')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('network', '=', network)
        .where('first_seen', '>', clock.now() - HOUR_MS)
        .executeTakeFirstOrThrow();
      if (Number(recent.n) < perHour) return next();
      const error: ExtendedError = new Error('Too many new identities from your network in the last hour. Try again later, or keep using the one you have.');
      error.data = { code: 'RATE_LIMITED', message: error.message };
      next(error);
    } catch (error) {
      next(error as Error);
    }
  };
}
