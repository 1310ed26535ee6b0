import { describe, expect, it } from 'vitest';
import { base32 } from '../../shared/encoding.ts';
import { chooseHosts, compareCandidates, levelOrder, splitByLockOrder, tiePivot, type HostCandidate } from '../../shared/placement.ts';

const ids = (hosts: HostCandidate[]) => hosts.map((h) => h.id);

describe('chooseHosts', () => {
  it('chooses a host listed twice (once with its room before another placement took some) once', () => {
    const candidates: HostCandidate[] = [
      { id: 'a', level: 3, free: 900 },
      { id: 'b', level: 3, free: 800 },
      { id: 'a', level: 3, free: 700 },
      { id: 'c', level: 3, free: 600 },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 3, bytes: 100, replicas: 3 }, candidates))).toEqual(['a', 'b', 'c']);
  });

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

  it('puts copies of one file on distinct networks; hosts on the tracker’s LAN (no network) are exempt', () => {
    const candidates: HostCandidate[] = [
      { id: 'a1', level: 5, free: 900, network: '203.0.113.0/24' },
      { id: 'a2', level: 5, free: 800, network: '203.0.113.0/24' },
      { id: 'b', level: 5, free: 100, network: '198.51.100.0/24' },
      { id: 'lan1', level: 5, free: 50, network: null },
      { id: 'lan2', level: 5, free: 40, network: null },
    ];
    const request = { uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 4 };
    expect(ids(chooseHosts(request, candidates))).toEqual(['a1', 'b', 'lan1', 'lan2']);
    // A network that already holds a copy is passed over.
    expect(ids(chooseHosts({ ...request, replicas: 1, heldNetworks: ['203.0.113.0/24'] }, candidates))).toEqual(['b']);
  });

  it('never lets new hosts hold every copy while a vetted one can take one', () => {
    const candidates: HostCandidate[] = [
      { id: 'new1', level: 5, free: 900, vetted: false },
      { id: 'new2', level: 5, free: 800, vetted: false },
      { id: 'old', level: 5, free: 100, vetted: true },
    ];
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 2 }, candidates))).toEqual(['new1', 'old']);
    // One copy only: it goes to the vetted host.
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 1 }, candidates))).toEqual(['old']);
    // Replacing one of two copies when the other is already on a new host.
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 1, copiesWanted: 2, unvettedHolders: 1 }, candidates))).toEqual(['old']);
    // A young cloud, where nobody is vetted yet: new hosts take everything.
    const young = candidates.filter((c) => c.vetted === false);
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 2 }, young))).toEqual(['new1', 'new2']);
  });

  it('breaks ties by vetting, then proven bytes, then an order of its own for each file', () => {
    const tied = (extra: Partial<HostCandidate>[]): HostCandidate[] => extra.map((e, k) => ({ id: `h${k}`, level: 4, free: 500, ...e }));
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 4, bytes: 1, replicas: 1 }, tied([{ vetted: false }, { vetted: true }])))).toEqual(['h1']);
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 4, bytes: 1, replicas: 1 }, tied([{ proven: 10 }, { proven: 20 }])))).toEqual(['h1']);
    // With a file id, who wins a full tie changes from file to file: no identity wins them all.
    const hosts = tied(Array.from({ length: 8 }, () => ({})));
    const winners = new Set(Array.from({ length: 40 }, (_, k) => chooseHosts({ uploaderId: 'u', uploaderLevel: 4, bytes: 1, replicas: 1, fileId: `file${k}` }, hosts)[0]!.id));
    expect(winners.size).toBeGreaterThan(4);
  });
});

describe('new hosts', () => {
  const candidates: HostCandidate[] = [
    { id: 'new', level: 5, free: 900, vetted: false },
    { id: 'old1', level: 5, free: 100, vetted: true },
    { id: 'old2', level: 5, free: 90, vetted: true },
  ];
  it('take copies ahead of vetted hosts for about the share of files asked, by the file’s hash', () => {
    const files = Array.from({ length: 1000 }, (_, k) => `file-${k}`);
    const first = files.filter((fileId) => chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 2, fileId, newcomerShare: 0.05 }, candidates).some((h) => h.id === 'new'));
    expect(first.length).toBeGreaterThan(20);
    expect(first.length).toBeLessThan(90);
    // The same file always gets the same answer.
    expect(chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 10, replicas: 2, fileId: first[0]!, newcomerShare: 0.05 }, candidates).map((h) => h.id)).toContain('new');
  });

  it('still take what no vetted host can', () => {
    expect(ids(chooseHosts({ uploaderId: 'u', uploaderLevel: 5, bytes: 95, replicas: 2, fileId: 'x', newcomerShare: 0 }, candidates))).toEqual(['new', 'old1']);
  });
});

describe('levelOrder', () => {
  it.each([
    [1, [1, 2, 3, 4, 5]],
    [2, [2, 3, 1, 4, 5]],
    [3, [3, 4, 2, 5, 1]],
    [4, [4, 5, 3, 2, 1]],
    [5, [5, 4, 3, 2, 1]],
  ])('for an uploader of level %i: %j, the order compareCandidates ranks hosts of those levels', (level, order) => {
    expect(levelOrder(level)).toEqual(order);
    const hosts = [1, 2, 3, 4, 5].map((l) => ({ id: `h${l}`, level: l, free: 100 }));
    expect(hosts.sort(compareCandidates(level)).map((host) => host.level)).toEqual(order);
  });
});

describe('splitByLockOrder', () => {
  const round = (...ids: string[]) => ids.map((id, fragment) => ({ host: { id }, fragment }));
  const ids = (part: { host: { id: string } }[]) => part.map(({ host }) => host.id);
  it.each([
    { name: 'the first round: every host in order, sorted', hosts: ['c', 'a', 'b'], highest: undefined, inOrder: ['a', 'b', 'c'], outOfOrder: [] },
    { name: 'a later round: hosts above the highest tried wait in order', hosts: ['e', 'd'], highest: 'c', inOrder: ['d', 'e'], outOfOrder: [] },
    { name: 'hosts below the highest tried are passed over if locked', hosts: ['b', 'a'], highest: 'c', inOrder: [], outOfOrder: ['a', 'b'] },
    { name: 'both at once', hosts: ['d', 'a', 'e', 'b'], highest: 'c', inOrder: ['d', 'e'], outOfOrder: ['a', 'b'] },
    { name: 'nothing to place', hosts: [], highest: 'c', inOrder: [], outOfOrder: [] },
  ])('$name', ({ hosts, highest, inOrder, outOfOrder }) => {
    const split = splitByLockOrder(round(...hosts), highest);
    expect(ids(split.inOrder)).toEqual(inOrder);
    expect(ids(split.outOfOrder)).toEqual(outOfOrder);
  });

  it('keeps each host with its fragment', () => {
    const split = splitByLockOrder(round('b', 'a'), undefined);
    expect(split.inOrder).toEqual([
      { host: { id: 'a' }, fragment: 1 },
      { host: { id: 'b' }, fragment: 0 },
    ]);
  });
});

describe('tiePivot', () => {
  const fileIds = Array.from({ length: 2_000 }, (_, n) => base32(new Uint8Array([n >> 8, n & 0xff, 7, 7])));

  it('is the same for the same file, and a place in the order of peer ids (their base32 alphabet)', () => {
    expect(tiePivot('abc')).toBe(tiePivot('abc'));
    for (const fileId of fileIds.slice(0, 50)) expect(tiePivot(fileId)).toMatch(/^[a-z2-7]{7}$/);
  });

  it('spreads files over the whole order: concurrent uploads start among different tied hosts', () => {
    // Peer ids are base32 of a hash: their first character is spread evenly over 32.
    const firsts = new Map<string, number>();
    for (const fileId of fileIds) firsts.set(tiePivot(fileId)[0]!, (firsts.get(tiePivot(fileId)[0]!) ?? 0) + 1);
    expect(firsts.size).toBe(32);
    for (const n of firsts.values()) expect(n).toBeGreaterThan(fileIds.length / 32 / 2);
    expect(new Set(fileIds.map(tiePivot)).size).toBe(fileIds.length);
  });
});
