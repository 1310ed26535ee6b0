/**
 * The paper's reliability index. Three metrics, each scored 1 (worst) to 5 (best):
 * - trust: how much storage the peer offers;
 * - dynamism: how often it disconnected in the last 24 hours;
 * - availability: how many storage requests it rejected in the last 24 hours.
 * The level is their mean, rounded half up. Pure: the tracker feeds it counts from its database.
 */
import { GiB, MiB } from './units.ts';

export type Score = 1 | 2 | 3 | 4 | 5;

export interface ReliabilityThresholds {
  /** Minimum offered bytes for trust scores 5, 4, 3 and 2 (descending); below the last → 1. */
  trust: readonly [number, number, number, number];
  /** Maximum disconnections in 24 h for dynamism scores 5, 4, 3 and 2 (ascending); above the last → 1. */
  dynamism: readonly [number, number, number, number];
  /** Maximum rejections in 24 h for availability scores 5, 4, 3 and 2 (ascending); above the last → 1. */
  availability: readonly [number, number, number, number];
}

export const DEFAULT_THRESHOLDS: ReliabilityThresholds = {
  trust: [4 * GiB, 1 * GiB, 256 * MiB, 64 * MiB],
  dynamism: [0, 1, 3, 7],
  availability: [0, 1, 3, 7],
};

/** The window over which disconnections and rejections count. */
export const RELIABILITY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface ReliabilityMetrics {
  capacity: number;
  disconnections: number;
  rejections: number;
}

export interface Reliability {
  trust: Score;
  dynamism: Score;
  availability: Score;
  level: Score;
}

const SCORES_DESCENDING: readonly Score[] = [5, 4, 3, 2];

export function trustScore(capacity: number, minimums: ReliabilityThresholds['trust']): Score {
  const index = minimums.findIndex((minimum) => capacity >= minimum);
  return index === -1 ? 1 : SCORES_DESCENDING[index]!;
}

/** Fewer events is better: the first step whose maximum the count stays within. */
export function countScore(count: number, maximums: ReliabilityThresholds['dynamism']): Score {
  const index = maximums.findIndex((maximum) => count <= maximum);
  return index === -1 ? 1 : SCORES_DESCENDING[index]!;
}

/** Mean of three integers rounded half up, without floating point: floor((2·sum + 3) / 6). */
export function meanLevel(a: Score, b: Score, c: Score): Score {
  return Math.floor((2 * (a + b + c) + 3) / 6) as Score;
}

export function reliability(metrics: ReliabilityMetrics, thresholds: ReliabilityThresholds = DEFAULT_THRESHOLDS): Reliability {
  const trust = trustScore(metrics.capacity, thresholds.trust);
  const dynamism = countScore(metrics.disconnections, thresholds.dynamism);
  const availability = countScore(metrics.rejections, thresholds.availability);
  return { trust, dynamism, availability, level: meanLevel(trust, dynamism, availability) };
}

/** Thresholds must be monotonic, or a better metric could score worse. */
export function validateThresholds(thresholds: ReliabilityThresholds): string | undefined {
  const descending = (xs: readonly number[]) => xs.every((x, i) => i === 0 || x < xs[i - 1]!);
  const ascending = (xs: readonly number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
  if (!descending(thresholds.trust)) return 'trust thresholds must be strictly descending';
  if (!ascending(thresholds.dynamism)) return 'dynamism thresholds must be strictly ascending';
  if (!ascending(thresholds.availability)) return 'availability thresholds must be strictly ascending';
  return undefined;
}
