/// <reference path="../../web/src/lib/net/simple-peer.d.ts" />
import { describe, expect, it } from 'vitest';
import { PeercloudError } from '../../shared/errors.ts';
import type { PeerStatus } from '../../shared/protocol.ts';
import { GB, GiB, MB } from '../../shared/units.ts';
import { describeError, UNEXPECTED } from '../../web/src/lib/error-words.ts';
import { TransferFailure } from '../../web/src/lib/net/peer-link.ts';
import { environmentProblem, REQUIRED_APIS, type EnvironmentProbe } from '../../web/src/lib/environment.ts';
import { offerStops, stopIndex } from '../../web/src/lib/offer.ts';
import { modulesPath, qrCode } from '../../web/src/lib/qr.ts';
import { describeLevel, explainLevelChange, tips } from '../../web/src/lib/level-words.ts';
import { describeRedundancy } from '../../web/src/lib/redundancy-words.ts';
import { leaveWarning, othersOnline } from '../../web/src/lib/leaving.ts';
import { distinctLabels } from '../../web/src/lib/names.ts';
import { addSample, bytesPerSecond, formatTimeLeft, forwardOnly, secondsLeft, uploadFraction } from '../../web/src/lib/progress.ts';

describe('upload progress over every copy', () => {
  it.each([
    ['nothing sent yet', 100, 2, [], 0],
    ['one copy half way, the other not started', 100, 2, [50], 0.25],
    ['both copies half way', 100, 2, [50, 50], 0.5],
    ['one copy done, one at a quarter', 100, 2, [100, 25], 0.625],
    ['a replacement beyond the wanted copies counts for nothing', 100, 2, [100, 100, 30], 1],
    ['bytes beyond a copy are not counted twice', 100, 1, [150], 1],
    ['an empty file is done when its copies are', 0, 2, [0], 0.5],
    ['no copies wanted', 100, 0, [], 1],
  ])('%s', (_case, copyBytes, wanted, moved, fraction) => {
    expect(uploadFraction(copyBytes, wanted, moved)).toBeCloseTo(fraction);
  });

  it('never moves backwards: a host leaving takes its bytes, the bar waits', () => {
    let shown = 0;
    const seen: number[] = [];
    // Two copies at 60 %, then one host leaves (its copy drops out) and a new one starts from 0.
    for (const moved of [[30, 30], [60, 60], [60], [60, 10], [100, 40], [100, 90], [100, 100]]) {
      shown = forwardOnly(shown, uploadFraction(100, 2, moved));
      seen.push(shown);
    }
    expect(seen).toEqual([0.3, 0.6, 0.6, 0.6, 0.7, 0.95, 1]);
  });
});

describe('speed and time left', () => {
  it('measures over the last few seconds only', () => {
    let samples = addSample([], { at: 0, bytes: 0 });
    samples = addSample(samples, { at: 500, bytes: 1 * MB });
    expect(bytesPerSecond(samples)).toBeUndefined();
    for (let at = 1000; at <= 10_000; at += 1000) samples = addSample(samples, { at, bytes: (at / 1000) * 2 * MB });
    // Only the last 5 s (plus one sample before them) are kept: 2 MB/s.
    expect(samples[0]!.at).toBe(4000);
    expect(bytesPerSecond(samples)).toBeCloseTo(2 * MB);
  });
  it.each([
    [0, 1000, 0],
    [10 * MB, 2 * MB, 5],
    [10 * MB, undefined, undefined],
    [10 * MB, 0, undefined],
  ])('%d bytes at %s B/s leave %s s', (remaining, rate, left) => {
    expect(secondsLeft(remaining, rate)).toBe(left);
  });
  it.each([
    [undefined, undefined],
    [Infinity, undefined],
    [2, 'a few seconds left'],
    [41, 'about 45 s left'],
    [150, 'about 3 min left'],
    [7200, 'about 2 h left'],
    [5400, 'about 1.5 h left'],
  ])('%s s reads "%s"', (seconds, text) => {
    expect(formatTimeLeft(seconds)).toBe(text);
  });
});

describe('duplicate names', () => {
  it('tells files of the same name apart, oldest first, without taking a real name', () => {
    const labels = distinctLabels([
      { id: 'b', name: 'photo.jpg', order: 2 },
      { id: 'a', name: 'photo.jpg', order: 1 },
      { id: 'c', name: 'photo.jpg (2)', order: 0 },
      { id: 'd', name: 'photo.jpg', order: 3 },
      { id: 'e', name: 'notes.md', order: 4 },
    ]);
    expect(Object.fromEntries(labels)).toEqual({ a: 'photo.jpg', b: 'photo.jpg (3)', c: 'photo.jpg (2)', d: 'photo.jpg (4)', e: 'notes.md' });
  });
});

describe('leaving the page', () => {
  it('says nothing when nothing is under way', () => {
    expect(leaveWarning({ uploads: 0, downloads: 0, deletions: 0, hosting: 0 })).toBeUndefined();
  });
  it('names what would stop, and what it costs a host', () => {
    expect(leaveWarning({ uploads: 2, downloads: 0, deletions: 1, hosting: 1 })).toBe(
      'If you close this tab now, 2 uploads would stop (you can resume later by choosing the file again); 1 deletion would be carried out at once; 1 transfer for other peers would fail, which counts against this browser’s reliability level for 24 hours.',
    );
  });
  it.each([
    [1, true, 0],
    [3, true, 2],
    [3, false, 3],
    [0, true, 0],
  ])('%d online, this one counted: %s → %d others', (online, self, others) => {
    expect(othersOnline(online, self)).toBe(others);
  });
});

const status = (level: number, scores: [number, number, number], metrics: Partial<PeerStatus['metrics']> = {}): PeerStatus => ({
  id: 'a'.repeat(32),
  level,
  scores: { trust: scores[0], dynamism: scores[1], availability: scores[2] },
  metrics: { capacity: GiB, disconnections: 0, rejections: 0, integrityFailures: 0, ...metrics },
  proven: 0,
  credited: GiB,
  vetted: false,
  used: 0,
  reserved: 0,
  free: GiB,
});

describe('the level in words', () => {
  it.each([
    ['a disconnection', status(5, [5, 5, 5]), status(4, [5, 4, 5]), 'Your reliability level went down from 5 to 4: this browser disconnected (closing the tab or losing the network counts for 24 hours).'],
    ['a smaller offer', status(4, [4, 5, 5]), status(3, [1, 5, 5]), 'Your reliability level went down from 4 to 3: less of the storage this browser lends counts now (it lends less, or lost some of what it held).'],
    ['an old disconnection leaving the window', status(4, [5, 3, 5]), status(5, [5, 5, 5]), 'Your reliability level went up from 4 to 5: a disconnection is more than 24 hours old now.'],
    [
      'two reasons at once',
      status(5, [5, 5, 5]),
      status(4, [5, 4, 4]),
      'Your reliability level went down from 5 to 4: this browser disconnected (closing the tab or losing the network counts for 24 hours); and this browser turned down, failed or did not prove a request (it counts for 24 hours).',
    ],
  ])('explains %s', (_case, before, after, text) => {
    expect(explainLevelChange(before, after)).toBe(text);
  });
  it('says nothing when the level stayed', () => {
    expect(explainLevelChange(status(4, [5, 4, 5]), status(4, [4, 4, 5]))).toBeUndefined();
  });
  it('gives the tips of the scores below 5, lowest first, none at the top', () => {
    expect(tips(status(4, [5, 3, 4]))).toEqual(['Keep this tab open: each disconnection counts for 24 hours.', 'Keep room for what you lend, and the tab open while it passes files.']);
    expect(tips(status(5, [5, 5, 5]))).toEqual([]);
    expect(describeLevel(4)).toBe('4 of 5 — good');
  });
});

describe('where the page can run', () => {
  const everything = Object.fromEntries(Object.keys(REQUIRED_APIS).map((api) => [api, true])) as EnvironmentProbe['available'];
  it('runs in a secure context with every API', () => {
    expect(environmentProblem({ secureContext: true, href: 'https://cloud.example/', available: everything })).toBeUndefined();
  });
  it('explains an insecure address with the two that work', () => {
    expect(environmentProblem({ secureContext: false, href: 'http://192.168.1.10:3000/files?x=1', available: everything })).toEqual({
      kind: 'insecure',
      openedAt: 'http://192.168.1.10:3000',
      httpsUrl: 'https://192.168.1.10:3000/',
      localhostUrl: 'http://localhost:3000/',
    });
  });
  it('names each missing API', () => {
    expect(environmentProblem({ secureContext: true, href: 'http://localhost:3000/', available: { ...everything, webLocks: false, originPrivateFileSystem: false } })).toEqual({
      kind: 'missing',
      apis: [REQUIRED_APIS.webLocks, REQUIRED_APIS.originPrivateFileSystem],
    });
  });
});

describe('storage slider stops', () => {
  it('gives round amounts, the suggested and current ones and the most possible, never two almost equal', () => {
    expect(offerStops(8 * GB, GiB, GiB)).toEqual([0, 100 * MB, 250 * MB, 500 * MB, GiB, 2 * GB, 5 * GB, 8 * GB]);
    expect(offerStops(300 * MB, 50 * MB, GiB)).toEqual([0, 50 * MB, 100 * MB, 250 * MB, 300 * MB]);
  });
  it('finds the stop a value sits on or just above', () => {
    const stops = offerStops(8 * GB, GiB, GiB);
    expect(stopIndex(stops, GiB)).toBe(4);
    expect(stopIndex(stops, 3 * GB)).toBe(5);
    expect(stopIndex(stops, 0)).toBe(0);
  });
});

describe('QR codes as a path', () => {
  it('draws each horizontal run of dark modules as one rectangle', () => {
    expect(
      modulesPath([
        [true, true, false, true],
        [false, false, false, false],
        [false, true, true, true],
      ]),
    ).toBe('M0 0h2v1h-2zM3 0h1v1h-1zM1 2h3v1h-3z');
  });
  it('encodes a link with its finder patterns and quiet zone', () => {
    const { size, path } = qrCode('https://cloud.example:3000/');
    // 27 bytes need version 3 (29 modules) at medium correction; plus two on each side.
    expect(size).toBe(33);
    // The top-left finder pattern: a 7-module dark run at the corner inside the quiet zone.
    expect(path.startsWith('M2 2h7v1h-7z')).toBe(true);
  });
});

describe('errors in words', () => {
  it.each([
    ['words written for people', 'that is not the same file.', 'that is not the same file.'],
    ['a tracker refusal', new PeercloudError('NO_HOST', 'No other peer is online to store this file.'), 'No other peer is online to store this file.'],
    ['a code the page words itself', new PeercloudError('OFFLINE', 'socket closed'), 'Not connected to the tracker. It will retry by itself.'],
    ['a transfer failure, by its code only', new TransferFailure('PEER_GONE', 'peer 7x… said: disk on fire'), 'Transfer failed: the other peer went offline.'],
    ['a full disk', new DOMException('quota', 'QuotaExceededError'), 'This browser ran out of storage space.'],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'estimate')"), UNEXPECTED],
    ['anything else thrown', { stack: 'at main (main.ts:1:1)' }, UNEXPECTED],
  ])('%s', (_case, error, text) => {
    expect(describeError(error)).toBe(text);
  });
});

describe('how the cloud keeps files, in words', () => {
  it.each([
    [[{ k: 1, n: 2 }], 'Each file is kept on 2 other browsers, so your cloud needs at least 2 more, online.'],
    [[{ k: 4, n: 6 }], 'Each file is cut into 6 encrypted fragments, any 4 of which give it back, kept on 6 other browsers, so your cloud needs at least 6 more, online.'],
    [
      [
        { k: 4, n: 8 },
        { k: 1, n: 2 },
      ],
      'Each file is kept on 2 other browsers, so your cloud needs at least 2 more, online. With 8 or more, files are cut into 8 encrypted fragments instead, any 4 of which give them back: they then survive 4 peers leaving rather than 1.',
    ],
  ])('%j', (schemes, words) => {
    expect(describeRedundancy(schemes)).toBe(words);
  });
});
