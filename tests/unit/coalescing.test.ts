import { describe, expect, it } from 'vitest';
import { coalescing } from '../../shared/coalescing.ts';

/** A piece of work that counts its runs and ends when told to. */
function gated() {
  const started: string[] = [];
  const gates: (() => void)[] = [];
  const work = (key: string) =>
    new Promise<number>((resolve) => {
      started.push(key);
      const n = started.length;
      gates.push(() => resolve(n));
    });
  /** Lets the oldest run still going end, and waits until what follows it has started. */
  const release = async () => {
    gates.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { started, work, release };
}

describe('coalescing', () => {
  it('runs once for a caller alone', async () => {
    const { started, work, release } = gated();
    const run = coalescing(work);
    const answer = run('a');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await release();
    expect(await answer).toBe(1);
    expect(started).toEqual(['a']);
  });

  it('gives every caller that came during a run one shared run after it', async () => {
    const { started, work, release } = gated();
    const run = coalescing(work);
    const first = run('a');
    await new Promise((resolve) => setTimeout(resolve, 0));
    const during = [run('a'), run('a'), run('a')];
    await release();
    await release();
    expect(await first).toBe(1);
    expect(await Promise.all(during)).toEqual([2, 2, 2]);
    expect(started).toEqual(['a', 'a']);
  });

  it('answers nobody with a run that started before it called', async () => {
    const { started, work, release } = gated();
    const run = coalescing(work);
    const first = run('a');
    await new Promise((resolve) => setTimeout(resolve, 0));
    const second = run('a');
    await release();
    // The second run is under way: a call now waits for a third.
    const third = run('a');
    await release();
    await release();
    expect([await first, await second, await third]).toEqual([1, 2, 3]);
    expect(started).toHaveLength(3);
  });

  it('keeps keys apart', async () => {
    const { started, work, release } = gated();
    const run = coalescing(work);
    const answers = [run('a'), run('b')];
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(started).toEqual(['a', 'b']);
    await release();
    await release();
    expect(await Promise.all(answers)).toEqual([1, 2]);
  });

  it('passes a failure to the callers of that run only, and runs again for the next', async () => {
    let calls = 0;
    const run = coalescing(async () => {
      calls++;
      if (calls === 1) throw new Error('first run failed');
      return calls;
    });
    await expect(run('a')).rejects.toThrow('first run failed');
    expect(await run('a')).toBe(2);
  });
});
