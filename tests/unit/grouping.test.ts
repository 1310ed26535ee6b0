import { describe, expect, it } from 'vitest';
import { groupBy } from '../../shared/grouping.ts';

describe('groupBy', () => {
  it('keeps the order groups were first met and the items’ own order within each', () => {
    const groups = groupBy(['b1', 'a1', 'b2', 'c1', 'a2'], (s) => s[0]);
    expect([...groups.keys()]).toEqual(['b', 'a', 'c']);
    expect(groups.get('a')).toEqual(['a1', 'a2']);
    expect(groups.get('b')).toEqual(['b1', 'b2']);
  });

  it('maps each item into its group when asked', () => {
    const groups = groupBy([{ host: 'h', file: 'f1' }, { host: 'h', file: 'f2' }, { host: 'g', file: 'f3' }], (r) => r.host, (r) => r.file);
    expect(Object.fromEntries(groups)).toEqual({ h: ['f1', 'f2'], g: ['f3'] });
  });

  it('gives an empty map for no items', () => {
    expect(groupBy([], (x: number) => x).size).toBe(0);
  });
});
