/**
 * Work asked for many times within one turn of the event loop, done once for all of them.
 *
 * `perTurn`: look-ups of single keys, answered by one query of all the keys asked for in the
 * turn (a tracker asking the database where a dozen peers are, one statement instead of a
 * dozen). The batch runs once the turn is over, so it started after every caller in it called:
 * no caller reads a state older than its own request. A batch holds at most `max` keys; the
 * next key starts another.
 *
 * `packBySize`: items in order, in groups whose sizes add up to at most `limit` (an item larger
 * than that alone): messages that must each fit in one PostgreSQL NOTIFY.
 */
export function perTurn<K, V>(load: (keys: K[]) => Promise<ReadonlyMap<K, V>>, options: { max?: number; defer?: (run: () => void) => void } = {}): (key: K) => Promise<V | undefined> {
  const max = options.max ?? 500;
  const defer = options.defer ?? ((run: () => void) => void setImmediate(run));
  let open: { keys: Set<K>; loaded: Promise<ReadonlyMap<K, V>> } | undefined;
  return (key) => {
    if (!open || open.keys.size >= max) {
      const batch: { keys: Set<K>; loaded?: Promise<ReadonlyMap<K, V>> } = { keys: new Set() };
      open = batch as { keys: Set<K>; loaded: Promise<ReadonlyMap<K, V>> };
      batch.loaded = new Promise<ReadonlyMap<K, V>>((resolve, reject) =>
        defer(() => {
          if (open === batch) open = undefined;
          Promise.resolve([...batch.keys]).then(load).then(resolve, reject);
        }),
      );
    }
    const batch = open;
    batch.keys.add(key);
    return batch.loaded.then((found) => found.get(key));
  };
}

export function packBySize<T>(items: readonly T[], sizeOf: (item: T) => number, limit: number): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = sizeOf(item);
    if (group.length > 0 && size + itemSize > limit) {
      groups.push(group);
      group = [];
      size = 0;
    }
    group.push(item);
    size += itemSize;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
