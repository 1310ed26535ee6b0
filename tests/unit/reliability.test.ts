import { describe, expect, it } from 'vitest';
import { countScore, DEFAULT_THRESHOLDS, meanLevel, reliability, trustScore, validateThresholds, type Score } from '../../shared/reliability.ts';
import { GiB, MiB } from '../../shared/units.ts';

describe('trust from offered capacity', () => {
  it.each([
    [0, 1],
    [64 * MiB - 1, 1],
    [64 * MiB, 2],
    [256 * MiB - 1, 2],
    [256 * MiB, 3],
    [GiB - 1, 3],
    [GiB, 4],
    [4 * GiB - 1, 4],
    [4 * GiB, 5],
    [1024 * GiB, 5],
  ])('%i bytes → %i', (capacity, score) => {
    expect(trustScore(capacity, DEFAULT_THRESHOLDS.trust)).toBe(score);
  });
});

describe('dynamism and availability from counts in 24 h', () => {
  it.each([
    [0, 5],
    [1, 4],
    [2, 3],
    [3, 3],
    [4, 2],
    [7, 2],
    [8, 1],
    [1000, 1],
  ])('%i events → %i', (count, score) => {
    expect(countScore(count, DEFAULT_THRESHOLDS.dynamism)).toBe(score);
    expect(countScore(count, DEFAULT_THRESHOLDS.availability)).toBe(score);
  });
});

describe('level is the mean rounded half up', () => {
  it.each<[Score, Score, Score, Score]>([
    [5, 5, 5, 5],
    [5, 5, 4, 5], // 4.67
    [5, 4, 4, 4], // 4.33
    [1, 4, 5, 3], // 3.33
    [1, 3, 5, 3],
    [2, 5, 5, 4],
    [1, 1, 5, 2], // 2.33
    [1, 1, 2, 1], // 1.33
    [1, 2, 2, 2], // 1.67
    [1, 1, 1, 1],
  ])('(%i, %i, %i) → %i', (a, b, c, level) => {
    expect(meanLevel(a, b, c)).toBe(level);
  });

  it('combines the three metrics', () => {
    expect(reliability({ capacity: 4 * GiB, disconnections: 0, rejections: 0 })).toEqual({ trust: 5, dynamism: 5, availability: 5, level: 5 });
    expect(reliability({ capacity: 100 * MiB, disconnections: 2, rejections: 8 })).toEqual({ trust: 2, dynamism: 3, availability: 1, level: 2 });
    expect(reliability({ capacity: 0, disconnections: 9, rejections: 9 })).toEqual({ trust: 1, dynamism: 1, availability: 1, level: 1 });
  });

  it('takes thresholds from configuration', () => {
    const strict = { ...DEFAULT_THRESHOLDS, dynamism: [0, 0.5, 0.6, 0.7] as const };
    expect(reliability({ capacity: 4 * GiB, disconnections: 1, rejections: 0 }, strict).dynamism).toBe(1);
  });

  it('refuses thresholds that are not monotonic', () => {
    expect(validateThresholds(DEFAULT_THRESHOLDS)).toBeUndefined();
    expect(validateThresholds({ ...DEFAULT_THRESHOLDS, trust: [GiB, 4 * GiB, 1, 0] })).toMatch(/trust/);
    expect(validateThresholds({ ...DEFAULT_THRESHOLDS, availability: [0, 3, 3, 7] })).toMatch(/availability/);
  });
});
