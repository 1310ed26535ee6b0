/**
 * Work that a burst of callers asks for about one thing (a host's status after its space moved,
 * an upload's settling after each of its stores ended) done once per burst rather than once per
 * caller: while a run for a key is under way, every new call for that key shares one more run,
 * started when the current one ends. Each caller is answered by a run that started after it
 * called, so it never reads a state older than its own request.
 */
export function coalescing<T>(work: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const runs = new Map<string, { running: Promise<T>; queued?: Promise<T> }>();
  const start = (key: string): Promise<T> => {
    const run: { running: Promise<T>; queued?: Promise<T> } = { running: Promise.resolve(undefined as T) };
    run.running = Promise.resolve()
      .then(() => work(key))
      .finally(() => {
        // A queued run takes the key over when it starts.
        if (!run.queued) runs.delete(key);
      });
    runs.set(key, run);
    return run.running;
  };
  return (key) => {
    const run = runs.get(key);
    if (!run) return start(key);
    const settled = () => start(key);
    return (run.queued ??= run.running.then(settled, settled));
  };
}
