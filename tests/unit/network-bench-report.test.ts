import { describe, expect, it } from 'vitest';
import { networksSection, targetVerdict, type NetworkFigure, type TransferFigure } from '../../bench/networks-report.ts';
import { transferPhases, type ByteSample } from '../../bench/transfer-phases.ts';

const transfer = (ratio: number, cpuRatio: number): TransferFigure => ({ mbps: 2 * ratio, runs: [2 * ratio], ratio, ratios: [ratio], cpuMsPerMB: 400 * cpuRatio, cpuRatio, cpuShare: 0.6 });

const figure = (over: Partial<NetworkFigure> & { up?: [number, number]; down?: [number, number] }): NetworkFigure => {
  const { up = [1, 1], down = [1, 1], ...rest } = over;
  return {
    profile: 'shaped direct',
    link: 'cone NAT, STUN; 100 Mbit/s, 0.2 % loss out of each home',
    linkMBps: 12.5,
    path: 'srflx → srflx',
    mbps: 2,
    runs: [2],
    cpuMsPerMB: 400,
    cpuShare: 0.6,
    load: 8,
    peercloud: { upload: transfer(...up), download: transfer(...down), path: 'srflx → srflx' },
    ...rest,
  };
};

describe('the ≥ 0.9× target in words', () => {
  it.each([
    ['both directions at the raw channel’s pace', figure({ up: [0.95, 1.05], down: [1.1, 0.9] }), ['upload 0.95× (met), download 1.10× (met)', 'the link did not set its pace', 'the CPU it adds explains its pace']],
    ['an upload that costs 1.6× the CPU per MB, at 0.62×', figure({ up: [0.62, 1.6] }), ['upload 0.62× (missed)', "The upload cost 1.60× the raw channel's CPU per MB", 'inverse (0.63×): the CPU it adds explains its pace']],
    ['an upload far slower than its CPU cost explains', figure({ up: [0.4, 1.1] }), ['upload 0.40× (missed)', 'CPU per MB alone does not explain its pace (it also waited']],
    ['a raw channel that fills the link', figure({ mbps: 11.5 }), ['92 % of the 12.5 MB/s the link carries: the link set its pace']],
    ['an unshaped link', figure({ linkMBps: undefined }), ['unshaped veth pair: nothing but the CPU limits it']],
    [
      'a long lossy link, the cores mostly idle',
      figure({ mbps: 0.6, cpuShare: 0.2, up: [0.8, 1.3] }),
      ['5 % of the 12.5 MB/s the link carries, with the lab\'s processes on 20 % of the cores: neither the link\'s rate nor the CPU set its pace', "The upload cost 1.30× the raw channel's CPU per MB, which did not set the pace on this link."],
    ],
  ])('%s', (_name, input, phrases) => {
    const verdict = targetVerdict(input)!;
    for (const phrase of phrases) expect(verdict).toContain(phrase);
  });

  it('says nothing of a profile where Peercloud was not measured', () => {
    expect(targetVerdict(figure({ peercloud: undefined }))).toBeUndefined();
  });

  it('says where Peercloud failed, with or without runs before the failure', () => {
    expect(targetVerdict(figure({ peercloud: undefined, peercloudFailure: 'upload of run 1 failed: not stored' }))).toBe(
      "**shaped direct**: Peercloud's upload of run 1 failed: not stored; no run of both transfers to compare.",
    );
    const partly = targetVerdict(figure({ up: [0.95, 1], peercloudFailure: 'download of run 2 failed: stalled' }))!;
    expect(partly).toContain('upload 0.95× (met), download 1.00× (met) the raw channel over the same link (runs before the failure below).');
    expect(partly).toMatch(/Then Peercloud's download of run 2 failed: stalled\.$/);
  });

  it('counts the figures that meet the target over every measured profile', () => {
    const section = networksSection([figure({ up: [0.95, 1] }), figure({ profile: 'relayed', up: [0.5, 2], down: [0.7, 1.4] }), figure({ profile: 'reference', peercloud: undefined })], {
      date: '2026-12-02',
      machine: 'test',
      chromium: '1',
      mebibytes: 32,
      runs: 3,
    });
    expect(section).toContain('The target is met in 2 of 4 figures.');
    const failed = networksSection([figure({ peercloud: undefined, peercloudFailure: 'upload of run 1 failed: x' })], { date: 'd', machine: 'm', chromium: '1', mebibytes: 32, runs: 3 });
    expect(failed).toContain("The target is met in 0 of 0 figures; Peercloud's transfers failed on 1 profile.");
    expect(failed).toMatch(/^\| shaped direct \| failed \| 2 \| 400 \|/m);
    expect(section.match(/^\| (shaped direct|relayed) \| srflx → srflx \|/gm)).toHaveLength(2);
  });
});

describe('where a transfer’s time went', () => {
  const MB = 1e6;
  /** Bytes moving at `mbps` from `from` ms to `to` ms after 1000 (epoch ms), sampled every 100 ms from 1000 to `until`. */
  const stream = (mbps: number, from: number, to: number, until: number, overhead = 1): ByteSample[] =>
    Array.from({ length: until / 100 + 1 }, (_, k) => {
      const t = k * 100;
      return { at: 1000 + t, bytes: Math.round(overhead * mbps * MB * (Math.min(Math.max(t, from), to) - from) / 1000) };
    });

  it.each([
    // 10 MB at 2 MB/s from 500 ms to 5500 ms, clock from 0 to 6000: 0.5 s before, 0.5 s after.
    ['a stream between two waits', stream(2, 500, 5500, 6000), { size: 10 * MB, startedAt: 1000, endedAt: 7000 }, { beforeMs: 500, streamMBps: 2, afterMs: 500, afterLastByteMs: 500 }],
    // Packet overhead (5 % more bytes on the wire than in the file) changes neither the rate of the file nor the phases.
    ['bytes on the wire beyond the file’s', stream(2, 500, 5500, 6000, 1.05), { size: 10 * MB, startedAt: 1000, endedAt: 7000 }, { beforeMs: 500, streamMBps: 2, afterMs: 500, afterLastByteMs: 500 }],
    // A connection that already carried bytes before the clock started counts from there.
    ['bytes from before the clock', stream(2, 0, 5500, 6000).map((sample) => ({ ...sample, bytes: sample.bytes + 5 * MB })), { size: 10 * MB, startedAt: 1500, endedAt: 6500 }, { beforeMs: 0, streamMBps: 2, afterMs: 0, afterLastByteMs: 0 }],
    // The last megabyte crawled (a lost packet at the end waits for a timeout): part of the time after is the network's.
    [
      'a slow end of the stream',
      Array.from({ length: 61 }, (_, k) => ({ at: 1000 + k * 100, bytes: k <= 45 ? 0.2 * MB * k : Math.min(10 * MB, 9 * MB + 0.1 * MB * (k - 45)) })),
      { size: 10 * MB, startedAt: 1000, endedAt: 7000 },
      { beforeMs: 0, streamMBps: 2, afterMs: 1000, afterLastByteMs: 500 },
    ],
  ])('%s', (_name, samples, run, expected) => {
    const phases = transferPhases(samples, run)!;
    expect(phases.beforeMs).toBeCloseTo(expected.beforeMs, -1);
    expect(phases.streamMBps).toBeCloseTo(expected.streamMBps, 3);
    expect(phases.afterMs).toBeCloseTo(expected.afterMs, -1);
    expect(phases.afterLastByteMs).toBeCloseTo(expected.afterLastByteMs, -2);
    // The whole time, exactly.
    expect(phases.beforeMs + (run.size / MB / phases.streamMBps) * 1000 + phases.afterMs).toBeCloseTo(run.endedAt - run.startedAt, 6);
  });

  it.each([
    ['no samples', [] as ByteSample[]],
    ['fewer bytes than the file: another connection’s', stream(2, 0, 2000, 6000)],
    ['samples all before the clock started', stream(2, 0, 6000, 6000).map((sample) => ({ ...sample, at: sample.at - 10_000 }))],
  ])('says nothing from %s', (_name, samples) => {
    expect(transferPhases(samples, { size: 10 * MB, startedAt: 1000, endedAt: 7000 })).toBeUndefined();
  });

  it('puts the phases beside the figures of each profile that has them', () => {
    const phased = { ...transfer(0.8, 1.1), phases: { beforeMs: 1234, streamMBps: 2.5, streamRatio: 1.02, afterMs: 350, afterLastByteMs: 120 }, rttMs: 41 };
    const section = networksSection([figure({ peercloud: { upload: phased, download: transfer(1, 1), path: 'relay → relay' } }), figure({ profile: 'relayed' })], {
      date: 'd',
      machine: 'm',
      chromium: '1',
      mebibytes: 32,
      runs: 3,
    });
    expect(section).toContain('| shaped direct | 41 | 1.23 | 2.5 (1.02×) | 0.35 (0.12) | | | |');
    expect(section).not.toMatch(/^\| relayed \| \d/m);
  });
});
