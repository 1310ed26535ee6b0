import { describe, expect, it } from 'vitest';
import { effectiveCapacity, isVetted, ownerAllowance, provenWeight } from '../../shared/earned.ts';
import { GiB, MiB } from '../../shared/units.ts';

const policy = { newcomerSpace: 256 * MiB, growth: 2, maturityMs: 1000 };

describe('what a host has earned', () => {
  it.each([
    ['a newcomer offering little is credited what it offers', 100 * MiB, 0, 100 * MiB],
    ['a newcomer claiming the moon is credited the newcomer allowance', Number.MAX_SAFE_INTEGER, 0, 256 * MiB],
    ['proven bytes grow the credit', 4 * GiB, GiB, 256 * MiB + 2 * GiB],
    ['never more than it offers', GiB, 10 * GiB, GiB],
  ])('%s', (_, claimed, proven, expected) => {
    expect(effectiveCapacity(claimed, proven, policy)).toBe(expected);
  });

  it('counts a replica fully once held for the maturity period', () => {
    expect([provenWeight(0, 1000), provenWeight(500, 1000), provenWeight(5000, 1000), provenWeight(-5, 1000), provenWeight(0, 0)]).toEqual([0, 0.5, 1, 0, 1]);
  });

  it('vets a host after enough audits and enough time', () => {
    const rule = { audits: 3, periodMs: 100 };
    expect(isVetted({ firstSeen: 0, auditsPassed: 3 }, 100, rule)).toBe(true);
    expect(isVetted({ firstSeen: 0, auditsPassed: 2 }, 1000, rule)).toBe(false);
    expect(isVetted({ firstSeen: 50, auditsPassed: 30 }, 100, rule)).toBe(false);
  });

  it('lets an owner store about as much as it gives', () => {
    expect(ownerAllowance(0, { allowance: GiB, ratio: 1 })).toBe(GiB);
    expect(ownerAllowance(3 * GiB, { allowance: GiB, ratio: 1 })).toBe(4 * GiB);
  });
});
