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
  /** The network (IPv4 /24, IPv6 /48) it last connected from; null on the tracker's LAN. */
  network: Generated<string | null>;
  audits_passed: Generated<number>;
  /** Bytes of replicas it has proven it holds, weighted by how long (recomputed with its level). */
  proven_bytes: Generated<number>;
  /** When it became vetted (enough audits passed, for long enough); null while new. */
  vetted_at: Generated<number | null>;
  /** The tracker it is connected to while online, and that connection's id (its session). */
  tracker_id: Generated<string | null>;
  session_id: Generated<string | null>;
  /** Capacity credited (shared/earned.ts), kept by peers.ts with its level: free space is credited − used − reserved. */
  credited: Generated<number>;
}

/** A running tracker: its heartbeat says it is alive (cluster/presence.ts). */
export interface TrackersTable {
  id: string;
  started_at: number;
  heartbeat_at: number;
}

/** A login nonce, good once until it expires, on any tracker. */
export interface LoginChallengesTable {
  nonce: string;
  address: string;
  expires_at: number;
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
  /** The other peer of a transfer this event is about, for blame counted once per pair. */
  counterparty_id: Generated<string | null>;
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
  /** Fragments needed to read it back: 1 for whole copies, K for rs:K+M (n is replicas_wanted). */
  scheme_k: Generated<number>;
  /** Bytes one fragment takes on its host (the whole sealed file when k = 1). */
  fragment_bytes: number;
}

/** The root the owner sealed for each fragment (for whole copies, one row, idx 0, stands for all). */
export interface FileFragmentsTable {
  file_id: string;
  idx: number;
  sha256: string;
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
  /** When it last passed an audit (a stored replica has passed at least the one made on storing it). */
  proven_at: Generated<number | null>;
  audit_due_at: Generated<number | null>;
  /** Since when it failed to answer an audit: not counted as a live copy meanwhile. */
  suspect_since: Generated<number | null>;
  /** When a repair replaced it: not counted, kept in case its host comes back with it. */
  retired_at: Generated<number | null>;
  /** Which fragment of the file it holds: 0…n−1, distinct among a file's counted copies (whole copies too). */
  fragment: Generated<number>;
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
  /** The most bytes either side reported moving: evidence that the connection worked. */
  bytes_reported: Generated<number>;
  /** Signaling relayed for it, in bytes (bounded: signaling is not a data channel). */
  signal_bytes: Generated<number>;
  opened_at: Generated<number | null>;
  /** The fragment it moves. */
  fragment: Generated<number>;
  /** A repair of a k > 1 file: its k source transfers into one rebuilding host share a group… */
  group_id: Generated<string | null>;
  /** …and the fragment that host rebuilds. */
  rebuild_fragment: Generated<number | null>;
}

export type AuditPurpose = 'store' | 'routine' | 'claim' | 'promote' | 'accusation';

export interface AuditsTable {
  id: string;
  file_id: string;
  host_id: string;
  chunk: number;
  block: number;
  purpose: AuditPurpose;
  transfer_id: string | null;
  state: 'pending' | 'passed' | 'failed';
  outcome: 'wrong' | 'unanswered' | null;
  issued_at: number;
  deadline_at: number;
  answered_at: number | null;
}

export interface Database {
  peers: PeersTable;
  peer_events: PeerEventsTable;
  files: FilesTable;
  replicas: ReplicasTable;
  transfers: TransfersTable;
  audits: AuditsTable;
  file_fragments: FileFragmentsTable;
  trackers: TrackersTable;
  login_challenges: LoginChallengesTable;
}

export type PeerRow = Selectable<PeersTable>;
export type NewPeer = Insertable<PeersTable>;
export type PeerUpdate = Updateable<PeersTable>;
export type FileRow = Selectable<FilesTable>;
export type ReplicaRow = Selectable<ReplicasTable>;
export type TransferRow = Selectable<TransfersTable>;
export type AuditRow = Selectable<AuditsTable>;
