import { describe, expect, it } from 'vitest';
import { safeFileName } from '../../shared/safe-name.ts';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, SEAL_OVERHEAD } from '../../shared/chunking.ts';
import { MAX_UNREAD_BYTES, sendWatermarks, sendWindow, unreadCost, WireMessage } from '../../shared/wire.ts';
import { KiB, MiB } from '../../shared/units.ts';

describe('safe download names', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', '_.._etc_passwd'],
    ['C:\\Windows\\evil.exe', 'C__Windows_evil.exe'],
    ['invoice\u202Efdp.exe', 'invoice_fdp.exe'],
    ['a\u0000b', 'a_b'],
    ['<img src=x onerror=alert(1)>', '_img src=x onerror=alert(1)_'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['...', 'download'],
    ['', 'download'],
  ])('%j → %j', (name, safe) => {
    expect(safeFileName(name)).toBe(safe);
  });

  it('shortens very long names but keeps the extension', () => {
    const safe = safeFileName(`${'x'.repeat(10_000)}.tar.gz`);
    expect(safe.length).toBeLessThanOrEqual(200);
    expect(safe.endsWith('.gz')).toBe(true);
  });
});

describe('data channel policy', () => {
  it('starts with a small queue and widens it once the channel is warm', () => {
    expect(sendWatermarks(0)).toEqual({ high: 256 * KiB, low: 64 * KiB });
    expect(sendWatermarks(8 * MiB - 1).high).toBe(256 * KiB);
    expect(sendWatermarks(8 * MiB)).toEqual({ high: 4 * MiB, low: 2 * MiB });
  });

  it.each([
    [1, 4 * MiB],
    [2, 512 * KiB],
    [4, 256 * KiB],
    [6, 256 * KiB],
    [40, 256 * KiB],
  ])('gives one warm channel 4 MiB, and shares 1 MiB among %i sending channels, at least 256 KiB each', (sending, high) => {
    expect(sendWatermarks(8 * MiB, sending)).toEqual({ high, low: Math.floor(high / 2) });
    // A cold channel starts small however many there are.
    expect(sendWatermarks(0, sending)).toEqual({ high: 256 * KiB, low: 64 * KiB });
  });

  it('keeps about 16 MiB in flight, never fewer than 4 chunks', () => {
    expect(sendWindow(MiB)).toBe(16);
    expect(sendWindow(256 * KiB)).toBe(64);
    expect(sendWindow(4 * MiB)).toBe(4);
  });

  it.each([MIN_CHUNK_SIZE, 256 * KiB, MiB, 3 * MiB + 1, MAX_CHUNK_SIZE])(
    'lets an honest sender of %i-byte chunks fill its whole window before the receiver calls it a flood',
    (chunkSize) => {
      // Each chunk behind its header, the longest header there can be (a fragment's piece with its proof path).
      const header = JSON.stringify({ t: 'chunk', i: 2 ** 31, len: chunkSize + SEAL_OVERHEAD, sha: 'f'.repeat(64), path: Array(40).fill('f'.repeat(64)) });
      expect(WireMessage.safeParse(JSON.parse(header)).success).toBe(true);
      const perChunk = chunkSize + SEAL_OVERHEAD + unreadCost({ kind: 'control' }, header.length);
      expect(sendWindow(chunkSize) * perChunk).toBeLessThan(MAX_UNREAD_BYTES / 1.25);
    },
  );

  it('counts a control message by its text, and never as nothing: a flood of tiny ones is bounded by their number', () => {
    expect(unreadCost({ kind: 'bytes', bytes: new Uint8Array(1000) }, 0)).toBe(1000);
    expect(unreadCost({ kind: 'control' }, 14)).toBe(1024 + 28);
    expect(MAX_UNREAD_BYTES / unreadCost({ kind: 'control' }, '{"t":"done"}'.length)).toBeLessThan(40_000);
  });

  it('parses only well-formed messages from the other peer', () => {
    expect(WireMessage.safeParse({ t: 'want', from: 3 }).success).toBe(true);
    expect(WireMessage.safeParse({ t: 'want', from: -1 }).success).toBe(false);
    expect(WireMessage.safeParse({ t: 'chunk', i: 0, len: 10, sha: 'x' }).success).toBe(false);
    expect(WireMessage.safeParse({ t: 'ack', next: 1, extra: true }).success).toBe(false);
    expect(WireMessage.safeParse({ t: 'boom' }).success).toBe(false);
  });
});
