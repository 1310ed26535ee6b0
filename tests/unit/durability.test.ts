import { describe, expect, it } from 'vitest';
import {
  availabilityByLevel,
  onlineFraction,
  readableProbability,
  readableProbabilityOf,
  readableWithRepair,
  solveLinear,
  storageOverhead,
  timeToLoss,
  timeToLossWithoutRepair,
  type PresenceEvent,
} from '../../shared/durability.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('probability that a file is readable', () => {
  it.each([
    // The sanity figures: at 50 % availability two replicas beat 4-of-8.
    ['replicate:2 at 0.5', 1, 2, 0.5, 0.75],
    ['rs:4+4 at 0.5 (1 − P[Bin(8, ½) < 4] = 163/256)', 4, 8, 0.5, 0.63671875],
    ['rs:4+2 at 0.5 (22/64)', 4, 6, 0.5, 0.34375],
    ['rs:3+7 at 0.5 (1 − 56/1024)', 3, 10, 0.5, 0.9453125],
    ['replicate:3 at 0.9', 1, 3, 0.9, 0.999],
    ['k = n is every host online', 3, 3, 0.9, 0.729],
    ['rs:6+3 at 0.9', 6, 9, 0.9, 0.99167],
    ['nobody online', 1, 3, 0, 0],
    ['everybody online', 6, 9, 1, 1],
  ])('%s', (_, k, n, p, expected) => {
    expect(readableProbability(k, n, p)).toBeCloseTo(expected, 5);
  });

  it.each([0, 0.01, 0.3, 0.5, 0.9, 1])('replicate:1 is p itself (%d)', (p) => {
    expect(readableProbability(1, 1, p)).toBeCloseTo(p, 12);
  });

  it('grows with availability, falls with k, grows with n', () => {
    for (const [k, n] of [
      [1, 2],
      [4, 6],
      [3, 10],
      [10, 15],
    ] as const) {
      let previous = -1;
      for (let p = 0; p <= 1.0001; p += 0.05) {
        const value = readableProbability(k, n, Math.min(1, p));
        expect(value).toBeGreaterThanOrEqual(previous);
        previous = value;
      }
    }
    for (let k = 2; k <= 8; k++) expect(readableProbability(k, 8, 0.7)).toBeLessThan(readableProbability(k - 1, 8, 0.7));
    for (let n = 5; n <= 12; n++) expect(readableProbability(4, n, 0.7)).toBeGreaterThan(readableProbability(4, n - 1, 0.7));
  });

  it('with hosts of different availability, by host', () => {
    expect(readableProbabilityOf(1, [1, 0, 0.5])).toBeCloseTo(1, 12);
    expect(readableProbabilityOf(2, [1, 0, 0.5])).toBeCloseTo(0.5, 12);
    expect(readableProbabilityOf(3, [1, 0, 0.5])).toBeCloseTo(0, 12);
    expect(readableProbabilityOf(2, [0.9, 0.5, 0.2])).toBeCloseTo(0.9 * 0.5 + 0.9 * 0.2 + 0.5 * 0.2 - 2 * 0.9 * 0.5 * 0.2, 12);
    // The same p everywhere is the binomial case.
    for (const [k, n, p] of [
      [4, 6, 0.7],
      [3, 10, 0.5],
      [1, 2, 0.9],
    ] as const) {
      expect(readableProbabilityOf(k, new Array(n).fill(p))).toBeCloseTo(readableProbability(k, n, p), 12);
    }
  });

  it.each<[string, () => unknown]>([
    ['k of 0', () => readableProbability(0, 3, 0.5)],
    ['k over n', () => readableProbability(4, 3, 0.5)],
    ['p over 1', () => readableProbability(1, 3, 1.5)],
    ['p not a number', () => readableProbabilityOf(1, [Number.NaN])],
  ])('refuses %s', (_, act) => {
    expect(act).toThrow(RangeError);
  });
});

describe('storage overhead', () => {
  it.each([
    [1, 2, 2],
    [1, 3, 3],
    [4, 6, 1.5],
    [6, 9, 1.5],
    [3, 10, 10 / 3],
  ])('k = %i, n = %i → %d', (k, n, overhead) => {
    expect(storageOverhead(k, n)).toBeCloseTo(overhead, 12);
  });
});

describe('expected time to loss', () => {
  it.each([
    [1, 2, 1],
    [1, 3, 0.5],
    [4, 6, 1 / 30],
    [3, 10, 1 / 365],
  ])('without repair, k = %i, n = %i, λ = %d: the pure death process Σ 1/(iλ)', (k, n, lambda) => {
    let closedForm = 0;
    for (let i = k; i <= n; i++) closedForm += 1 / (i * lambda);
    expect(timeToLossWithoutRepair(k, n, lambda)).toBeCloseTo(closedForm, 9);
    for (const threshold of [k - 1, k, n]) {
      expect(timeToLoss({ k, n, departureRate: lambda, repairRate: 0, repairThreshold: threshold }).meanTimeToLoss).toBeCloseTo(closedForm, 9);
    }
  });

  it.each([
    [1, 0],
    [1, 10],
    [0.1, 24],
    [1 / 30, 96],
  ])('two mirrored copies, λ = %d, μ = %d: the textbook (3λ + μ) / (2λ²)', (lambda, mu) => {
    const { meanTimeToLoss } = timeToLoss({ k: 1, n: 2, departureRate: lambda, repairRate: mu, repairThreshold: 1 });
    expect(meanTimeToLoss).toBeCloseTo((3 * lambda + mu) / (2 * lambda * lambda), 6);
  });

  it('grows with the repair rate and with an earlier repair threshold', () => {
    const base = { k: 4, n: 6, departureRate: 1 / 30, repairThreshold: 5 };
    let previous = 0;
    for (const mu of [0, 0.1, 1, 10, 100]) {
      const time = timeToLoss({ ...base, repairRate: mu }).meanTimeToLoss;
      expect(time).toBeGreaterThan(previous);
      previous = time;
    }
    const late = timeToLoss({ k: 3, n: 10, departureRate: 1 / 30, repairRate: 10, repairThreshold: 4 }).meanTimeToLoss;
    const early = timeToLoss({ k: 3, n: 10, departureRate: 1 / 30, repairRate: 10, repairThreshold: 9 }).meanTimeToLoss;
    expect(early).toBeGreaterThan(late);
  });

  it('spends its time in the live states, which add up to the mean', () => {
    const outcome = timeToLoss({ k: 4, n: 6, departureRate: 1, repairRate: 5, repairThreshold: 5 });
    expect(outcome.timeWith.map(({ live }) => live)).toEqual([6, 5, 4]);
    expect(outcome.timeWith.reduce((sum, { time }) => sum + time, 0)).toBeCloseTo(outcome.meanTimeToLoss, 12);
    // Every visit to 6 lasts 1/(6λ) on average.
    expect(outcome.timeWith.every(({ time }) => time > 0)).toBe(true);
  });

  it('readable with repair is at most readable with every piece there, and tends to it when repair is fast', () => {
    for (const p of [0.5, 0.7, 0.9]) {
      const whole = readableProbability(4, 6, p);
      const slow = readableWithRepair({ k: 4, n: 6, departureRate: 1, repairRate: 1, repairThreshold: 5 }, p);
      const fast = readableWithRepair({ k: 4, n: 6, departureRate: 1, repairRate: 1e6, repairThreshold: 5 }, p);
      expect(slow).toBeLessThan(whole);
      expect(fast).toBeLessThanOrEqual(whole);
      expect(fast).toBeCloseTo(whole, 4);
    }
  });

  it.each<[string, () => unknown]>([
    ['no departures', () => timeToLoss({ k: 1, n: 2, departureRate: 0, repairRate: 1, repairThreshold: 1 })],
    ['a negative repair rate', () => timeToLoss({ k: 1, n: 2, departureRate: 1, repairRate: -1, repairThreshold: 1 })],
    ['a threshold above n', () => timeToLoss({ k: 1, n: 2, departureRate: 1, repairRate: 1, repairThreshold: 3 })],
  ])('refuses %s', (_, act) => {
    expect(act).toThrow(RangeError);
  });

  it('solves linear systems that need a row swap', () => {
    const x = solveLinear(
      [
        [0, 2, 1],
        [1, 1, 0],
        [2, 0, 3],
      ],
      [7, 3, 11],
    );
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBeCloseTo(2, 12);
    expect(x[2]).toBeCloseTo(3, 12);
  });
});

describe('online fraction of the last day, from connect and disconnect events', () => {
  const now = 10 * DAY;
  const at = (hoursAgo: number) => now - hoursAgo * HOUR;
  const ev = (kind: string, hoursAgo: number): PresenceEvent => ({ kind, at: at(hoursAgo) });
  const old = { online: false, lastSeen: at(0), firstSeen: at(1000) };

  it.each<[string, PresenceEvent[], Parameters<typeof onlineFraction>[3], number]>([
    ['online the whole day, connected before it', [ev('connect', 30)], { ...old, online: true }, 1],
    ['online the whole day, no event at all', [], { ...old, online: true }, 1],
    ['offline the whole day, no event at all', [], old, 0],
    ['offline the whole day, gone before it', [ev('connect', 40), ev('disconnect', 30)], old, 0],
    ['six hours this morning', [ev('connect', 12), ev('disconnect', 6)], old, 0.25],
    ['online at the start (first event is a disconnect), back for the last hour', [ev('disconnect', 18), ev('connect', 1)], { ...old, online: true }, 7 / 24],
    ['two sessions, other kinds of event ignored', [ev('connect', 20), ev('rejection', 19), ev('disconnect', 14), ev('integrity_failure', 5), ev('connect', 4), ev('disconnect', 2)], old, 8 / 24],
    ['events out of order', [ev('disconnect', 14), ev('connect', 20)], old, 6 / 24],
    ['a reconnect after a tracker restart is one session', [ev('connect', 10), ev('connect', 8), ev('disconnect', 4)], old, 6 / 24],
    ['a session left open by a crash ends at last_seen', [ev('connect', 10)], { ...old, lastSeen: at(7) }, 3 / 24],
    ['first seen six hours ago: counted over those six', [ev('connect', 6), ev('disconnect', 3)], { online: false, lastSeen: at(3), firstSeen: at(6) }, 0.5],
  ])('%s', (_, events, peer, fraction) => {
    expect(onlineFraction(events, now, DAY, peer).fraction).toBeCloseTo(fraction, 9);
  });

  it('without the peer row, a session open at the end lasts until now', () => {
    expect(onlineFraction([ev('connect', 6)], now, DAY).fraction).toBeCloseTo(0.25, 9);
    expect(onlineFraction([ev('disconnect', 6)], now, DAY).fraction).toBeCloseTo(0.75, 9);
  });

  it('says how much was observed, and gives no fraction for a peer first seen now', () => {
    expect(onlineFraction([ev('connect', 6)], now, DAY, { online: true, lastSeen: now, firstSeen: at(6) })).toEqual({ fraction: 1, onlineMs: 6 * HOUR, observedMs: 6 * HOUR });
    expect(onlineFraction([], now, DAY, { online: true, lastSeen: now, firstSeen: now }).fraction).toBeNaN();
  });
});

describe('availability per reliability level', () => {
  it('gives the count, mean and median of each level, levels in order, unobserved peers left out', () => {
    expect(
      availabilityByLevel([
        { level: 5, fraction: 1 },
        { level: 2, fraction: 0.2 },
        { level: 5, fraction: 0.9 },
        { level: 2, fraction: 0.4 },
        { level: 2, fraction: 0.9 },
        { level: 3, fraction: Number.NaN },
      ]),
    ).toEqual([
      { level: 2, peers: 3, mean: expect.closeTo(0.5, 9), median: 0.4 },
      { level: 5, peers: 2, mean: expect.closeTo(0.95, 9), median: expect.closeTo(0.95, 9) },
    ]);
  });
});
