import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../shared/backoff.ts';
import { chunkCount, chunkRange, SEAL_OVERHEAD, sealedChunkSize, storedSize } from '../../shared/chunking.ts';
import { base32, fromBase64Url, fromHex, toBase64Url, toHex } from '../../shared/encoding.ts';
import { describeFileHealth, fileHealth } from '../../shared/file-health.ts';
import { formatBytes, GiB, KiB, MiB, parseByteSize, parseDuration } from '../../shared/units.ts';

describe('backoffDelay', () => {
  const policy = { baseMs: 500, capMs: 30_000 };
  it.each([
    [0, 250, 500],
    [1, 500, 1000],
    [2, 1000, 2000],
    [5, 8000, 16_000],
    [6, 15_000, 30_000],
    [50, 15_000, 30_000],
  ])('attempt %i stays within [%i, %i]', (attempt, low, high) => {
    expect(backoffDelay(attempt, policy, () => 0)).toBe(low);
    expect(backoffDelay(attempt, policy, () => 0.999_999)).toBe(high);
  });
  it('spreads retries with jitter', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4, policy)));
    expect(delays.size).toBeGreaterThan(10);
  });
});

describe('chunking', () => {
  it.each([
    [0, 1],
    [1, 1],
    [MiB - 1, 1],
    [MiB, 1],
    [MiB + 1, 2],
    [5 * MiB, 5],
  ])('%i bytes in 1 MiB chunks → %i chunks', (size, count) => {
    expect(chunkCount(size, MiB)).toBe(count);
    expect(storedSize(size, MiB)).toBe(size + count * SEAL_OVERHEAD);
  });
  it('gives every chunk its range, the last one shorter', () => {
    expect(chunkRange(0, 2.5 * MiB, MiB)).toEqual({ start: 0, end: MiB });
    expect(chunkRange(2, 2.5 * MiB, MiB)).toEqual({ start: 2 * MiB, end: 2.5 * MiB });
    expect(sealedChunkSize(2, 2.5 * MiB, MiB)).toBe(0.5 * MiB + SEAL_OVERHEAD);
    expect(sealedChunkSize(0, 0, MiB)).toBe(SEAL_OVERHEAD);
  });
});

describe('encodings', () => {
  it('base32 matches RFC 4648 vectors (lower case, unpadded)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [text, encoded] of vectors) expect(base32(new TextEncoder().encode(text))).toBe(encoded);
  });
  it('base64url round-trips any bytes and rejects foreign characters', () => {
    for (let length = 0; length < 70; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
      expect(toBase64Url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
    }
    expect(fromBase64Url('ab+/')).toBeUndefined();
    expect(fromBase64Url('a')).toBeUndefined();
  });
  it('hex round-trips', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    expect(fromHex(toHex(bytes))).toEqual(bytes);
  });
});

describe('sizes and durations', () => {
  it.each([
    ['1048576', MiB],
    ['1MiB', MiB],
    ['1 mib', MiB],
    ['512KiB', 512 * KiB],
    ['4GiB', 4 * GiB],
    ['1.5g', 1.5 * GiB],
    ['1MB', 1_000_000],
  ])('parses %s', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
  it.each(['', 'MiB', '-1', '1 furlong', '1e3'])('refuses %j', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1 KB'],
    [1536, '1.54 KB'],
    [3000, '3 KB'],
    [999_499, '999 KB'],
    [999_500, '1 MB'],
    [5 * MiB, '5.24 MB'],
    [64 * MiB, '67.1 MB'],
    [GiB, '1.07 GB'],
    [1.5e9, '1.5 GB'],
    [4e12, '4 TB'],
  ])('prints %d bytes as %s (decimal units, as people read them)', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
  it.each([
    ['500', 500],
    ['500ms', 500],
    ['10s', 10_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
  ])('parses duration %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it('refuses durations it does not know', () => {
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('10 fortnights')).toBeUndefined();
  });
});

describe('file health in words', () => {
  const file = (state: 'uploading' | 'interrupted' | 'stored' | 'failed', wanted: number, stored: number, online: number) => ({
    state,
    replicas: { wanted, stored, online },
  });
  it.each([
    [file('stored', 2, 2, 2), 'Stored on 2 of 2 peers'],
    [file('stored', 1, 1, 1), 'Stored on 1 of 1 peer'],
    [file('stored', 2, 1, 1), 'Under-replicated: 1 of 2'],
    [file('stored', 2, 2, 1), 'Under-replicated: 1 of 2'],
    [file('stored', 2, 2, 0), 'Unavailable: its hosts are offline'],
    [file('uploading', 2, 0, 0), 'Uploading'],
    [file('uploading', 2, 1, 1), 'Uploading: stored on 1 of 2'],
    [file('failed', 2, 0, 0), 'Upload failed'],
    [file('stored', 2, 0, 0), 'Lost: no peer holds it any more'],
    [file('interrupted', 2, 0, 0), 'Upload interrupted: choose the file again to resume'],
  ])('%j → %s', (summary, text) => {
    expect(describeFileHealth(summary)).toBe(text);
  });

  const fragments = (state: 'uploading' | 'stored', stored: number, online: number) => ({ state, replicas: { wanted: 6, stored, online }, scheme: { k: 4, n: 6 } });
  it.each([
    [fragments('stored', 6, 6), 'protected', 'Protected: survives 2 more peers leaving (6 of 6 fragments online, any 4 read it)'],
    [fragments('stored', 6, 5), 'protected', 'Protected: survives 1 more peer leaving (5 of 6 fragments online, any 4 read it)'],
    [fragments('stored', 6, 4), 'at-risk', 'At risk: one more peer leaving makes it unreadable (4 of 6 fragments online, any 4 read it)'],
    [fragments('stored', 5, 3), 'unavailable', 'Unavailable until its hosts come back (3 of 6 fragments online, any 4 read it)'],
    [fragments('stored', 3, 3), 'lost', 'Lost: fewer than 4 fragments remain (3 of 6)'],
    [fragments('uploading', 2, 2), 'uploading', 'Uploading: 2 of 6 fragments stored'],
  ])('fragments %j → %s: %s', (summary, health, text) => {
    expect(fileHealth(summary)).toBe(health === 'protected' && summary.replicas.online === 6 ? 'healthy' : health);
    expect(describeFileHealth(summary)).toBe(text);
  });
});
