import { describe, expect, it } from 'vitest';
import { rankSources, type SourceCandidate } from '../../shared/host-ranking.ts';

const host = (id: string, level: number, recentFailures = 0, busy = 0): SourceCandidate => ({ id, level, recentFailures, busy });

describe('ranking the hosts to read a file from', () => {
  it.each([
    ['the most reliable first', [host('a', 3), host('b', 5), host('c', 4)], ['b', 'c', 'a']],
    ['a host that just failed this file goes last, whatever its level', [host('a', 5, 1), host('b', 2)], ['b', 'a']],
    ['fewer recent failures first', [host('a', 5, 2), host('b', 5, 1)], ['b', 'a']],
    ['at equal level, the least busy', [host('a', 4, 0, 3), host('b', 4, 0, 1)], ['b', 'a']],
    ['then by id, so the choice is stable', [host('b', 4), host('a', 4)], ['a', 'b']],
    ['nothing to rank', [], []],
  ] as const)('%s', (_, candidates, expected) => {
    expect(rankSources(candidates).map((c) => c.id)).toEqual(expected);
  });

  it('does not reorder its input', () => {
    const input = [host('a', 1), host('b', 5)];
    rankSources(input);
    expect(input.map((c) => c.id)).toEqual(['a', 'b']);
  });
});
