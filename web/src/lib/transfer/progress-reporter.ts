/**
 * Tells the tracker a transfer's bytes are moving, at most every REPORT_MS: it keeps the
 * transfer from expiring, and is the tracker's evidence that the two peers did connect.
 */
import type { TrackerClient } from '../net/tracker-client.ts';

const REPORT_MS = 2_000;

export function progressReporter(tracker: Pick<TrackerClient, 'request'>, transferId: string, onRefused: (error: unknown) => void): (bytes: number) => void {
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < REPORT_MS) return;
    last = now;
    tracker.request('transfer:progress', { transferId, bytes }).catch(onRefused);
  };
}
