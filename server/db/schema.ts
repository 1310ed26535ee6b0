/**
 * The tracker's relational model, as Kysely sees it. Times are milliseconds since the
 * epoch; booleans are 0/1 (SQLite has no boolean and PostgreSQL can map them later).
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface PeersTable {
  id: string;
  /** base64url of the raw P-256 public key; the id is derived from it. */
  public_key: string;
  last_address: string | null;
  first_seen: number;
  last_seen: number;
  online: number;
  /** Bytes the peer offers to host. */
  capacity: number;
  /** Bytes the peer says its storage holds (its own report, for reconciliation). */
  reported_used: number;
  /** Bytes of replicas verified stored on this peer. */
  bytes_used: number;
  /** Bytes promised to transfers under way. */
  bytes_reserved: number;
  level: number;
  trust: number;
  dynamism: number;
  availability: number;
}

export const PEER_EVENT_KINDS = ['connect', 'disconnect', 'rejection', 'integrity_failure'] as const;
export type PeerEventKind = (typeof PEER_EVENT_KINDS)[number];

export interface PeerEventsTable {
  id: Generated<number>;
  peer_id: string;
  kind: PeerEventKind;
  at: number;
  /** Why: a disconnect reason, a rejection reason, the file concerned. */
  detail: string | null;
}

/** 'interrupted': the owner left mid-upload with no complete replica; partial ones wait for it to resume. */
export type FileStateColumn = 'uploading' | 'interrupted' | 'stored' | 'failed';

export interface FilesTable {
  id: string;
  owner_id: string;
  name: string;
  /** Plaintext bytes. */
  size: number;
  /** Root hash of the sealed chunks, stated by the owner once it sent them all. */
  sha256: string | null;
  chunk_size: number;
  chunk_count: number;
  /** Bytes each replica occupies on its host (sealed chunks). */
  stored_bytes: number;
  replicas_wanted: number;
  created_at: number;
  state: FileStateColumn;
  interrupted_at: number | null;
  repaired_at: number | null;
}

export type ReplicaState = 'reserved' | 'stored';

export interface ReplicasTable {
  file_id: string;
  host_id: string;
  state: ReplicaState;
  bytes: number;
  /** The root the host verified, when it has reported; compared with the owner's seal. */
  sha256: string | null;
  created_at: number;
  stored_at: number | null;
}

export type TransferStateColumn = 'offered' | 'open' | 'done' | 'failed';
export type TransferKindColumn = 'store' | 'fetch' | 'repair';

export interface TransfersTable {
  id: string;
  kind: TransferKindColumn;
  file_id: string;
  sender_id: string;
  receiver_id: string;
  /** The side that must accept (a host); the other side starts the connection once it has. */
  responder_id: string;
  state: TransferStateColumn;
  created_at: number;
  updated_at: number;
  /** When the tracker gives up on it unless it makes progress. */
  expires_at: number;
  error_code: string | null;
  error_message: string | null;
  replaces_host_id: string | null;
}

export interface Database {
  peers: PeersTable;
  peer_events: PeerEventsTable;
  files: FilesTable;
  replicas: ReplicasTable;
  transfers: TransfersTable;
}

export type PeerRow = Selectable<PeersTable>;
export type NewPeer = Insertable<PeersTable>;
export type PeerUpdate = Updateable<PeersTable>;
export type FileRow = Selectable<FilesTable>;
export type ReplicaRow = Selectable<ReplicasTable>;
export type TransferRow = Selectable<TransfersTable>;
