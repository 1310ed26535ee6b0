/**
 * Stripes put together from links arriving at their own pace: a piece is held until k pieces of
 * its stripe are there, a link that runs ahead waits for the others (so memory is bounded by
 * the links' windows), and a failure reaches every waiting link.
 */
import { describe, expect, it } from 'vitest';
import { StripeAssembler } from '../../web/src/lib/download/stripe-assembler.ts';

function assembler(k: number, n: number, count: number, from = 0) {
  const written: { index: number; from: number[] }[] = [];
  const released: Uint8Array[] = [];
  let failNext: Error | undefined;
  const stripes = new StripeAssembler({
    k,
    n,
    count,
    from,
    release: (piece) => released.push(piece),
    assemble: async (index, fragments) => {
      const present = fragments.flatMap((fragment, at) => (fragment ? [at] : []));
      return new Uint8Array(present);
    },
    complete: async (index, assembled) => {
      if (failNext) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
      written.push({ index, from: [...assembled] });
    },
  });
  return { stripes, written, released, failOnce: (error: Error) => (failNext = error) };
}

const piece = () => new Uint8Array(4);
const settled = async (promise: Promise<unknown>) => {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((resolve) => setTimeout(resolve, 0));
  return state;
};

describe('stripe assembler', () => {
  it('holds a piece until its stripe has k pieces, then writes it once from the first k', async () => {
    const { stripes, written } = assembler(2, 3, 2);
    const first = stripes.deposit(0, 0, piece());
    expect(await settled(first)).toBe('pending');
    const second = stripes.deposit(2, 0, piece());
    await Promise.all([first, second]);
    expect(written).toEqual([{ index: 0, from: [0, 2] }]);
    // A late third piece of a written stripe is done at once, and writes nothing more.
    await stripes.deposit(1, 0, piece());
    expect(written).toHaveLength(1);
    expect(stripes.next).toBe(1);
  });

  it('gives every piece back once it is not needed: after its stripe is written, or at once when not kept', async () => {
    const { stripes, released } = assembler(2, 3, 2);
    const [a, b, c, again, late] = [piece(), piece(), piece(), piece(), piece()];
    const first = stripes.deposit(0, 0, a);
    // The same fragment twice: the second is not kept.
    const twice = stripes.deposit(0, 0, again);
    expect(released).toEqual([again]);
    expect(await settled(first)).toBe('pending');
    await Promise.all([first, twice, stripes.deposit(1, 0, b)]);
    expect(released).toEqual([again, a, b]);
    // A piece of a stripe already written.
    await stripes.deposit(2, 0, c);
    expect(released).toEqual([again, a, b, c]);
    // Pieces waiting when the download fails; and any after.
    const waiting = stripes.deposit(0, 1, late);
    stripes.fail(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    const after = piece();
    await expect(stripes.deposit(1, 1, after)).rejects.toThrow('gone');
    expect(released).toEqual([again, a, b, c, late, after]);
  });

  it('lets a link that runs ahead wait for the others, and moves `next` only over contiguous stripes', async () => {
    const { stripes, written } = assembler(2, 2, 3);
    const ahead = [stripes.deposit(0, 0, piece()), stripes.deposit(0, 1, piece()), stripes.deposit(0, 2, piece())];
    expect(await settled(ahead[2]!)).toBe('pending');
    await Promise.all([stripes.deposit(1, 1, piece()), ahead[1]]);
    expect(written.map((stripe) => stripe.index)).toEqual([1]);
    expect(stripes.next).toBe(0);
    await Promise.all([stripes.deposit(1, 0, piece()), stripes.deposit(1, 2, piece()), ...ahead]);
    expect(stripes.next).toBe(3);
    expect(stripes.finished).toBe(true);
  });

  it('starts a resumed download where the disk ends, and takes nothing before it', async () => {
    const { stripes, written } = assembler(1, 2, 4, 3);
    expect(stripes.next).toBe(3);
    await stripes.deposit(0, 1, piece());
    await stripes.deposit(1, 3, piece());
    expect(written).toEqual([{ index: 3, from: [1] }]);
    expect(stripes.finished).toBe(true);
  });

  it('fails the deposits that made a stripe whose write failed, and takes another piece for it after a discard', async () => {
    const { stripes, written, failOnce } = assembler(1, 2, 1);
    failOnce(new Error('bad chunk'));
    await expect(stripes.deposit(0, 0, piece())).rejects.toThrow('bad chunk');
    stripes.discard(0, 0);
    await stripes.deposit(1, 0, piece());
    expect(written).toEqual([{ index: 0, from: [1] }]);
  });

  it('rejects every waiting deposit, and every later one, once the download fails', async () => {
    const { stripes } = assembler(3, 4, 2);
    const waiting = [stripes.deposit(0, 0, piece()), stripes.deposit(1, 1, piece())];
    stripes.fail(new Error('no host left'));
    for (const deposit of waiting) await expect(deposit).rejects.toThrow('no host left');
    await expect(stripes.deposit(2, 0, piece())).rejects.toThrow('no host left');
    expect(stripes.failure).toBeInstanceOf(Error);
  });
});
