/**
 * The reliability level in a person's words: what it is for, what each of its three scores
 * measures, what lowers and raises them, and why it just changed. All the page's wording
 * about levels lives here, so that when a score comes to measure something else (trust from
 * storage proven over time rather than offered, say) only this file changes.
 */
import type { PeerStatus } from '../../../shared/protocol.ts';
import { formatBytes } from '../../../shared/units.ts';

export type ScoreName = keyof PeerStatus['scores'];

export const LEVEL_WORDS = {
  title: 'Reliability level',
  /** Why a person should care, in one sentence. */
  why: 'The cloud keeps your files on peers whose level is close to yours: a high level keeps them with dependable peers, and brings you other dependable peers’ files.',
  names: { 5: 'excellent', 4: 'good', 3: 'fair', 2: 'low', 1: 'very low' } as Record<number, string>,
} as const;

interface ScoreWords {
  /** A short name people understand. */
  name: string;
  /** What it measures, now, with this peer's own number. */
  measured(status: PeerStatus): string;
  /** What raises it. */
  raise: string;
  /** Why it went down / up, to end "Your level went down from 5 to 4: …". */
  fell: string;
  rose: string;
}

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

export const SCORE_WORDS: Record<ScoreName, ScoreWords> = {
  trust: {
    name: 'Storage proven',
    measured: (status) =>
      status.credited < status.metrics.capacity
        ? `This browser lends ${formatBytes(status.metrics.capacity)}; ${formatBytes(status.credited)} of it counts so far. The rest counts as you keep other peers’ files and prove you still hold them.`
        : `This browser lends ${formatBytes(status.metrics.capacity)} to other peers, and all of it counts.`,
    raise: 'Lend storage and keep this tab open: what counts grows as you keep other peers’ files and pass the checks that you still hold them.',
    fell: 'less of the storage this browser lends counts now (it lends less, or lost some of what it held)',
    rose: 'more of the storage this browser lends counts now (it kept other peers’ files and proved it)',
  },
  dynamism: {
    name: 'Staying online',
    measured: (status) => `${plural(status.metrics.disconnections, 'disconnection', 'disconnections')} in the last 24 hours (closing this tab or losing the network).`,
    raise: 'Keep this tab open: each disconnection counts for 24 hours.',
    fell: 'this browser disconnected (closing the tab or losing the network counts for 24 hours)',
    rose: 'a disconnection is more than 24 hours old now',
  },
  availability: {
    name: 'Keeping promises',
    measured: (status) =>
      `${plural(status.metrics.rejections, 'request', 'requests')} to store, serve or prove a file turned down or failed in the last 24 hours${
        status.metrics.integrityFailures > 0 ? `, ${plural(status.metrics.integrityFailures, 'copy', 'copies')} served damaged` : ''
      }.`,
    raise: 'Keep room for what you lend, and the tab open while it passes files.',
    fell: 'this browser turned down, failed or did not prove a request (it counts for 24 hours)',
    rose: 'a turned-down request is more than 24 hours old now',
  },
};

export const SCORE_ORDER: readonly ScoreName[] = ['trust', 'dynamism', 'availability'];

/** "4 of 5 — good". */
export function describeLevel(level: number): string {
  return `${level} of 5 — ${LEVEL_WORDS.names[level] ?? ''}`;
}

/** What would raise the level: the tips of the scores below 5, lowest first (none when all are 5). */
export function tips(status: PeerStatus): string[] {
  return SCORE_ORDER.filter((score) => status.scores[score] < 5)
    .sort((a, b) => status.scores[a] - status.scores[b])
    .map((score) => SCORE_WORDS[score].raise);
}

/** A short notice when the level changed, saying why; undefined when it did not. */
export function explainLevelChange(before: PeerStatus, after: PeerStatus): string | undefined {
  if (before.level === after.level) return undefined;
  const direction = after.level < before.level ? 'down' : 'up';
  const reasons = SCORE_ORDER.filter((score) => before.scores[score] !== after.scores[score])
    // The scores that moved the same way as the level explain it.
    .filter((score) => (after.scores[score] < before.scores[score]) === (direction === 'down'))
    .map((score) => (direction === 'down' ? SCORE_WORDS[score].fell : SCORE_WORDS[score].rose));
  const because = reasons.length > 0 ? `: ${reasons.join('; and ')}` : '';
  return `Your reliability level went ${direction} from ${before.level} to ${after.level}${because}.`;
}
