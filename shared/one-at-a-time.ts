/**
 * Work about one thing (an owner's placements) run one call after another, while calls about
 * different things run at once: a call waits for the calls for its key made before it, whatever
 * their outcome. A key is forgotten once its last call has ended, so that the keys held are
 * those with work under way, however many have come and gone.
 */
export function oneAtATime(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const before = tails.get(key) ?? Promise.resolve();
    const run = before.then(work, work);
    // The next call waits for this one to end, succeeded or not.
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}
