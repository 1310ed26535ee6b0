import { describe, expect, it } from 'vitest';
import { chooseHosts, type HostCandidate } from '../../shared/placement.ts';

const ids = (hosts: HostCandidate[]) => hosts.map((h) => h.id);

describe('chooseHosts', () => {
  it("the paper's example: a level-3 uploader goes to the level-3 candidate with more free space", () => {
    const candidates: HostCandidate[] = [
      { id: 'p5', level: 5, free: 900 },
      { id: 'p4', level: 4, free: 800 },
      { id: 'p3a', level: 3, free: 200 },
      { id: 'p3b', level: 3, free: 300 },
      { id: 'p1', level: 1, free: 1000 },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 3, bytes: 100, replicas: 1 }, candidates))).toEqual(['p3b']);
  });

  it.each([
    // uploader level, replicas, expected order
    [3, 2, ['p3b', 'p3a']],
    [3, 3, ['p3b', 'p3a', 'p4']], // distance 1: the higher level (4) wins the tie with… nobody at 2
    [3, 5, ['p3b', 'p3a', 'p4', 'p5', 'p1']],
    [5, 3, ['p5', 'p4', 'p3b']],
    [1, 2, ['p1', 'p3b']], // nobody at 2: distance 2 is level 3
    [2, 3, ['p3b', 'p3a', 'p1']], // distance 1 both ways: 3 beats 1, both 3s first
  ])('uploader at level %i wanting %i replicas → %j', (level, replicas, expected) => {
    const candidates: HostCandidate[] = [
      { id: 'p5', level: 5, free: 900 },
      { id: 'p4', level: 4, free: 800 },
      { id: 'p3a', level: 3, free: 200 },
      { id: 'p3b', level: 3, free: 300 },
      { id: 'p1', level: 1, free: 1000 },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: level, bytes: 100, replicas }, candidates))).toEqual(expected);
  });

  it('never places on the uploader, nor on hosts without room for the bytes', () => {
    const candidates: HostCandidate[] = [
      { id: 'u', level: 3, free: 10_000 },
      { id: 'tight', level: 3, free: 99 },
      { id: 'exact', level: 3, free: 100 },
      { id: 'full', level: 3, free: -5 },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 3, bytes: 100, replicas: 3 }, candidates))).toEqual(['exact']);
  });

  it('returns none when nobody can take it, and breaks full ties by id', () => {
    expect(chooseHosts({ uploaderId: 'u', uploaderLevel: 3, bytes: 100, replicas: 2 }, [])).toEqual([]);
    const tied: HostCandidate[] = [
      { id: 'b', level: 4, free: 500 },
      { id: 'a', level: 4, free: 500 },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 4, bytes: 1, replicas: 2 }, tied))).toEqual(['a', 'b']);
  });

  it('prefers the higher level at equal distance even with less free space', () => {
    const candidates: HostCandidate[] = [
      { id: 'low', level: 2, free: 10_000 },
      { id: 'high', level: 4, free: 100 },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 3, bytes: 100, replicas: 1 }, candidates))).toEqual(['high']);
  });
});
