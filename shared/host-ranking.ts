/**
 * Which host to read a file from, when several hold it: for an owner's download and for a
 * repair's source alike. A host that just failed to serve this file goes last (trying it
 * again at once rarely helps), then the most reliable, then the least busy.
 */

/** A failure to serve this long ago no longer counts against a host for this file. */
export const RECENT_FAILURE_WINDOW_MS = 5 * 60_000;

export interface SourceCandidate {
  id: string;
  level: number;
  /** Transfers of this file from this host that failed within RECENT_FAILURE_WINDOW_MS. */
  recentFailures: number;
  /** Transfers this host is part of right now. */
  busy: number;
}

export function compareSources(a: SourceCandidate, b: SourceCandidate): number {
  return a.recentFailures - b.recentFailures || b.level - a.level || a.busy - b.busy || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Candidates best first (a new array). */
export function rankSources<T extends SourceCandidate>(candidates: readonly T[]): T[] {
  return [...candidates].sort(compareSources);
}

/**
 * The hosts to read `count` distinct fragments from, best first. For a k > 1 code, data
 * fragments (0…k−1) come before parity ones: with all of them a download decodes nothing.
 * Fragments in `exclude` (already being read) are skipped.
 */
export function chooseSources<T extends SourceCandidate & { fragment: number }>(ranked: readonly T[], options: { k: number; count: number; exclude?: readonly number[] }): T[] {
  const taken = new Set(options.exclude ?? []);
  const chosen: T[] = [];
  const pick = (want: (candidate: T) => boolean) => {
    for (const candidate of ranked) {
      if (chosen.length >= options.count) return;
      if (taken.has(candidate.fragment) || !want(candidate)) continue;
      taken.add(candidate.fragment);
      chosen.push(candidate);
    }
  };
  if (options.k > 1) pick((candidate) => candidate.fragment < options.k);
  pick(() => true);
  return chosen;
}
