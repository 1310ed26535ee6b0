/**
 * Progress people can believe: over every copy of a file, never moving backwards, with a
 * speed and a time left measured over the last few seconds. Pure: the state classes feed
 * them bytes and clocks.
 */

/**
 * The share of an upload done, over all the copies it wants: `copyBytes` is one copy's size,
 * `moved` the bytes each copy under way or finished has got so far (one entry per transfer;
 * a transfer that failed is no longer in it). Copies beyond `wanted` count for nothing.
 */
export function uploadFraction(copyBytes: number, wanted: number, moved: readonly number[]): number {
  if (wanted <= 0) return 1;
  if (copyBytes <= 0) return moved.length >= wanted ? 1 : moved.length / wanted;
  const best = [...moved].sort((a, b) => b - a).slice(0, wanted);
  const done = best.reduce((sum, bytes) => sum + Math.min(copyBytes, Math.max(0, bytes)), 0);
  return Math.min(1, done / (copyBytes * wanted));
}

/**
 * What a bar shows: never less than it showed. A host leaving mid-upload takes its copy's
 * bytes with it; the bar waits for the new host to catch up instead of jumping back.
 */
export function forwardOnly(shown: number, computed: number): number {
  return Math.max(shown, Math.min(1, computed));
}

export interface RateSample {
  /** ms */
  at: number;
  /** Bytes moved in total so far. */
  bytes: number;
}

/** How far back the speed looks: long enough to smooth bursts, short enough to follow changes. */
export const RATE_WINDOW_MS = 5_000;

/** Adds a sample and keeps those within the window (and one just before it, to span it). */
export function addSample(samples: readonly RateSample[], sample: RateSample, windowMs = RATE_WINDOW_MS): RateSample[] {
  const all = [...samples, sample];
  const from = all.findIndex((s) => s.at >= sample.at - windowMs);
  return all.slice(Math.max(0, from - 1));
}

/** Bytes a second over the samples, or undefined before there is a second's worth to tell. */
export function bytesPerSecond(samples: readonly RateSample[], minSpanMs = 1_000): number | undefined {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last.at - first.at < minSpanMs) return undefined;
  return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at));
}

/** Seconds left at the current speed, or undefined when there is no speed to go by. */
export function secondsLeft(remainingBytes: number, rate: number | undefined): number | undefined {
  if (remainingBytes <= 0) return 0;
  if (!rate || rate <= 0) return undefined;
  return remainingBytes / rate;
}

/** "a few seconds left", "about 40 s left", "about 3 min left", "about 2 h left". */
export function formatTimeLeft(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds)) return undefined;
  if (seconds < 5) return 'a few seconds left';
  if (seconds < 60) return `about ${Math.ceil(seconds / 5) * 5} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${Math.round(seconds / 360) / 10} h left`;
}
