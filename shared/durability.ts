/**
 * The durability model of docs/DURABILITY.md: how often a file is readable, how much it
 * costs, and how long it lasts, under replicate:R or rs:K+M, from per-peer availability and
 * churn. Pure functions; scripts/durability-sim.ts checks them against a simulation.
 *
 * A scheme is reduced to (k, n): a file is readable when any k of its n pieces are on hosts
 * that are online. replicate:R is k = 1, n = R; rs:K+M is k = K, n = K + M.
 *
 * Assumptions, and what each one ignores (the simulation measures where they matter):
 * - Hosts are online independently of each other, host i with probability p_i. Real peers are
 *   correlated (office hours, one person's several tabs, a network outage), which makes
 *   every scheme worse than computed here and codes with large n worse than replication.
 * - A host leaves for good after an exponentially distributed lifetime (rate λ = 1 / mean
 *   lifetime), independently of its sessions; a fragment lives as long as its host.
 * - Repair starts when the live fragments fall to a threshold and, after a delay, brings the
 *   file back to n fragments at once (one repair gathers k fragments and rebuilds all the
 *   missing ones, issue 12 item 5). The delay (REPAIR_GRACE, the wait for k hosts to be
 *   online at once, the transfer itself) is taken as exponential with mean 1 / μ; in the
 *   system it is closer to fixed, which the simulation shows changes little when 1/μ ≪ 1/λ.
 */
import { groupBy } from './grouping.ts';

/** Probability that at least k of n pieces are on online hosts, each online with probability p. */
export function readableProbability(k: number, n: number, p: number): number {
  checkScheme(k, n);
  checkProbability(p);
  let sum = 0;
  for (let i = k; i <= n; i++) sum += binomialPmf(n, i, p);
  return clamp01(sum);
}

/**
 * The same when host i is online with probability ps[i] (the hosts of one file differ:
 * placement picks the same level first, but not the same peers). Poisson-binomial, by the
 * usual dynamic programme over hosts.
 */
export function readableProbabilityOf(k: number, ps: readonly number[]): number {
  checkScheme(k, ps.length);
  // online[j] = probability that exactly j of the hosts seen so far are online.
  let online = [1];
  for (const p of ps) {
    checkProbability(p);
    const next = new Array<number>(online.length + 1).fill(0);
    online.forEach((probability, j) => {
      next[j]! += probability * (1 - p);
      next[j + 1]! += probability * p;
    });
    online = next;
  }
  return clamp01(online.slice(k).reduce((sum, probability) => sum + probability, 0));
}

/** Bytes stored per byte of file: n / k (plus the small padding of the last fragment of a stripe). */
export function storageOverhead(k: number, n: number): number {
  checkScheme(k, n);
  return n / k;
}

/** C(n, i) p^i (1 − p)^(n − i), by products so that n up to a few hundred stays exact enough. */
export function binomialPmf(n: number, i: number, p: number): number {
  if (i < 0 || i > n) return 0;
  if (p === 0) return i === 0 ? 1 : 0;
  if (p === 1) return i === n ? 1 : 0;
  let coefficient = 1;
  for (let j = 1; j <= Math.min(i, n - i); j++) coefficient = (coefficient * (n - Math.min(i, n - i) + j)) / j;
  return coefficient * p ** i * (1 - p) ** (n - i);
}

export interface RepairModel {
  /** Pieces needed to read the file. */
  k: number;
  /** Pieces stored when the file is whole. */
  n: number;
  /** Permanent departures per host per unit of time: 1 / expected peer lifetime. */
  departureRate: number;
  /** Repairs per unit of time while one is due: 1 / (grace + wait + transfer). 0 = no repair. */
  repairRate: number;
  /** Repair is due when the live pieces are this many or fewer (REPAIR_THRESHOLD; k + 1 for rs, n − 1 for replicate). */
  repairThreshold: number;
}

export interface RepairOutcome {
  /** Expected time from a whole file (n live pieces) to loss (fewer than k), in the rates' unit. */
  meanTimeToLoss: number;
  /** Expected time spent with exactly `live` pieces before loss, for live = n, n − 1, …, k. */
  timeWith: { live: number; time: number }[];
}

/**
 * Expected time to data loss, exactly, for the continuous-time Markov chain on the number of
 * live pieces i (n ≥ i ≥ k; i = k − 1 absorbs):
 *   i → i − 1 at rate i·λ (one of the i hosts leaves for good),
 *   i → n     at rate μ when i ≤ threshold and i < n (a repair completes).
 * With Q the generator restricted to the live states, the expected times spent in each state
 * starting from n are τ = e_n (−Q)⁻¹, and their sum is the mean time to absorption. The
 * system has at most a few hundred states, so Gaussian elimination is plenty.
 */
export function timeToLoss(model: RepairModel): RepairOutcome {
  const { k, n, departureRate: lambda, repairRate: mu, repairThreshold } = model;
  checkScheme(k, n);
  if (!(lambda > 0)) throw new RangeError(`the departure rate is positive, not ${lambda}`);
  if (!(mu >= 0)) throw new RangeError(`the repair rate is zero or positive, not ${mu}`);
  if (!Number.isInteger(repairThreshold) || repairThreshold < k - 1 || repairThreshold > n) throw new RangeError(`the repair threshold is a whole number from ${k - 1} to ${n}, not ${repairThreshold}`);
  const states = n - k + 1;
  // State index s = n − i: 0 is whole, states − 1 is k live.
  const minusQ = Array.from({ length: states }, () => new Array<number>(states).fill(0));
  for (let s = 0; s < states; s++) {
    const live = n - s;
    const repairs = live <= repairThreshold && live < n ? mu : 0;
    minusQ[s]![s] = live * lambda + repairs;
    if (s + 1 < states) minusQ[s]![s + 1] = -live * lambda;
    if (repairs > 0) minusQ[s]![0]! -= repairs;
  }
  // τ (−Q) = e_0  ⇔  (−Q)ᵀ τᵀ = e_0ᵀ.
  const transposed = minusQ.map((_, r) => minusQ.map((row) => row[r]!));
  const time = solveLinear(
    transposed,
    Array.from({ length: states }, (_, s) => (s === 0 ? 1 : 0)),
  );
  return {
    meanTimeToLoss: time.reduce((sum, t) => sum + t, 0),
    timeWith: time.map((t, s) => ({ live: n - s, time: t })),
  };
}

/** μ = 0: a pure death process from n to k − 1, whose mean is Σ_{i=k}^{n} 1 / (i λ). */
export function timeToLossWithoutRepair(k: number, n: number, departureRate: number): number {
  checkScheme(k, n);
  let sum = 0;
  for (let i = k; i <= n; i++) sum += 1 / (i * departureRate);
  return sum;
}

/**
 * Probability that the file is readable at a random moment of its life with repair: the
 * chain's time in each state weighted by the chance that k of that many pieces are online.
 * Better than readableProbability(k, n, p) alone, which assumes all n pieces are always there.
 */
export function readableWithRepair(model: RepairModel, p: number): number {
  const { meanTimeToLoss, timeWith } = timeToLoss(model);
  return clamp01(timeWith.reduce((sum, { live, time }) => sum + (time / meanTimeToLoss) * readableProbability(model.k, live, p), 0));
}

/** x with A x = b, by Gaussian elimination with partial pivoting. */
export function solveLinear(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const size = b.length;
  const m = a.map((row, r) => [...row, b[r]!]);
  for (let col = 0; col < size; col++) {
    let pivot = col;
    for (let r = col + 1; r < size; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (m[pivot]![col] === 0) throw new RangeError('singular system');
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = col + 1; r < size; r++) {
      const factor = m[r]![col]! / m[col]![col]!;
      if (factor === 0) continue;
      for (let c = col; c <= size; c++) m[r]![c]! -= factor * m[col]![c]!;
    }
  }
  const x = new Array<number>(size).fill(0);
  for (let r = size - 1; r >= 0; r--) {
    let sum = m[r]![size]!;
    for (let c = r + 1; c < size; c++) sum -= m[r]![c]! * x[c]!;
    x[r] = sum / m[r]![r]!;
  }
  return x;
}

// ---------------------------------------------------------------------------------------
// Measured availability: the fraction of a window each peer was online, from the tracker's
// own connect/disconnect events (table peer_events, and peers.online / last_seen / first_seen).

export interface PresenceEvent {
  kind: string;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface PeerPresence {
  /** peers.online now. */
  online: boolean;
  /** peers.last_seen: when a session the events leave open must have ended at the latest. */
  lastSeen: number;
  /** peers.first_seen: the peer did not exist before, so that time is not counted against it. */
  firstSeen: number;
}

export interface OnlineFraction {
  /** Online time / observed time; NaN when nothing was observed (a peer first seen at `now`). */
  fraction: number;
  onlineMs: number;
  /** The part of the window since the peer was first seen. */
  observedMs: number;
}

/**
 * The fraction of [now − windowMs, now] that a peer was online, from its connect and
 * disconnect events (other kinds are ignored; order does not matter). Events before the
 * window may be given and only set the state at its start; without them the state at the
 * start is inferred from the first event inside it (a disconnect means it was online).
 *
 * Gaps in the record are read the way the tracker itself reads them:
 * - connect after connect (the tracker restarted and the tab reconnected): one session;
 * - a session still open at the end while the peer is offline now (the tracker stopped or
 *   crashed while it was connected, and markAllOffline() cleared the flag): it ended at
 *   `lastSeen`, the last moment the tracker knew of it;
 * - without `peer`, a session open at the end lasts until now.
 */
export function onlineFraction(events: readonly PresenceEvent[], now: number, windowMs: number, peer?: PeerPresence): OnlineFraction {
  const windowStart = now - windowMs;
  const start = Math.max(windowStart, Math.min(now, peer?.firstSeen ?? windowStart));
  const presence = events.filter((event) => event.kind === 'connect' || event.kind === 'disconnect').sort((a, b) => a.at - b.at);
  const before = presence.filter((event) => event.at <= start);
  const inside = presence.filter((event) => event.at > start && event.at <= now);
  let online = before.length > 0 ? before.at(-1)!.kind === 'connect' : inside.length > 0 ? inside[0]!.kind === 'disconnect' : (peer?.online ?? false);
  let since = start;
  let onlineMs = 0;
  for (const event of inside) {
    if (online) onlineMs += event.at - since;
    online = event.kind === 'connect';
    since = event.at;
  }
  if (online) {
    const end = peer && !peer.online ? Math.min(now, Math.max(since, peer.lastSeen)) : now;
    onlineMs += end - since;
  }
  const observedMs = now - start;
  return { fraction: observedMs > 0 ? onlineMs / observedMs : NaN, onlineMs, observedMs };
}

export interface LevelAvailability {
  level: number;
  peers: number;
  mean: number;
  median: number;
}

/** Availability per reliability level, for the table of docs/DURABILITY.md (peers observed for nothing are left out). */
export function availabilityByLevel(peers: readonly { level: number; fraction: number }[]): LevelAvailability[] {
  const byLevel = groupBy(
    peers.filter(({ fraction }) => !Number.isNaN(fraction)),
    ({ level }) => level,
    ({ fraction }) => fraction,
  );
  return [...byLevel.entries()]
    .sort(([a], [b]) => a - b)
    .map(([level, fractions]) => {
      const sorted = [...fractions].sort((a, b) => a - b);
      const middle = sorted.length >> 1;
      const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
      return { level, peers: sorted.length, mean: sorted.reduce((sum, f) => sum + f, 0) / sorted.length, median };
    });
}

function checkScheme(k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < k) throw new RangeError(`a scheme needs 1 ≤ k ≤ n, not k = ${k}, n = ${n}`);
}

function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability is between 0 and 1, not ${p}`);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
