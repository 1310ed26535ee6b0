import { describe, expect, it } from 'vitest';
import { CLOCK_SET_BACK_MS, isOlderSummary, mergeListing } from '../../shared/file-summary-order.ts';

const summary = (id: string, readAt: number, online: number) => ({ id, readAt, online });

describe('summaries of one file from several trackers', () => {
  it('keeps the one read last, whatever order they came in; a tie keeps the one that came last', () => {
    expect(isOlderSummary(summary('f', 10, 1), summary('f', 20, 2))).toBe(true);
    expect(isOlderSummary(summary('f', 20, 2), summary('f', 10, 1))).toBe(false);
    expect(isOlderSummary(summary('f', 10, 1), summary('f', 10, 2))).toBe(false);
    // A placement's answer is not a read: anything read supersedes it.
    expect(isOlderSummary(summary('f', 0, 0), summary('f', 1, 0))).toBe(true);
    expect(isOlderSummary(summary('f', 0, 0), summary('f', 10 * CLOCK_SET_BACK_MS, 0))).toBe(true);
  });

  it("takes a summary read far earlier as the database's clock set back, not as a crossing", () => {
    const now = 1_800_000_000_000;
    expect(isOlderSummary(summary('f', now - CLOCK_SET_BACK_MS + 1, 1), summary('f', now, 2))).toBe(true);
    expect(isOlderSummary(summary('f', now - CLOCK_SET_BACK_MS, 1), summary('f', now, 2))).toBe(false);
    expect(isOlderSummary(summary('f', now - 3_600_000, 1), summary('f', now, 2))).toBe(false);
  });

  it("takes a fresh listing, except a file's update that came while it was on its way", () => {
    const held = [summary('a', 50, 2), summary('b', 10, 0), summary('gone', 5, 1)];
    const listed = [summary('a', 40, 1), summary('b', 40, 2), summary('new', 40, 1)];
    expect(mergeListing(listed, held)).toEqual([summary('a', 50, 2), summary('b', 40, 2), summary('new', 40, 1)]);
  });
});
