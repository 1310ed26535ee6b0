/**
 * Which of two summaries of one file to keep. With several trackers an owner hears of one file
 * from each of them (each reads the file where something happened to it), and their messages
 * cross in any order; each summary says when it was read, on the database's one clock, and the
 * one read last is the file as it is. A tie keeps the one that came last, as before.
 */
export function isOlderSummary(incoming: { readAt: number }, current: { readAt: number }): boolean {
  if (incoming.readAt >= current.readAt) return false;
  // A placement's answer (0) is not a read: older than any.
  if (incoming.readAt === 0) return true;
  // Crossing messages were read milliseconds to seconds apart. Far older means the database's
  // clock was set back: what it reads now is the file as it is, or the page would hold on to an
  // old summary until the clock caught up.
  return current.readAt - incoming.readAt < CLOCK_SET_BACK_MS;
}

/** Two reads of one file further apart than this did not cross on their way: the clock moved. */
export const CLOCK_SET_BACK_MS = 60_000;

/**
 * A fresh listing, keeping any file's summary that is newer than the listing's: one that came
 * as an update while the listing was on its way.
 */
export function mergeListing<T extends { id: string; readAt: number }>(listed: readonly T[], held: readonly T[]): T[] {
  const byId = new Map(held.map((file) => [file.id, file]));
  return listed.map((file) => {
    const current = byId.get(file.id);
    return current && isOlderSummary(file, current) ? current : file;
  });
}
