import { describe, expect, it } from 'vitest';
import { networksSection, targetVerdict, type NetworkFigure, type TransferFigure } from '../../bench/networks-report.ts';

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
