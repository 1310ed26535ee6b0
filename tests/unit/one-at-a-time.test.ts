import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../shared/one-at-a-time.ts';

/** A promise and the functions that settle it, for ordering calls by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => ((resolve = yes), (reject = no)));
  return { promise, resolve, reject };
}

describe('oneAtATime', () => {
  it('runs the calls for one key one after another, in the order they were made', async () => {
    const run = oneAtATime();
    const log: string[] = [];
    const first = deferred<string>();
    const a = run('owner', async () => {
      log.push('a starts');
      const value = await first.promise;
      log.push('a ends');
      return value;
    });
    const b = run('owner', async () => {
      log.push('b starts');
      return 'b';
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['a starts']);
    first.resolve('a');
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(log).toEqual(['a starts', 'a ends', 'b starts']);
  });

  it('runs calls for different keys at once', async () => {
    const run = oneAtATime();
    const held = deferred<void>();
    const started: string[] = [];
    const a = run('one', async () => {
      started.push('one');
      await held.promise;
    });
    const b = run('two', async () => {
      started.push('two');
    });
    await b;
    expect(started).toEqual(['one', 'two']);
    held.resolve();
    await a;
  });

  it('goes on with the next call after one that failed, and gives each caller its own outcome', async () => {
    const run = oneAtATime();
    const failing = run('owner', async () => {
      throw new Error('no host');
    });
    const next = run('owner', async () => 'placed');
    await expect(failing).rejects.toThrow('no host');
    expect(await next).toBe('placed');
  });

  it('a call made after the others ended starts at once', async () => {
    const run = oneAtATime();
    await run('owner', async () => 1);
    const started = deferred<void>();
    const later = run('owner', async () => {
      started.resolve();
      return 2;
    });
    await started.promise;
    expect(await later).toBe(2);
  });
});
