/**
 * The sweep's lease: expiries, audits, repairs and level changes are decided by one tracker of
 * the cloud at a time, never by two. On PostgreSQL that tracker holds a session-level advisory
 * lock (`pg_try_advisory_lock`) on a connection of its own: the lock lives exactly as long as
 * that connection, so when its tracker dies (even by `kill -9`) the server ends the session and
 * another tracker takes the lock at its next sweep. Nothing to expire by hand, no clock to
 * trust. The connection asks the server for TCP keepalives, so that a holder whose machine
 * vanished without closing its socket is noticed within about LEASE_KEEPALIVE_S seconds too.
 * On SQLite there is one tracker, which always holds it.
 */
import pg from 'pg';
import type { Logger } from '../logger.ts';

export interface Lease {
  /** True when this tracker holds the lease now (taking it if it is free). */
  held(): Promise<boolean>;
  /** Whether it was held at the last check, for /metrics. */
  readonly holding: boolean;
  release(): Promise<void>;
}

/** One tracker on its own database: the lease is always its own. */
export const soleLease: Lease = { held: async () => true, holding: true, release: async () => {} };

/** The advisory lock's key: "pcsweep" in ASCII, a number no other program on this database uses. */
const SWEEP_LOCK = 0x70_63_73_77_65_65_70n;
/** Idle seconds, probe interval and probe count: a vanished holder is noticed in about 5 + 2 × 3 s. */
const KEEPALIVE = { idle: 5, interval: 2, count: 3 };
export const LEASE_KEEPALIVE_S = KEEPALIVE.idle + KEEPALIVE.interval * KEEPALIVE.count;

export class AdvisoryLease implements Lease {
  #client: pg.Client | undefined;
  #holding = false;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  get holding(): boolean {
    return this.#holding;
  }

  async held(): Promise<boolean> {
    try {
      const client = this.#client ?? (await this.#connect());
      if (this.#holding) {
        // Still ours as long as the session is: a query that answers proves it.
        await client.query('select 1');
        return true;
      }
      const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [SWEEP_LOCK.toString()]);
      this.#holding = result.rows[0]?.locked === true;
      if (this.#holding) this.log.info({ event: 'lease', held: true }, 'this tracker now runs the sweep for the cloud');
      return this.#holding;
    } catch (error) {
      this.#drop();
      throw error;
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'peercloud-sweep-lease', keepAlive: true });
    client.on('error', (error) => {
      this.log.warn({ err: error, event: 'lease_connection_lost' }, 'the sweep lease connection was lost');
      this.#drop();
    });
    await client.connect();
    await client.query(`set tcp_keepalives_idle = ${KEEPALIVE.idle}; set tcp_keepalives_interval = ${KEEPALIVE.interval}; set tcp_keepalives_count = ${KEEPALIVE.count}`);
    this.#client = client;
    return client;
  }

  #drop(): void {
    if (this.#holding) this.log.warn({ event: 'lease', held: false }, 'this tracker no longer runs the sweep');
    this.#holding = false;
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => undefined);
  }

  async release(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#holding = false;
    // Ending the session releases the lock.
    await client?.end().catch(() => undefined);
  }
}
