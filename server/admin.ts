/**
 * What the operator sees: every peer with the paper's metrics, and every file with where
 * its replicas live. Read-only queries for the operator API and, later, the dashboard.
 */
import { RELIABILITY_WINDOW_MS } from '../shared/reliability.ts';
import type { Clock } from './clock.ts';
import type { ExpressionBuilder } from 'kysely';
import type { Db } from './db/database.ts';
import type { Database, PeerEventKind } from './db/schema.ts';
import { freeSpace } from './peers.ts';

export interface AdminPeer {
  id: string;
  address: string | null;
  firstSeen: number;
  lastSeen: number;
  online: boolean;
  capacity: number;
  used: number;
  reserved: number;
  free: number;
  reportedUsed: number;
  metrics: { disconnections: number; rejections: number; integrityFailures: number };
  scores: { trust: number; dynamism: number; availability: number };
  level: number;
  replicas: number;
}

export interface AdminFile {
  id: string;
  ownerId: string;
  name: string;
  size: number;
  storedBytes: number;
  sha256: string | null;
  chunkSize: number;
  chunkCount: number;
  state: string;
  createdAt: number;
  replicasWanted: number;
  replicas: { hostId: string; state: string; online: boolean; storedAt: number | null }[];
}

export interface AdminTransfer {
  id: string;
  kind: string;
  fileId: string;
  senderId: string;
  receiverId: string;
  state: string;
  createdAt: number;
  updatedAt: number;
}

export class AdminQueries {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

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
    const rows = await this.db.selectFrom('transfers').selectAll().where('state', 'in', ['offered', 'open']).orderBy('created_at').execute();
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
      .select(['replicas.file_id', 'replicas.host_id', 'replicas.state', 'replicas.stored_at', 'peers.online'])
      .orderBy('replicas.created_at')
      .execute();
    const byFile = new Map<string, typeof replicas>();
    for (const replica of replicas) byFile.set(replica.file_id, [...(byFile.get(replica.file_id) ?? []), replica]);
    return files.map((file) => ({
      id: file.id,
      ownerId: file.owner_id,
      name: file.name,
      size: file.size,
      storedBytes: file.stored_bytes,
      sha256: file.sha256,
      chunkSize: file.chunk_size,
      chunkCount: file.chunk_count,
      state: file.state,
      createdAt: file.created_at,
      replicasWanted: file.replicas_wanted,
      replicas: (byFile.get(file.id) ?? []).map((r) => ({ hostId: r.host_id, state: r.state, online: r.online === 1, storedAt: r.stored_at })),
    }));
  }
}
