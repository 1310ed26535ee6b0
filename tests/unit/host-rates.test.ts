import { describe, expect, it } from 'vitest';
import { hostRates, type SampledPath } from '../../bench/host-rates.ts';

const MB = 1e6;

/** Samples every 200 ms from `from` to `to` (epoch ms) of a link receiving `mbps` between `start` and `stop`, `base` bytes before. */
function link(remoteAddress: string, mbps: number, start: number, stop: number, options: { from?: number; to?: number; base?: number } = {}): SampledPath {
  const { from = start, to = stop + 1000, base = 0 } = options;
  const samples = [];
  for (let at = from; at <= to; at += 200) samples.push({ at, sent: 0, received: base + mbps * MB * (Math.min(Math.max(at, start), stop) - start) / 1000 });
  return { remoteAddress, samples };
}

describe('what each link of a download carried', () => {
  const run = { startedAt: 10_000, endedAt: 20_000 };

  it.each([
    ['one link over the whole clock', [link('10.90.0.12', 0.5, 10_000, 20_000)], [{ remoteAddress: '10.90.0.12', bytes: 5 * MB, streamMBps: 0.5 }]],
    [
      'four links at once, one of them slower',
      [link('10.90.0.12', 0.5, 10_000, 18_000), link('10.90.0.13', 0.5, 10_000, 18_000), link('10.90.0.14', 0.5, 10_000, 18_000), link('10.90.0.15', 0.25, 10_000, 20_000)],
      [
        { remoteAddress: '10.90.0.12', bytes: 4 * MB, streamMBps: 0.5 },
        { remoteAddress: '10.90.0.13', bytes: 4 * MB, streamMBps: 0.5 },
        { remoteAddress: '10.90.0.14', bytes: 4 * MB, streamMBps: 0.5 },
        { remoteAddress: '10.90.0.15', bytes: 2.5 * MB, streamMBps: 0.25 },
      ],
    ],
    // A connection kept from the upload: only what it received on this clock counts.
    ['a link that carried bytes before the clock', [link('10.90.0.12', 0.5, 10_000, 20_000, { from: 2_000, base: 30 * MB })], [{ remoteAddress: '10.90.0.12', bytes: 5 * MB, streamMBps: 0.5 }]],
    // A control connection, or one that carried the upload and none of the download: not a link of it.
    ['links that carried nothing of the download', [link('10.90.0.1', 0.001, 10_000, 20_000), link('10.90.0.12', 0.5, 2_000, 8_000, { to: 20_000 })], []],
  ])('%s', (_name, paths, expected) => {
    const rates = hostRates(paths, run);
    expect(rates.map(({ remoteAddress }) => remoteAddress)).toEqual(expected.map(({ remoteAddress }) => remoteAddress));
    rates.forEach((rate, index) => {
      expect(rate.bytes).toBeCloseTo(expected[index]!.bytes, -3);
      expect(rate.streamMBps).toBeCloseTo(expected[index]!.streamMBps, 3);
      expect(rate.firstAt).toBeGreaterThanOrEqual(run.startedAt);
      expect(rate.lastAt).toBeLessThanOrEqual(run.endedAt + 1000);
    });
  });

  it('has no rate to give from too few samples', () => {
    const [rate] = hostRates([{ remoteAddress: '10.90.0.12', samples: [{ at: 9_900, sent: 0, received: 0 }, { at: 19_000, sent: 0, received: 5 * MB }] }], run);
    expect(rate?.bytes).toBe(5 * MB);
    expect(rate?.streamMBps).toBeNaN();
  });
});
