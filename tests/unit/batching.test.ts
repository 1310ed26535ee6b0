import { describe, expect, it } from 'vitest';
import { packBySize, perTurn } from '../../shared/batching.ts';

/** A deferral the test runs by hand, and a load that records each batch it was asked. */
function manual() {
  const deferred: (() => void)[] = [];
  const batches: string[][] = [];
  const load = async (keys: string[]) => {
    batches.push(keys);
    return new Map(keys.filter((key) => key !== 'missing').map((key) => [key, key.toUpperCase()]));
  };
  return { deferred, batches, load, defer: (run: () => void) => void deferred.push(run) };
}

describe('perTurn', () => {
  it('answers the keys asked for in one turn with one load, each its own value', async () => {
    const { deferred, batches, load, defer } = manual();
    const lookup = perTurn(load, { defer });
    const answers = Promise.all([lookup('a'), lookup('b'), lookup('a'), lookup('missing')]);
    expect(batches).toEqual([]);
    deferred.shift()!();
    expect(await answers).toEqual(['A', 'B', 'A', undefined]);
    expect(batches).toEqual([['a', 'b', 'missing']]);
  });

  it('starts a new batch for keys asked once the batch has started, and when it is full', async () => {
    const { deferred, batches, load, defer } = manual();
    const lookup = perTurn(load, { defer, max: 2 });
    const first = [lookup('a'), lookup('b'), lookup('c')];
    deferred.shift()!();
    deferred.shift()!();
    const later = lookup('d');
    deferred.shift()!();
    expect(await Promise.all([...first, later])).toEqual(['A', 'B', 'C', 'D']);
    expect(batches).toEqual([['a', 'b'], ['c'], ['d']]);
  });

  it('rejects every caller of a batch whose load failed, and the next batch loads again', async () => {
    const deferred: (() => void)[] = [];
    let calls = 0;
    const lookup = perTurn(
      async (keys: string[]) => {
        if (calls++ === 0) throw new Error('database gone');
        return new Map(keys.map((key) => [key, 1]));
      },
      { defer: (run) => void deferred.push(run) },
    );
    const failed = [lookup('a'), lookup('b')];
    deferred.shift()!();
    for (const answer of failed) await expect(answer).rejects.toThrow('database gone');
    const next = lookup('a');
    deferred.shift()!();
    expect(await next).toBe(1);
  });

  it('runs after the turn by default (setImmediate)', async () => {
    const batches: number[][] = [];
    const lookup = perTurn(async (keys: number[]) => (batches.push(keys), new Map(keys.map((key) => [key, key * 2]))));
    expect(await Promise.all([lookup(1), lookup(2)])).toEqual([2, 4]);
    expect(batches).toEqual([[1, 2]]);
  });
});

describe('packBySize', () => {
  const size = (item: string) => item.length;
  it.each([
    { items: [], limit: 10, groups: [] },
    { items: ['aaa', 'bbb', 'ccc'], limit: 10, groups: [['aaa', 'bbb', 'ccc']] },
    { items: ['aaa', 'bbb', 'ccc'], limit: 6, groups: [['aaa', 'bbb'], ['ccc']] },
    { items: ['aaa', 'bbb', 'ccc'], limit: 5, groups: [['aaa'], ['bbb'], ['ccc']] },
    // Larger than the limit: alone, never dropped.
    { items: ['a', 'bbbbbbbbbbbb', 'c'], limit: 5, groups: [['a'], ['bbbbbbbbbbbb'], ['c']] },
  ])('packs $items within $limit', ({ items, limit, groups }) => {
    expect(packBySize(items, size, limit)).toEqual(groups);
  });
});
