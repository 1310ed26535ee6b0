import { describe, expect, it } from 'vitest';
import { freeBuffer } from '../../web/src/lib/transfer/free-buffer.ts';

describe('freeing a dead buffer at once', () => {
  it.each([
    ['an ArrayBuffer', () => new ArrayBuffer(1024), true],
    ['a view of all of its buffer', () => new Uint8Array(1024), true],
    ['a view of part of its buffer', () => new Uint8Array(1024).subarray(1), false],
    ['a view of the first part of its buffer', () => new Uint8Array(1024).subarray(0, 512), false],
    ['an empty buffer', () => new ArrayBuffer(0), false],
    ['a small Node Buffer (from its shared pool)', () => Buffer.from('pooled'), false],
  ] as const)('%s: freed %s', (_, make, freed) => {
    const bytes = make();
    const buffer = ArrayBuffer.isView(bytes) ? bytes.buffer : bytes;
    const before = buffer.byteLength;
    expect(freeBuffer(bytes)).toBe(freed);
    // Freed: detached, so any view of it reads as empty; not freed: untouched.
    expect(buffer.byteLength).toBe(freed ? 0 : before);
  });

  it('frees one buffer after another (one port serves them all)', () => {
    const buffers = Array.from({ length: 5 }, () => new ArrayBuffer(64));
    expect(buffers.map((buffer) => freeBuffer(buffer))).toEqual([true, true, true, true, true]);
    expect(freeBuffer(buffers[0]!)).toBe(false);
  });
});
