/**
 * The operator API's answers (`/api/peers`, `/api/files`, `/api/transfers`, `/api/overview`),
 * shared by the tracker that builds them and the dashboard that shows them.
 */
import type { FileHealth } from './file-health.ts';
import type { FileState } from './protocol.ts';

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
  /** Bytes it has proven it holds (audited), weighted by how long; what its trust is credited from. */
  proven: number;
  /** The capacity its trust is scored on: its offer, up to a newcomer's allowance plus what it proved. */
  credited: number;
  /** Passed enough audits for long enough to hold any copy of a file. */
  vetted: boolean;
  /** Its network (IPv4 /24, IPv6 /48); null on the tracker's LAN. */
  network: string | null;
  auditsPassed: number;
  metrics: { disconnections: number; rejections: number; integrityFailures: number };
  scores: { trust: number; dynamism: number; availability: number };
  level: number;
  replicas: number;
}

export interface AdminFile {
  id: string;
  ownerId: string;
  /** Null unless the operator opted in (ADMIN_SHOW_NAMES): names are their owners' business. */
  name: string | null;
  size: number;
  storedBytes: number;
  sha256: string | null;
  chunkSize: number;
  chunkCount: number;
  state: FileState;
  createdAt: number;
  replicasWanted: number;
  /** Any k of its n fragments read it (k = 1: n whole copies). */
  scheme: { k: number; n: number };
  /** Each fragment's host and state (for whole copies, `fragment` is 0… the copy's index). */
  replicas: { hostId: string; fragment: number; state: string; online: boolean; storedAt: number | null; provenAt: number | null; suspect: boolean; retired: boolean }[];
  health: FileHealth;
  repairedAt: number | null;
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

export interface AdminRepair {
  id: string;
  fileId: string;
  sourceId: string;
  targetId: string;
  replacesId: string | null;
  state: string;
  startedAt: number;
  endedAt: number | null;
  error: string | null;
}

export interface Overview {
  generatedAt: number;
  peers: AdminPeer[];
  files: AdminFile[];
  repairs: { active: AdminRepair[]; recent: AdminRepair[] };
}
