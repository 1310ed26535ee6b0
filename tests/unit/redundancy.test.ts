import { describe, expect, it } from 'vitest';
import { storedSize } from '../../shared/chunking.ts';
import { fragmentBytes, fragmentChunkSize, fragmentHealth, needsRepair, parseScheme, schemeName } from '../../shared/redundancy.ts';
import { MiB } from '../../shared/units.ts';

describe('redundancy schemes', () => {
  it.each([
    ['replicate:2', { k: 1, n: 2 }],
    ['rs:4+2', { k: 4, n: 6 }],
    [' rs:3+7 ', { k: 3, n: 10 }],
    ['replicate:0', undefined],
    ['rs:1+1', undefined],
    ['rs:4+0', undefined],
    ['rs:40+30', undefined],
    ['mirror', undefined],
  ])('%s → %j', (text, scheme) => {
    expect(parseScheme(text)).toEqual(scheme);
  });

  it('names them back', () => {
    expect([schemeName({ k: 1, n: 3 }), schemeName({ k: 6, n: 9 })]).toEqual(['replicate:3', 'rs:6+3']);
  });

  it('cuts each sealed chunk in k (rounded up): a whole copy when k = 1', () => {
    expect(fragmentChunkSize(0, 10 * MiB, MiB, 4)).toBe(Math.ceil((MiB + 16) / 4));
    expect(fragmentChunkSize(2, 2 * MiB + 5, MiB, 4)).toBe(Math.ceil((5 + 16) / 4));
    expect(fragmentBytes(3 * MiB, MiB, 1)).toBe(storedSize(3 * MiB, MiB));
    expect(fragmentBytes(0, MiB, 4)).toBe(4);
  });
});

describe('health in fragments', () => {
  const rs44 = { k: 4, n: 8 };
  it.each([
    [{ stored: 8, live: 8 }, 'healthy', 4],
    [{ stored: 8, live: 6 }, 'protected', 2],
    [{ stored: 8, live: 4 }, 'at-risk', 0],
    [{ stored: 8, live: 3 }, 'unavailable', 0],
    [{ stored: 3, live: 3 }, 'lost', 0],
  ] as const)('%j of rs:4+4 → %s, survives %i more', (counts, health, survives) => {
    expect(fragmentHealth(rs44, counts)).toEqual({ health, survives });
  });

  it('counts two whole copies the same way', () => {
    expect(fragmentHealth({ k: 1, n: 2 }, { stored: 2, live: 2 })).toEqual({ health: 'healthy', survives: 1 });
    expect(fragmentHealth({ k: 1, n: 2 }, { stored: 2, live: 1 })).toEqual({ health: 'at-risk', survives: 0 });
  });

  it.each([
    [{ k: 1, n: 2 }, 'k+1', 1, true],
    [{ k: 1, n: 2 }, 'k+1', 2, false],
    [{ k: 1, n: 3 }, 'k+1', 2, true],
    [{ k: 4, n: 8 }, 'k+1', 6, false],
    [{ k: 4, n: 8 }, 'k+1', 5, true],
    [{ k: 4, n: 8 }, 'n-1', 7, true],
    [{ k: 4, n: 8 }, 'n-1', 3, false], // unreadable: nothing to rebuild from
    [{ k: 4, n: 8 }, 6, 6, true],
  ] as const)('%j with threshold %s at %i live: repair %s', (scheme, threshold, live, expected) => {
    expect(needsRepair(scheme, live, threshold)).toBe(expected);
  });
});
