import { describe, expect, it } from 'vitest';
import { aptRuns, type AptPackage } from '../../tests/support/debian.ts';

const without = (name: string): AptPackage => ({ package: name, recommends: false });
const withRecommends = (name: string): AptPackage => ({ package: name, recommends: true });

describe('aptRuns: what the test setup runs to install what it lacks', () => {
  it.each([
    { case: 'nothing lacking: no apt at all', wanted: [], runs: [] },
    {
      case: 'a fresh machine: one update, then each recommends mode in one install',
      wanted: [withRecommends('postgresql'), without('haproxy'), withRecommends('chromium'), without('iproute2'), without('nftables'), without('coturn')],
      runs: [
        ['update', '-qq'],
        ['install', '-y', '-qq', 'postgresql', 'chromium'],
        ['install', '-y', '-qq', '--no-install-recommends', 'haproxy', 'iproute2', 'nftables', 'coturn'],
      ],
    },
    {
      case: 'only packages without recommendations (ip and tc both from iproute2): one install, each package once',
      wanted: [without('iproute2'), without('iproute2'), without('caddy')],
      runs: [
        ['update', '-qq'],
        ['install', '-y', '-qq', '--no-install-recommends', 'iproute2', 'caddy'],
      ],
    },
    {
      case: 'a package asked for both ways comes with its recommendations, once',
      wanted: [without('python3'), withRecommends('python3')],
      runs: [
        ['update', '-qq'],
        ['install', '-y', '-qq', 'python3'],
      ],
    },
  ])('$case', ({ wanted, runs }) => {
    expect(aptRuns(wanted)).toEqual(runs);
  });
});
