/**
 * Reconnect delays: exponential, capped, with "equal jitter" (half fixed, half random)
 * so that a tracker restart does not see every tab come back in the same millisecond,
 * while no tab retries sooner than half its step.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/** attempt 0 is the first retry; random() is in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const step = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
