/**
 * Peers and their reliability: who is online, what each offers, and the events the
 * paper's metrics are counted from. Every change to an input of the level recomputes
 * it here and tells the peer.
 */
import { sql } from 'kysely';
import type { Blame } from '../shared/blame.ts';
import type { PeerStatus } from '../shared/protocol.ts';
import { reliability, RELIABILITY_WINDOW_MS, type Reliability, type ReliabilityMetrics } from '../shared/reliability.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { PeerEventKind, PeerRow } from './db/schema.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Sessions } from './sessions.ts';
import { freeSpace } from './space-ledger.ts';

/** Events older than this are pruned; the level only looks at the last 24 hours. */
const EVENT_RETENTION_MS = 7 * RELIABILITY_WINDOW_MS;

export interface PeerMetrics {
  capacity: number;
  disconnections: number;
  rejections: number;
  integrityFailures: number;
}

interface Deps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  sessions: Sessions;
  metrics: Metrics;
}

export class Peers {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #sessions: Sessions;
  readonly #metrics: Metrics;

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#metrics = deps.metrics;
  }

  /** A peer proved its identity: create it the first time, mark it online, count the connection. */
  async connected(peerId: string, publicKey: string, address: string): Promise<void> {
    const now = this.#clock.now();
    const initial = reliability({ capacity: 0, disconnections: 0, rejections: 0 }, this.#config.thresholds);
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('peers')
        .values({
          id: peerId,
          public_key: publicKey,
          last_address: address,
          first_seen: now,
          last_seen: now,
          online: 1,
          capacity: 0,
          reported_used: 0,
          bytes_used: 0,
          bytes_reserved: 0,
          ...initial,
        })
        .onConflict((oc) => oc.column('id').doUpdateSet({ online: 1, last_seen: now, last_address: address }))
        .execute();
      await trx.insertInto('peer_events').values({ peer_id: peerId, kind: 'connect', at: now, detail: null }).execute();
    });
    await this.refresh(peerId);
  }

  /** The peer's connection is lost (closed tab, network gone, heartbeat timeout). */
  async disconnected(peerId: string, reason: string): Promise<void> {
    const now = this.#clock.now();
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('peers').set({ online: 0, last_seen: now }).where('id', '=', peerId).execute();
      await trx.insertInto('peer_events').values({ peer_id: peerId, kind: 'disconnect', at: now, detail: reason.slice(0, 200) }).execute();
    });
    await this.refresh(peerId);
  }

  async reported(peerId: string, capacity: number, used: number): Promise<PeerStatus> {
    await this.#db.updateTable('peers').set({ capacity, reported_used: used, last_seen: this.#clock.now() }).where('id', '=', peerId).execute();
    return this.refresh(peerId);
  }

  /** Counts what a transfer's end was blamed on (shared/blame.ts) and recomputes those levels. */
  async blamed(blames: readonly Blame[], fileId: string): Promise<void> {
    for (const blame of blames) {
      await this.#addEvent(blame.peerId, blame.kind, `${blame.reason} (file ${fileId})`);
      if (blame.kind === 'rejection') {
        this.#metrics.rejections.inc();
        this.#log.info({ event: 'rejection', peerId: blame.peerId, reason: blame.reason, fileId }, 'storage request rejected');
      } else {
        this.#metrics.integrityFailures.inc();
        this.#log.warn({ event: 'integrity_failure', peerId: blame.peerId, reason: blame.reason, fileId }, 'integrity failure');
      }
      await this.refresh(blame.peerId);
    }
  }

  async #addEvent(peerId: string, kind: PeerEventKind, detail: string): Promise<void> {
    await this.#db.insertInto('peer_events').values({ peer_id: peerId, kind, at: this.#clock.now(), detail: detail.slice(0, 200) }).execute();
  }

  async metrics(peerId: string, capacity: number): Promise<PeerMetrics> {
    const since = this.#clock.now() - RELIABILITY_WINDOW_MS;
    const rows = await this.#db
      .selectFrom('peer_events')
      .select(['kind', (eb) => eb.fn.countAll<number>().as('count')])
      .where('peer_id', '=', peerId)
      .where('at', '>', since)
      .groupBy('kind')
      .execute();
    const count = (kind: PeerEventKind) => Number(rows.find((row) => row.kind === kind)?.count ?? 0);
    return {
      capacity,
      disconnections: count('disconnect'),
      rejections: count('rejection'),
      integrityFailures: count('integrity_failure'),
    };
  }

  /** What the level is computed from: corrupt data served counts against availability like a refusal. */
  #levelInputs(metrics: PeerMetrics): ReliabilityMetrics {
    return { capacity: metrics.capacity, disconnections: metrics.disconnections, rejections: metrics.rejections + metrics.integrityFailures };
  }

  /**
   * Recomputes the peer's scores and level from its current inputs, stores them when they
   * changed, and tells the peer its status. Returns that status.
   */
  async refresh(peerId: string): Promise<PeerStatus> {
    const peer = await this.#db.selectFrom('peers').selectAll().where('id', '=', peerId).executeTakeFirstOrThrow();
    const metrics = await this.metrics(peerId, peer.capacity);
    const next = reliability(this.#levelInputs(metrics), this.#config.thresholds);
    if (!sameReliability(peer, next)) {
      await this.#db.updateTable('peers').set(next).where('id', '=', peerId).execute();
      this.#log.info({ event: 'level', peerId, from: peer.level, to: next.level, ...next }, 'reliability changed');
    }
    const status = toStatus({ ...peer, ...next }, metrics);
    this.#sessions.emit(peerId, 'peer:status', status);
    return status;
  }

  /**
   * Time alone changes levels (events leave the 24-hour window), so the sweep recomputes
   * every peer whose counts moved, in one grouped query rather than one per peer.
   */
  async refreshAll(): Promise<void> {
    const now = this.#clock.now();
    const since = now - RELIABILITY_WINDOW_MS;
    const peers = await this.#db
      .selectFrom('peers')
      .select(['id', 'capacity', 'level', 'trust', 'dynamism', 'availability'])
      .select((eb) => [
        eb
          .selectFrom('peer_events')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('peer_events.peer_id', '=', 'peers.id')
          .where('peer_events.kind', '=', 'disconnect')
          .where('peer_events.at', '>', since)
          .as('disconnections'),
        eb
          .selectFrom('peer_events')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('peer_events.peer_id', '=', 'peers.id')
          .where('peer_events.kind', 'in', ['rejection', 'integrity_failure'])
          .where('peer_events.at', '>', since)
          .as('rejections'),
      ])
      .execute();
    for (const peer of peers) {
      const next = reliability(
        { capacity: peer.capacity, disconnections: Number(peer.disconnections ?? 0), rejections: Number(peer.rejections ?? 0) },
        this.#config.thresholds,
      );
      if (!sameReliability(peer, next)) await this.refresh(peer.id);
    }
    await this.#db.deleteFrom('peer_events').where('at', '<', now - EVENT_RETENTION_MS).execute();
  }

  async status(peerId: string): Promise<PeerStatus> {
    const peer = await this.#db.selectFrom('peers').selectAll().where('id', '=', peerId).executeTakeFirstOrThrow();
    return toStatus(peer, await this.metrics(peerId, peer.capacity));
  }

  /** At start nobody is connected yet, whatever the database says from before a crash. */
  async markAllOffline(): Promise<void> {
    // They were there until the tracker stopped, as far as anyone knows: the repair grace
    // counts from now, so a restart never makes healthy replicas look long gone.
    await this.#db.updateTable('peers').set({ online: 0, last_seen: this.#clock.now() }).where('online', '=', 1).execute();
  }

  async onlineCount(): Promise<number> {
    const row = await this.#db.selectFrom('peers').select(sql<number>`count(*)`.as('n')).where('online', '=', 1).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function sameReliability(peer: Pick<PeerRow, 'level' | 'trust' | 'dynamism' | 'availability'>, next: Reliability): boolean {
  return peer.level === next.level && peer.trust === next.trust && peer.dynamism === next.dynamism && peer.availability === next.availability;
}

export function toStatus(peer: PeerRow, metrics: PeerMetrics): PeerStatus {
  return {
    id: peer.id,
    level: peer.level,
    scores: { trust: peer.trust, dynamism: peer.dynamism, availability: peer.availability },
    metrics: { capacity: peer.capacity, disconnections: metrics.disconnections, rejections: metrics.rejections, integrityFailures: metrics.integrityFailures },
    used: peer.bytes_used,
    reserved: peer.bytes_reserved,
    free: freeSpace(peer),
  };
}
