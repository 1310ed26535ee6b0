import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../web/src/lib/transfer/buffer-pool.ts';

describe('buffer pool', () => {
  it('hands a given-back buffer out again, and a fresh one when none is spare', () => {
    const pool = new BufferPool(8, 2);
    const first = pool.take();
    expect(first.byteLength).toBe(8);
    pool.give(first);
    expect(pool.take().buffer).toBe(first.buffer);
    expect(pool.take().buffer).not.toBe(first.buffer);
  });

  it('gives a view of its buffer back as the whole buffer, once', () => {
    const pool = new BufferPool(8, 4);
    const whole = pool.take();
    pool.give(whole.subarray(2, 5));
    pool.give(whole);
    expect(pool.spare).toBe(1);
    expect(pool.take().byteLength).toBe(8);
  });

  it('keeps at most `keep` aside, and leaves other lengths and detached buffers to the collector', () => {
    const pool = new BufferPool(8, 1);
    pool.give(new Uint8Array(8));
    pool.give(new Uint8Array(8));
    expect(pool.spare).toBe(1);
    pool.take();
    pool.give(new Uint8Array(16));
    const detached = pool.take();
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    pool.give(detached);
    expect(pool.spare).toBe(0);
  });

  it('hands out a fresh buffer of another length when asked (a file’s shorter last stripe)', () => {
    const pool = new BufferPool(8, 2);
    pool.give(new Uint8Array(8));
    expect(pool.take(5).byteLength).toBe(5);
    expect(pool.spare).toBe(1);
  });
});
