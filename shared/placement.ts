/**
 * Where a file goes. The paper: a peer's content goes to hosts of its own reliability
 * level, and among equals to the one with the most free space. When the uploader's
 * level has too few hosts we widen to the closest levels, preferring the more reliable
 * one at equal distance, so an upload never fails while any host can take it.
 */
export interface HostCandidate {
  id: string;
  level: number;
  /** offered − used − reserved, in bytes */
  free: number;
}

export interface PlacementRequest {
  uploaderId: string;
  uploaderLevel: number;
  /** Bytes each replica occupies on its host. */
  bytes: number;
  replicas: number;
}

/** Sort order: same level, then closest level (higher wins a tie), then most free space, then id. */
export function compareCandidates(level: number): (a: HostCandidate, b: HostCandidate) => number {
  return (a, b) => {
    const distance = Math.abs(a.level - level) - Math.abs(b.level - level);
    if (distance !== 0) return distance;
    if (a.level !== b.level) return b.level - a.level;
    if (a.free !== b.free) return b.free - a.free;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}

/**
 * The hosts for one upload, best first; at most `replicas` of them, fewer when fewer
 * candidates can take the bytes (the caller marks the file under-replicated), none when
 * no one can (the caller answers NO_HOST).
 */
export function chooseHosts(request: PlacementRequest, candidates: readonly HostCandidate[]): HostCandidate[] {
  return candidates
    .filter((candidate) => candidate.id !== request.uploaderId && candidate.free >= request.bytes)
    .sort(compareCandidates(request.uploaderLevel))
    .slice(0, request.replicas);
}
