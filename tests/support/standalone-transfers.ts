/**
 * A tracker's Transfers on a pool of its own, without its sockets: what a second tracker on the
 * same database would do with the same transfers, for tests of endings that race between
 * trackers. Every owner is taken for online, so that ended stores release their reservations.
 */
import { Audits } from '../../server/audits.ts';
import { openDatabase, type OpenedDatabase } from '../../server/db/database.ts';
import type { Db } from '../../server/db/database.ts';
import { TrackerEvents, type TransferEnded } from '../../server/events.ts';
import { silentLogger } from '../../server/logger.ts';
import { Metrics } from '../../server/metrics.ts';
import { Sessions } from '../../server/sessions.ts';
import { Transfers } from '../../server/transfers.ts';
import { afterEach, beforeEach } from 'vitest';
import { GiB } from '../../shared/units.ts';
import { NodePeer } from './node-peer.ts';
import { startTracker, type RunningTracker } from './tracker-harness.ts';

export interface StandaloneTransfers {
  transfers: Transfers;
  /** Every transfer it ended, in order. */
  endings: TransferEnded[];
  /** How many each of its `transfers:ended` events carried. */
  batches: number[];
}

/** Opens the pool (added to `pools`, for the caller to close) and wires a Transfers on it. */
export function standaloneTransfers(t: RunningTracker, pools: OpenedDatabase[]): StandaloneTransfers {
  const pool = openDatabase(t.config, { log: silentLogger });
  pools.push(pool);
  const sessions = new (class extends Sessions {
    override async isOnline(): Promise<boolean> {
      return true;
    }
  })();
  const events = new TrackerEvents();
  const metrics = new Metrics();
  const deps = { db: pool.db, clock: t.clock, config: t.config, log: silentLogger, sessions, metrics, events };
  const transfers = new Transfers({ ...deps, audits: new Audits(deps) });
  const endings: TransferEnded[] = [];
  const batches: number[] = [];
  events.on('transfers:ended', ({ endings: ended }) => {
    endings.push(...ended);
    batches.push(ended.length);
  });
  return { transfers, endings, batches };
}

/** The bytes a host has promised to uploads under way (its `bytes_reserved`). */
export async function reservedBytes(db: Db, hostId: string): Promise<number> {
  const row = await db.selectFrom('peers').select('bytes_reserved').where('id', '=', hostId).executeTakeFirstOrThrow();
  return Number(row.bytes_reserved);
}

/**
 * The endings tests' cloud: a tracker started before each test with `env`, Node peers that join
 * it, and standalone Transfers on pools of their own; all of them stopped after each test.
 */
export function endingsCloud(env: Record<string, string>) {
  let tracker: RunningTracker | undefined;
  const peers: NodePeer[] = [];
  const pools: OpenedDatabase[] = [];
  beforeEach(async () => {
    tracker = await startTracker(env);
  });
  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.disconnect();
    for (const pool of pools.splice(0)) await pool.close();
    await tracker?.stop();
    tracker = undefined;
  });
  const cloud = {
    get t(): RunningTracker {
      if (!tracker) throw new Error('The endings cloud runs only inside a test.');
      return tracker;
    },
    async join(capacity = GiB): Promise<NodePeer> {
      const peer = await NodePeer.join(cloud.t.url, capacity);
      peers.push(peer);
      return peer;
    },
    standalone: () => standaloneTransfers(cloud.t, pools),
    reserved: (hostId: string) => reservedBytes(cloud.t.database.db, hostId),
  };
  return cloud;
}
