/**
 * The options a tracker's Node process starts with, on node's own command line: `npm start`,
 * `npx peercloud` (its first line), the tests' and the bench's tracker processes. V8 reads them
 * when it sets up the heap, before any of the tracker's code runs, and NODE_OPTIONS refuses
 * them, so the tracker cannot set them itself: it says at start which ones it lacks.
 *
 * --no-memory-reducer: V8's memory reducer, once a busy heap's allocation slows down, runs a
 * major collection that compacts the whole heap to give memory back. A tracker holding 10,000
 * peers met it about 80 s after they joined: the 200 MB of garbage their admission left was
 * collected in one pause of 171–174 ms (two runs, `--trace-gc`), and the placements waiting on
 * the event loop then, and on the pooled connections the listings took meanwhile, made the
 * placement p99 of those runs 68 and 143 ms. Without it the same garbage goes in an ordinary
 * major collection, whose marking runs beside the event loop: 10–12 ms of pause for it (docs/
 * BENCHMARKS.md, "Many trackers: where the time goes"). A tracker is never idle long enough
 * for the memory given back to matter.
 *
 * --heap-growing-percent=50: after each major collection V8 lets the old generation grow to
 * 1.5 times what survived before the next one, instead of a factor it picks itself (up to 4):
 * at 10,000 peers it let an admission's garbage pile up to 330–370 MB over 155 MB alive, and
 * resident memory per peer read 30.7–33.5 KB at the admission's end; with it 20.9–21.8 KB (three
 * runs each, docs/BENCHMARKS.md).
 */
export const TRACKER_NODE_FLAGS: readonly string[] = ['--no-memory-reducer', '--heap-growing-percent=50'];

/** Of TRACKER_NODE_FLAGS, those the process was not started with (`process.execArgv`). */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  return TRACKER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
