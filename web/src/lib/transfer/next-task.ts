/**
 * Lets the page run its other tasks (input, rendering, the data channel's events) before going
 * on. Awaited promises continue in the same task as long as they resolve at once, so a
 * pipeline of reads, seals and hashes can chain several chunks' work into one task of hundreds
 * of milliseconds; awaiting this between the heavy steps keeps each task to one step.
 * `scheduler.yield()` where the browser has it (it resumes ahead of other queued work), a
 * zero timer elsewhere (Node in the unit tests).
 */
export function nextTask(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}
