/**
 * Where a file goes. The paper: a peer's content goes to hosts of its own reliability level,
 * and among equals to the one with the most free space. When the uploader's level has too few
 * hosts we widen to the closest levels, preferring the more reliable one at equal distance, so
 * an upload never fails while any host can take it.
 *
 * Because identities are free, three rules sit on top (the tracker passes what they need):
 * - copies of one file go to distinct networks (a network is null on the tracker's own LAN,
 *   where the rule can't apply), so that one household or one rented server never holds two;
 * - hosts that are still new (unvetted) never hold every copy of a file while a vetted host
 *   can take one, and take copies ahead of vetted hosts only for a small share of the files;
 * - among otherwise equal hosts, vetted and proven ones first, then an order that depends on
 *   the file (so that nobody can pick an identity that wins every tie).
 * "Free space" is what the tracker credits a host with (shared/earned.ts), not what it claims.
 */
import { base32 } from './encoding.ts';
export interface HostCandidate {
  id: string;
  level: number;
  /** Credited capacity − used − reserved, in bytes. */
  free: number;
  /** The host's network (shared/network.ts); null or absent: no network rule applies. */
  network?: string | null;
  /** Whether the host has passed enough audits for long enough (absent: yes). */
  vetted?: boolean;
  /** Bytes it has proven it holds (a tie-break). */
  proven?: number;
}

export interface PlacementRequest {
  uploaderId: string;
  uploaderLevel: number;
  /** Bytes each copy occupies on its host. */
  bytes: number;
  /** Copies to place now. */
  replicas: number;
  /** Ties are broken by a hash of the file and the host: unpredictable before the file exists. */
  fileId?: string;
  /** Networks already holding (or about to hold) a copy of this file. */
  heldNetworks?: readonly string[];
  /** Copies of this file already on unvetted hosts, and all copies it should have. */
  unvettedHolders?: number;
  copiesWanted?: number;
  /**
   * The share of files (0…1, by the file's hash) whose copies new hosts may take ahead of vetted
   * ones; other files go to them only when no vetted host can take a copy. Absent: no limit.
   */
  newcomerShare?: number;
}

/** FNV-1a, 32 bits: a stable, well-spread order of hosts per file (not a security primitive). */
export function tieBreak(fileId: string, hostId: string): number {
  let hash = 0x811c9dc5;
  const text = `${fileId}:${hostId}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Where, in the order of host ids, a file starts looking at the hosts tied for most free space
 * (a prefix of an id in the same alphabet): a place that depends on the file, as the tie-break
 * does. The tracker reads a page of hosts, not all of them; reading every file's page from the
 * same end of the ties gave placements at the same moment the same few hosts, which they then
 * waited for each other to reserve. From the file's own place the ties it looks at are spread
 * over all of them, and still none but the most free.
 */
export function tiePivot(fileId: string): string {
  const hash = tieBreak(fileId, 'pivot');
  return base32(new Uint8Array([hash >>> 24, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff]));
}

/** Sort order: same level, then closest level (higher wins a tie), then most free space, vetted, proven, then the file's own order. */
export function compareCandidates(level: number, fileId?: string): (a: HostCandidate, b: HostCandidate) => number {
  return (a, b) => {
    const distance = Math.abs(a.level - level) - Math.abs(b.level - level);
    if (distance !== 0) return distance;
    if (a.level !== b.level) return b.level - a.level;
    if (a.free !== b.free) return b.free - a.free;
    const vetted = Number(b.vetted ?? true) - Number(a.vetted ?? true);
    if (vetted !== 0) return vetted;
    if ((a.proven ?? 0) !== (b.proven ?? 0)) return (b.proven ?? 0) - (a.proven ?? 0);
    if (fileId !== undefined) {
      const order = tieBreak(fileId, a.id) - tieBreak(fileId, b.id);
      if (order !== 0) return order;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}

/**
 * The levels in the order compareCandidates ranks them for an uploader of this level: its own,
 * then the closest, the higher one first at equal distance. The tracker looks at hosts level by
 * level in this order, so that it never reads the whole cloud to find the best few.
 */
export function levelOrder(level: number): number[] {
  return [1, 2, 3, 4, 5].sort((a, b) => Math.abs(a - level) - Math.abs(b - level) || b - a);
}

/**
 * The hosts for one upload (or its next copies), best first; at most `replicas` of them,
 * fewer when fewer candidates can take the bytes under the rules (the caller marks the file
 * under-replicated), none when no one can (the caller answers NO_HOST).
 */
export function chooseHosts(request: PlacementRequest, candidates: readonly HostCandidate[]): HostCandidate[] {
  const eligible = candidates.filter((candidate) => candidate.id !== request.uploaderId && candidate.free >= request.bytes).sort(compareCandidates(request.uploaderLevel, request.fileId));
  const networks = new Set(request.heldNetworks ?? []);
  const anyVetted = eligible.some((candidate) => candidate.vetted ?? true);
  // With a vetted host available, new ones may hold all copies but one.
  let unvettedRoom = anyVetted ? Math.max(0, (request.copiesWanted ?? request.replicas) - 1 - (request.unvettedHolders ?? 0)) : Number.POSITIVE_INFINITY;
  // New hosts get a small share of the files first-hand, and otherwise only what vetted hosts can't take.
  const inShare = request.newcomerShare === undefined || request.fileId === undefined || tieBreak(request.fileId, 'newcomers') % 1000 < request.newcomerShare * 1000;
  const chosen: HostCandidate[] = [];
  const pass = (newcomersNow: boolean) => {
    for (const candidate of eligible) {
      if (chosen.length >= request.replicas) return;
      // By id: a host listed twice (read on two pages while its room changed) is still one host.
      if (chosen.some((taken) => taken.id === candidate.id)) continue;
      if (candidate.network && networks.has(candidate.network)) continue;
      const vetted = candidate.vetted ?? true;
      if (!vetted && (unvettedRoom <= 0 || !newcomersNow)) continue;
      chosen.push(candidate);
      if (candidate.network) networks.add(candidate.network);
      if (!vetted) unvettedRoom--;
    }
  };
  pass(inShare || !anyVetted);
  pass(true);
  return chosen.sort(compareCandidates(request.uploaderLevel, request.fileId));
}

/**
 * The hosts of one round of a placement, split by the order the tracker may lock their rows
 * in: above every host the transaction has already tried (`highest`: those it may wait for, in
 * id order, so that two placements never wait for each other in a cycle) or not (passed over
 * if another transaction holds them). Each part in id order.
 */
export function splitByLockOrder<T extends { host: { id: string } }>(assigned: readonly T[], highest: string | undefined): { inOrder: T[]; outOfOrder: T[] } {
  const sorted = [...assigned].sort((a, b) => (a.host.id < b.host.id ? -1 : a.host.id > b.host.id ? 1 : 0));
  return {
    inOrder: sorted.filter(({ host }) => highest === undefined || host.id > highest),
    outOfOrder: sorted.filter(({ host }) => highest !== undefined && host.id <= highest),
  };
}
