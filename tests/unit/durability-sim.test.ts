import { describe, expect, it } from 'vitest';
import { modelFor, scenarios, sfc32, simulate, type Scenario } from '../../scripts/durability-sim.ts';

describe('the durability simulation', () => {
  it('draws reproducible uniform numbers from a seed', () => {
    const a = sfc32(42);
    const b = sfc32(42);
    const c = sfc32(43);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = first.reduce((sum, x) => sum + x, 0) / first.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });

  it('gives the same figures for the same seed', () => {
    const scenario = scenarios('check')[0]!;
    const options = { runs: 20, seed: 7, horizonHours: 365 * 24 };
    expect(simulate(scenario, options)).toEqual(simulate(scenario, options));
  });

  // Where the chain's assumptions hold by construction, its figures fall in the simulation's
  // 95 % interval (seeded, so this is a fixed check rather than a 1-in-20 gamble).
  it.each(scenarios('check').filter((s) => s.mode === 'model' && s.availability === 0.7 && ['replicate:2', 'rs:4+2'].includes(s.label)))('agrees with the model when its assumptions hold: $label', (scenario: Scenario) => {
    const model = modelFor(scenario);
    const result = simulate(scenario, { runs: 150, seed: 3, horizonHours: 730 * 24 });
    expect(result.losses).toBe(150);
    expect(Math.abs(result.timeToLoss.mean - model.timeToLoss)).toBeLessThanOrEqual(result.timeToLoss.halfWidth);
    expect(Math.abs(result.readable.mean - model.readable)).toBeLessThanOrEqual(result.readable.halfWidth);
  });

  it('stores surplus pieces when a short grace repairs absences and nothing removes them', () => {
    const base = scenarios('check').find((s) => s.mode === 'system' && s.availability === 0.7 && s.label === 'replicate:2')!;
    const options = { runs: 30, seed: 5, horizonHours: 60 * 24 };
    const kept = simulate({ ...base, surplus: 'keep' }, options);
    const dropped = simulate({ ...base, surplus: 'drop' }, options);
    expect(kept.meanPieces).toBeGreaterThan(3);
    expect(dropped.meanPieces).toBeLessThan(kept.meanPieces);
    expect(dropped.repairsPerDay).toBeGreaterThan(kept.repairsPerDay);
  });
});
