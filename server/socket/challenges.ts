/**
 * Single-use nonces for the login handshake. A nonce is good once, for a short while: a
 * captured handshake can't be replayed, and a wrong signature burns the nonce too.
 *
 * They live in the database, not in one tracker's memory: behind a load balancer the page's
 * `GET /api/challenge` and its socket may reach two different trackers. Single use is one
 * conditional delete (two trackers offered the same nonce at once: one deletes it, the other
 * finds nothing). Each address holds at most `perAddress` unexpired nonces (its oldest go
 * first), so that asking in a loop costs the database a bounded number of rows per address;
 * expired ones are deleted by the sweep.
 */
import { randomId } from '../../shared/encoding.ts';
import type { Challenge } from '../../shared/protocol.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/database.ts';

export class Challenges {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
    private readonly perAddress = 100,
  ) {}

  async issue(address: string): Promise<Challenge> {
    const now = this.clock.now();
    const nonce = randomId(24);
    const expiresAt = now + this.ttlMs;
    await this.db.insertInto('login_challenges').values({ nonce, address, expires_at: expiresAt }).execute();
    // Beyond the bound, this address's oldest nonces go (only when there are that many: the
    // common case is one select of a handful of index entries).
    const held = await this.db
      .selectFrom('login_challenges')
      .select('nonce')
      .where('address', '=', address)
      .orderBy('expires_at', 'desc')
      .offset(this.perAddress)
      .limit(1000)
      .execute();
    if (held.length > 0) await this.db.deleteFrom('login_challenges').where('nonce', 'in', held.map((row) => row.nonce)).execute();
    return { nonce, expiresAt };
  }

  /** True once for a nonce a tracker of this cloud issued and that has not expired. */
  async consume(nonce: string): Promise<boolean> {
    const deleted = await this.db.deleteFrom('login_challenges').where('nonce', '=', nonce).returning('expires_at').executeTakeFirst();
    return deleted !== undefined && deleted.expires_at > this.clock.now();
  }

  /** The sweep: nonces nobody used. */
  async expire(): Promise<void> {
    await this.db.deleteFrom('login_challenges').where('expires_at', '<=', this.clock.now()).execute();
  }
}
