/**
 * The steps of the storage slider: round decimal amounts people recognise, up to what the
 * browser allows, plus the amounts that matter here (the suggested one, the current one,
 * the most possible). A round amount within 10 % of one of those is left out, so two stops
 * never read almost the same ("1 GB", "1.07 GB").
 */
import { GB, MB } from '../../../shared/units.ts';

const ROUND = [100 * MB, 250 * MB, 500 * MB, GB, 2 * GB, 5 * GB, 10 * GB, 20 * GB, 50 * GB, 100 * GB, 200 * GB, 500 * GB, 1000 * GB, 2000 * GB];

export function offerStops(max: number, current: number, suggested: number): number[] {
  const special = [0, Math.min(current, max), Math.min(suggested, max), max].filter((value) => value >= 0);
  const near = (value: number) => special.some((kept) => kept > 0 && Math.abs(value - kept) <= kept * 0.1);
  const round = ROUND.filter((value) => value < max && !near(value));
  return [...new Set([...special, ...round])].sort((a, b) => a - b);
}

/** The stop a value sits on, or the last one below it. */
export function stopIndex(stops: readonly number[], value: number): number {
  let index = 0;
  stops.forEach((stop, at) => {
    if (stop <= value) index = at;
  });
  return index;
}
