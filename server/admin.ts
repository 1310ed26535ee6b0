/**
 * What the operator sees: every peer with the paper's metrics, and every file with where
 * its replicas live. Read-only queries for the operator API and, later, the dashboard.
 */
import { RELIABILITY_WINDOW_MS } from '../shared/reliability.ts';
import { fileHealth, type FileHealth } from '../shared/file-health.ts';
import { sql } from 'kysely';
import { storedReplicas } from './db/counts.ts';
import type { AdminFile, AdminPeer, AdminTransfer, AvailabilityReport, Overview } from '../shared/operator-api.ts';
import { availabilityByLevel, onlineFraction, type PresenceEvent } from '../shared/durability.ts';
import { groupBy } from '../shared/grouping.ts';

export type { AdminFile, AdminPeer, AdminTransfer, AvailabilityReport, Overview };
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { ExpressionBuilder } from 'kysely';
import type { Db } from './db/database.ts';
import type { Database, PeerEventKind } from './db/schema.ts';
import { ACTIVE_TRANSFER_STATES } from './db/states.ts';
import type { Metrics } from './metrics.ts';
import { freeSpace } from './space-ledger.ts';

export class AdminQueries {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'adminShowNames' | 'earning'>,
  ) {}

  /** Everything the dashboard shows, in one answer. */
  async overview(): Promise<Overview> {
    const [peers, files, repairs] = await Promise.all([this.peers(), this.files(), this.repairs()]);
    return { generatedAt: this.clock.now(), peers, files, repairs };
  }

  /**
   * The fraction of the last `windowMs` each peer was online, from the tracker's own connect and
   * disconnect events, summed up per level (shared/durability.ts says how gaps are read). The
   * state before a peer's first event in the window is inferred from that event, or from
   * `online` when it has none, so only the window's events are read (an index on `at`).
   */
  async availability(windowMs = 24 * 60 * 60_000): Promise<AvailabilityReport> {
    const now = this.clock.now();
    const [peers, events] = await Promise.all([
      this.db.selectFrom('peers').select(['id', 'level', 'online', 'first_seen', 'last_seen']).execute(),
      this.db.selectFrom('peer_events').select(['peer_id', 'kind', 'at']).where('at', '>', now - windowMs).where('kind', 'in', ['connect', 'disconnect']).execute(),
    ]);
    const byPeer = groupBy(events, (event) => event.peer_id, (event): PresenceEvent => ({ kind: event.kind, at: Number(event.at) }));
    const measured = peers.map((peer) => ({
      level: peer.level,
      fraction: onlineFraction(byPeer.get(peer.id) ?? [], now, windowMs, { online: Boolean(peer.online), lastSeen: Number(peer.last_seen), firstSeen: Number(peer.first_seen) }).fraction,
    }));
    const [all] = availabilityByLevel(measured.map(({ fraction }) => ({ level: 0, fraction })));
    return { generatedAt: now, windowMs, levels: availabilityByLevel(measured), all: all ? { peers: all.peers, mean: all.mean, median: all.median } : null };
  }

  /** Repairs under way, and the last ones that ended. */
  async repairs(): Promise<Overview['repairs']> {
    const rows = await this.db.selectFrom('transfers').selectAll().where('kind', '=', 'repair').orderBy('created_at', 'desc').limit(200).execute();
    const repairs = rows.map((row) => ({
      id: row.id,
      fileId: row.file_id,
      sourceId: row.sender_id,
      targetId: row.receiver_id,
      replacesId: row.replaces_host_id,
      state: row.state,
      startedAt: row.created_at,
      endedAt: row.state === 'done' || row.state === 'failed' ? row.updated_at : null,
      error: row.error_message,
    }));
    return { active: repairs.filter((r) => r.endedAt === null), recent: repairs.filter((r) => r.endedAt !== null).slice(0, 50) };
  }

  /** Fills the gauges that describe the database, then renders every metric in Prometheus' text format. */
  async scrape(metrics: Metrics): Promise<string> {
    const { peersOnlineByLevel, filesByHealth } = await this.gauges();
    metrics.peersOnline.reset();
    for (const [level, count] of Object.entries(peersOnlineByLevel)) metrics.peersOnline.set({ level }, count);
    metrics.filesByHealth.reset();
    for (const [health, count] of Object.entries(filesByHealth)) metrics.filesByHealth.set({ health }, count);
    return metrics.registry.metrics();
  }

  /** Gauges for /metrics. */
  async gauges(): Promise<{ peersOnlineByLevel: Record<string, number>; filesByHealth: Record<string, number> }> {
    const levels = await this.db.selectFrom('peers').select(['level', (eb) => eb.fn.countAll<number>().as('n')]).where('online', '=', 1).groupBy('level').execute();
    const peersOnlineByLevel: Record<string, number> = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };
    for (const row of levels) peersOnlineByLevel[row.level] = Number(row.n);
    // One aggregate query (the same wording as shared/file-health.ts): a scrape never loads every file.
    const perFile = this.db
      .selectFrom('files')
      .select(['files.state', 'files.replicas_wanted', 'files.scheme_k', (eb) => storedReplicas(eb).as('stored'), (eb) => storedReplicas(eb, { online: true }).as('online')]);
    const health = sql<FileHealth>`case when f.state <> 'stored' then f.state
      when f.scheme_k = 1 and f.stored = 0 then 'lost' when f.scheme_k = 1 and f.online = 0 then 'unavailable' when f.scheme_k = 1 and f.online < f.replicas_wanted then 'under-replicated'
      when f.stored < f.scheme_k then 'lost' when f.online < f.scheme_k then 'unavailable' when f.online >= f.replicas_wanted then 'healthy' when f.online = f.scheme_k then 'at-risk'
      when f.scheme_k > 1 then 'protected' else 'healthy' end`;
    const rows = await this.db
      .selectFrom(perFile.as('f'))
      .select([health.as('health'), (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(health)
      .execute();
    const filesByHealth: Record<string, number> = {};
    for (const row of rows) filesByHealth[row.health] = Number(row.n);
    return { peersOnlineByLevel, filesByHealth };
  }

  async peers(): Promise<AdminPeer[]> {
    const since = this.clock.now() - RELIABILITY_WINDOW_MS;
    const count = (eb: ExpressionBuilder<Database, 'peers'>, kind: PeerEventKind) =>
      eb
        .selectFrom('peer_events')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('peer_events.peer_id', '=', 'peers.id')
        .where('peer_events.kind', '=', kind)
        .where('peer_events.at', '>', since);
    const rows = await this.db
      .selectFrom('peers')
      .selectAll()
      .select((eb) => [
        count(eb, 'disconnect').as('disconnections'),
        count(eb, 'rejection').as('rejections'),
        count(eb, 'integrity_failure').as('integrity_failures'),
        eb.selectFrom('replicas').select(eb.fn.countAll<number>().as('n')).whereRef('replicas.host_id', '=', 'peers.id').where('replicas.state', '=', 'stored').as('replicas'),
      ])
      .orderBy('level', 'desc')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      address: row.last_address,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      online: row.online === 1,
      capacity: row.capacity,
      used: row.bytes_used,
      reserved: row.bytes_reserved,
      free: freeSpace(row),
      reportedUsed: row.reported_used,
      proven: row.proven_bytes,
      credited: row.credited,
      vetted: row.vetted_at !== null,
      network: row.network,
      auditsPassed: row.audits_passed,
      metrics: {
        disconnections: Number(row.disconnections ?? 0),
        rejections: Number(row.rejections ?? 0),
        integrityFailures: Number(row.integrity_failures ?? 0),
      },
      scores: { trust: row.trust, dynamism: row.dynamism, availability: row.availability },
      level: row.level,
      replicas: Number(row.replicas ?? 0),
    }));
  }

  /** Transfers under way (offered or open). */
  async transfers(): Promise<AdminTransfer[]> {
    const rows = await this.db.selectFrom('transfers').selectAll().where('state', 'in', ACTIVE_TRANSFER_STATES).orderBy('created_at').execute();
    return rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      fileId: row.file_id,
      senderId: row.sender_id,
      receiverId: row.receiver_id,
      state: row.state,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }

  async files(): Promise<AdminFile[]> {
    const files = await this.db.selectFrom('files').selectAll().orderBy('created_at', 'desc').execute();
    const replicas = await this.db
      .selectFrom('replicas')
      .innerJoin('peers', 'peers.id', 'replicas.host_id')
      .select(['replicas.file_id', 'replicas.host_id', 'replicas.fragment', 'replicas.state', 'replicas.stored_at', 'replicas.proven_at', 'replicas.suspect_since', 'replicas.retired_at', 'peers.online'])
      .orderBy('replicas.created_at')
      .execute();
    const byFile = new Map<string, typeof replicas>();
    for (const replica of replicas) byFile.set(replica.file_id, [...(byFile.get(replica.file_id) ?? []), replica]);
    return files.map((file) => {
      const held = (byFile.get(file.id) ?? []).map((r) => ({
        hostId: r.host_id,
        fragment: r.fragment,
        state: r.state,
        online: r.online === 1,
        storedAt: r.stored_at,
        provenAt: r.proven_at,
        suspect: r.suspect_since !== null,
        retired: r.retired_at !== null,
      }));
      const stored = held.filter((r) => r.state === 'stored' && !r.retired);
      const counts = { wanted: file.replicas_wanted, stored: stored.length, online: stored.filter((r) => r.online && !r.suspect).length };
      return {
      id: file.id,
      ownerId: file.owner_id,
      name: this.config.adminShowNames ? file.name : null,
      size: file.size,
      storedBytes: file.stored_bytes,
      sha256: file.sha256,
      chunkSize: file.chunk_size,
      chunkCount: file.chunk_count,
      state: file.state,
      createdAt: file.created_at,
      replicasWanted: file.replicas_wanted,
      scheme: { k: file.scheme_k, n: file.replicas_wanted },
      replicas: held,
      health: fileHealth({ state: file.state, replicas: counts, scheme: { k: file.scheme_k, n: file.replicas_wanted } }),
      repairedAt: file.repaired_at,
      };
    });
  }
}
