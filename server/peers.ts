/**
 * Peers and their reliability: who is online, what each offers and has proven, and the events
 * the paper's metrics are counted from. Every change to an input of the level recomputes it
 * here and tells the peer.
 *
 * Trust is the paper's "storage capacity", credited rather than claimed (shared/earned.ts):
 * what the peer offers, up to a newcomer's allowance plus what it has proven it holds. A new
 * identity claiming the moon is therefore credited like any newcomer.
 */
import { sql, type ExpressionBuilder } from 'kysely';
import { auditBlame, type Blame } from '../shared/blame.ts';
import { perTurn } from '../shared/batching.ts';
import { coalescing } from '../shared/coalescing.ts';
import { effectiveCapacity, isVetted } from '../shared/earned.ts';
import type { PeerStatus } from '../shared/protocol.ts';
import { reliability, RELIABILITY_WINDOW_MS, type Reliability, type ReliabilityMetrics } from '../shared/reliability.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import type { AuditRow, Database, PeerEventKind, PeerRow } from './db/schema.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Sessions } from './sessions.ts';
import { creditedSql, freeSpace } from './space-ledger.ts';

/** Events older than this are pruned; the level only looks at the last 24 hours. */
const EVENT_RETENTION_MS = 7 * RELIABILITY_WINDOW_MS;
/** Peers whose proven replicas mature with time are looked at this many per sweep, in turn. */
const MATURING_PER_SWEEP = 200;

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
  /** Where the last sweep looked: events that left the window since then change levels. */
  #lastSweep: number | undefined;
  /** The turn of maturing peers: the last id looked at. */
  #maturingCursor = '';

  constructor(deps: Deps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#config = deps.config;
    this.#log = deps.log;
    this.#sessions = deps.sessions;
    this.#metrics = deps.metrics;
  }

  /**
   * A peer proved its identity: create it the first time, mark it online on this tracker under
   * this connection (its session), count the connection. Says whether the peer was, until now,
   * online on another tracker: that session is over (the same peer moved, or its tracker died).
   */
  async connected(peerId: string, publicKey: string, address: string, network: string | null, session: { trackerId: string; sessionId: string }): Promise<{ elsewhere: boolean }> {
    const now = this.#clock.now();
    const initial = reliability({ capacity: 0, disconnections: 0, rejections: 0 }, this.#config.thresholds);
    const before = await this.#db.transaction().execute(async (trx) => {
      const known = await trx.selectFrom('peers').select(['online', 'tracker_id']).where('id', '=', peerId).executeTakeFirst();
      const where = { online: 1, last_seen: now, last_address: address, network, tracker_id: session.trackerId, session_id: session.sessionId };
      await trx
        .insertInto('peers')
        .values({
          id: peerId,
          public_key: publicKey,
          first_seen: now,
          capacity: 0,
          reported_used: 0,
          bytes_used: 0,
          bytes_reserved: 0,
          ...initial,
          ...where,
        })
        .onConflict((oc) => oc.column('id').doUpdateSet(where))
        .execute();
      await trx.insertInto('peer_events').values({ peer_id: peerId, kind: 'connect', at: now, detail: null }).execute();
      return known;
    });
    await this.refresh(peerId);
    return { elsewhere: before?.online === 1 && before.tracker_id !== null && before.tracker_id !== session.trackerId };
  }

  /**
   * The peer's connection is gone (closed tab, network gone, heartbeat timeout). A disconnection
   * the tracker forced (a flood) is not the peer's loss of connection: it is not counted. Only
   * the peer's current session counts: false, and nothing changes, when a newer connection of
   * the same peer (on another tracker) has already taken over.
   */
  async disconnected(peerId: string, sessionId: string, reason: string, counted = true): Promise<boolean> {
    const now = this.#clock.now();
    const current = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('peers')
        .set({ online: 0, last_seen: now, tracker_id: null, session_id: null })
        .where('id', '=', peerId)
        .where('session_id', '=', sessionId)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return false;
      if (counted) await trx.insertInto('peer_events').values({ peer_id: peerId, kind: 'disconnect', at: now, detail: reason.slice(0, 200) }).execute();
      return true;
    });
    if (current) await this.refresh(peerId);
    return current;
  }

  async reported(peerId: string, capacity: number, used: number): Promise<PeerStatus> {
    // Credited with the offer in the same statement: a host that offers less has less room at once.
    await this.#db
      .updateTable('peers')
      .set({ capacity, credited: creditedSql(capacity, this.#config.earning), reported_used: used, last_seen: this.#clock.now() })
      .where('id', '=', peerId)
      .execute();
    return this.refresh(peerId);
  }

  /** An audit was decided: what it counts against (shared/blame.ts). */
  async auditDecided(audit: AuditRow, verdict: 'passed' | 'wrong' | 'unanswered'): Promise<void> {
    const file = await this.#db.selectFrom('files').select('owner_id').where('id', '=', audit.file_id).executeTakeFirst();
    await this.blamed(auditBlame({ hostId: audit.host_id, purpose: audit.purpose, ownerId: file?.owner_id ?? '' }, verdict), audit.file_id);
    // Proven bytes and audits passed feed trust and vetting.
    if (verdict === 'passed') await this.refresh(audit.host_id);
  }

  /**
   * Counts what a transfer's end or an audit was blamed on (shared/blame.ts) and recomputes
   * those levels. Blame resting on the other peer's word counts once a day per pair.
   */
  async blamed(blames: readonly Blame[], fileId: string): Promise<void> {
    const now = this.#clock.now();
    for (const blame of blames) {
      if (blame.counterpartyId) {
        const already = await this.#db
          .selectFrom('peer_events')
          .select('id')
          .where('peer_id', '=', blame.peerId)
          .where('counterparty_id', '=', blame.counterpartyId)
          .where('kind', '=', blame.kind)
          .where('at', '>', now - RELIABILITY_WINDOW_MS)
          .limit(1)
          .executeTakeFirst();
        if (already) continue;
      }
      await this.#db
        .insertInto('peer_events')
        .values({ peer_id: blame.peerId, kind: blame.kind, at: now, detail: `${blame.reason} (file ${fileId})`.slice(0, 200), counterparty_id: blame.counterpartyId ?? null })
        .execute();
      if (blame.kind === 'rejection') {
        this.#metrics.rejections.inc();
        this.#log.info({ event: 'rejection', peerId: blame.peerId, reason: blame.reason, fileId }, 'broken promise counted');
      } else {
        this.#metrics.integrityFailures.inc();
        this.#log.warn({ event: 'integrity_failure', peerId: blame.peerId, reason: blame.reason, fileId }, 'integrity failure');
      }
      await this.refresh(blame.peerId);
    }
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

  /**
   * Bytes of replicas the peer holds and has proven (its last audit passed, none unanswered
   * since), each counted in proportion to how long it has been held, in full after TRUST_MATURITY:
   * a subquery of a select from `peers`.
   */
  #provenBytesSql(eb: ExpressionBuilder<Database, 'peers'>, now: number) {
    const maturity = this.#config.earning.maturityMs;
    return eb
      .selectFrom('replicas')
      .select(
        maturity <= 0
          ? sql<number>`coalesce(sum(replicas.bytes), 0)`.as('proven')
          : sql<number>`coalesce(sum(case when replicas.stored_at <= ${now - maturity} then replicas.bytes * 1.0 else replicas.bytes * ((${now} - replicas.stored_at) * 1.0 / ${maturity}) end), 0)`.as('proven'),
      )
      .whereRef('replicas.host_id', '=', 'peers.id')
      .where('replicas.state', '=', 'stored')
      .where('replicas.retired_at', 'is', null)
      .where('replicas.suspect_since', 'is', null)
      .where('replicas.proven_at', 'is not', null);
  }

  /**
   * The peer's row with what its level is computed from (its events of the last 24 hours and
   * its proven bytes), in one statement: a refresh follows every change of a host's space (two
   * per fragment placed), and each statement waits for a pooled connection and a turn of the
   * event loop. The refreshes of one turn (a placement's hosts) share one statement
   * (shared/batching.ts).
   */
  async #withInputs(peerId: string): Promise<{ peer: PeerRow; metrics: PeerMetrics; proven: number }> {
    const found = await this.#inputsOf(peerId);
    if (!found) throw new Error(`no such peer: ${peerId}`);
    return found;
  }

  readonly #inputsOf = perTurn(async (peerIds: string[]) => {
    const now = this.#clock.now();
    const since = now - RELIABILITY_WINDOW_MS;
    const rows = await this.#db
      .selectFrom('peers')
      .selectAll('peers')
      .select((eb) => {
        const events = (kind: PeerEventKind) =>
          eb.selectFrom('peer_events').select(eb.fn.countAll<number>().as('n')).whereRef('peer_events.peer_id', '=', 'peers.id').where('peer_events.kind', '=', kind).where('peer_events.at', '>', since);
        return [events('disconnect').as('disconnections'), events('rejection').as('rejections'), events('integrity_failure').as('integrity_failures'), this.#provenBytesSql(eb, now).as('proven')];
      })
      .where('peers.id', 'in', peerIds)
      .execute();
    return new Map(
      rows.map((row) => {
        const { disconnections, rejections, integrity_failures, proven, ...peer } = row;
        const metrics = { capacity: peer.capacity, disconnections: Number(disconnections ?? 0), rejections: Number(rejections ?? 0), integrityFailures: Number(integrity_failures ?? 0) };
        return [peer.id, { peer, metrics, proven: Math.floor(Number(proven ?? 0)) }];
      }),
    );
  });

  /** What the level is computed from: credited capacity; corrupt data served counts against availability like a refusal. */
  #levelInputs(metrics: PeerMetrics, credited: number): ReliabilityMetrics {
    return { capacity: credited, disconnections: metrics.disconnections, rejections: metrics.rejections + metrics.integrityFailures };
  }

  /**
   * Recomputes the peer's proven bytes, vetting, scores and level from its current inputs,
   * stores them when they changed, and tells the peer its status. Returns that status. Calls
   * for one peer while its refresh runs share the next one (shared/coalescing.ts): a placement
   * and the endings of its stores move a host's space several times within a few milliseconds.
   */
  refresh(peerId: string): Promise<PeerStatus> {
    return this.#refresh(peerId);
  }

  readonly #refresh = coalescing((peerId) => this.#refreshNow(peerId));

  async #refreshNow(peerId: string): Promise<PeerStatus> {
    const now = this.#clock.now();
    const { peer, metrics, proven } = await this.#withInputs(peerId);
    const credited = effectiveCapacity(peer.capacity, proven, this.#config.earning);
    const next = reliability(this.#levelInputs(metrics, credited), this.#config.thresholds);
    const vettedAt = peer.vetted_at ?? (isVetted({ firstSeen: peer.first_seen, auditsPassed: peer.audits_passed }, now, this.#config.vetting) ? now : null);
    if (!sameReliability(peer, next) || proven !== peer.proven_bytes || vettedAt !== peer.vetted_at || credited !== peer.credited) {
      // Credited from the capacity as it is when written: a report racing this refresh keeps its offer.
      const earned = this.#config.earning.newcomerSpace + Math.floor(this.#config.earning.growth * proven);
      await this.#db
        .updateTable('peers')
        .set({ ...next, proven_bytes: proven, vetted_at: vettedAt, credited: sql<number>`case when capacity < ${earned} then capacity else ${earned} end` })
        .where('id', '=', peerId)
        .execute();
      if (!sameReliability(peer, next)) this.#log.info({ event: 'level', peerId, from: peer.level, to: next.level, ...next }, 'reliability changed');
      if (vettedAt !== peer.vetted_at) this.#log.info({ event: 'vetted', peerId, auditsPassed: peer.audits_passed }, 'host vetted');
    }
    const status = toStatus({ ...peer, ...next, proven_bytes: proven, vetted_at: vettedAt, credited }, metrics);
    void this.#sessions.emit(peerId, 'peer:status', status);
    return status;
  }

  /**
   * Time alone changes levels: events leave the 24-hour window, and proven replicas mature.
   * Each sweep recomputes the peers with events that left the window since the last sweep, and
   * a bounded batch of peers whose replicas are maturing, in turn: no sweep does work in
   * proportion to the whole cloud.
   */
  async refreshAll(): Promise<void> {
    const now = this.#clock.now();
    const leftSince = (this.#lastSweep ?? now - this.#config.sweepIntervalMs) - RELIABILITY_WINDOW_MS;
    this.#lastSweep = now;
    const crossed = await this.#db
      .selectFrom('peer_events')
      .select('peer_id')
      .distinct()
      .where('at', '>', leftSince)
      .where('at', '<=', now - RELIABILITY_WINDOW_MS)
      .execute();
    const maturity = this.#config.earning.maturityMs;
    const maturing =
      maturity <= 0
        ? []
        : await this.#db
            .selectFrom('replicas')
            .select('host_id')
            .distinct()
            .where('state', '=', 'stored')
            .where('stored_at', '>', now - maturity - this.#config.sweepIntervalMs)
            .where('host_id', '>', this.#maturingCursor)
            .orderBy('host_id')
            .limit(MATURING_PER_SWEEP)
            .execute();
    this.#maturingCursor = maturing.length < MATURING_PER_SWEEP ? '' : maturing.at(-1)!.host_id;
    const ids = new Set([...crossed.map((row) => row.peer_id), ...maturing.map((row) => row.host_id)]);
    for (const id of ids) await this.refresh(id);
    await this.#db.deleteFrom('peer_events').where('at', '<', now - EVENT_RETENTION_MS).execute();
  }

  async status(peerId: string): Promise<PeerStatus> {
    const peer = await this.#db.selectFrom('peers').selectAll().where('id', '=', peerId).executeTakeFirstOrThrow();
    return toStatus(peer, await this.metrics(peerId, peer.capacity));
  }

  /** At start nobody is connected yet, whatever the database says from before a crash (one tracker, SQLite). */
  async markAllOffline(): Promise<void> {
    // They were there until the tracker stopped, as far as anyone knows: the repair grace
    // counts from now, so a restart never makes healthy replicas look long gone.
    await this.#db.updateTable('peers').set({ online: 0, last_seen: this.#clock.now(), tracker_id: null, session_id: null }).where('online', '=', 1).execute();
  }

  /**
   * The peers a tracker held are offline: it stopped, or died and the others noticed, or it is
   * starting again after a crash. Not their disconnection (the tracker's doing); as for a
   * restart, the repair grace counts from now. Returns their ids.
   */
  async markOfflineOn(trackerId: string): Promise<string[]> {
    const rows = await this.#db
      .updateTable('peers')
      .set({ online: 0, last_seen: this.#clock.now(), tracker_id: null, session_id: null })
      .where('tracker_id', '=', trackerId)
      .where('online', '=', 1)
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
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
    proven: peer.proven_bytes,
    credited: peer.credited,
    vetted: peer.vetted_at !== null,
  };
}
