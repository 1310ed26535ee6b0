import { describe, expect, it } from 'vitest';
import { homeAddresses, leftoverRuns, linkRates, namespaceNames, routerRuleset, type NatMode } from '../../tests/support/topology.ts';

describe('network lab topology', () => {
  it('tells the leftovers of dead runs from live ones', () => {
    const names = ['pcl-100-ab12-srv', 'pcl-100-ab12-h0', 'pcl-200-cd34-srv', 'pcl-200-cd34-r1', 'other-ns', 'pcl-x-srv'];
    expect(leftoverRuns(names, (pid) => pid === 200)).toEqual(['pcl-100-ab12']);
    expect(leftoverRuns(names, () => false)).toEqual(['pcl-100-ab12', 'pcl-200-cd34']);
    expect(leftoverRuns(names, () => true)).toEqual([]);
  });

  it('names every namespace of a run after the run', () => {
    expect(namespaceNames('pcl-1-ff00', 2)).toEqual({ server: 'pcl-1-ff00-srv', routers: ['pcl-1-ff00-r0', 'pcl-1-ff00-r1'], homes: ['pcl-1-ff00-h0', 'pcl-1-ff00-h1'] });
    expect(homeAddresses(1)).toEqual({ wan: '10.90.0.12', lan: '192.168.2.1', home: '192.168.2.10' });
  });

  it('shapes the way out of a home at its uplink rate, the way in at the link rate', () => {
    expect(linkRates({ rateMbit: 100 })).toEqual({ wan: 100, lan: 100 });
    expect(linkRates({ rateMbit: 100, uplinkMbit: 4 })).toEqual({ wan: 4, lan: 100 });
    expect(linkRates({ uplinkMbit: 4 })).toEqual({ wan: 4, lan: undefined });
    expect(linkRates({ lossPermille: 2 })).toEqual({ wan: undefined, lan: undefined });
    expect(linkRates({})).toEqual({ wan: undefined, lan: undefined });
  });

  const cases: { nat: NatMode; loss?: number; has: string[]; hasNot: string[] }[] = [
    { nat: 'cone', has: ['oifname "wan" masquerade\n'], hasNot: ['random', 'saddr'] },
    { nat: 'symmetric', has: ['masquerade random'], hasNot: ['saddr', 'numgen'] },
    { nat: 'block', has: ['masquerade random', 'iifname "wan" ip saddr != 10.90.0.1 drop', 'oifname "wan" ip daddr != 10.90.0.1 drop'], hasNot: ['numgen'] },
    { nat: 'cone', loss: 2, has: ['oifname "wan" numgen random mod 1000 < 2 drop'], hasNot: ['masquerade random'] },
    { nat: 'symmetric', loss: 1000, has: ['oifname "wan" drop'], hasNot: ['numgen'] },
  ];
  it.each(cases)('$nat NAT (loss $loss ‰): a whole ruleset with the input drop every mode needs', ({ nat, loss, has, hasNot }) => {
    const rules = routerRuleset(nat, { serverAddress: '10.90.0.1', lossPermille: loss });
    expect(rules.startsWith('flush ruleset\n')).toBe(true);
    expect(rules).toContain('iifname "wan" ct state new drop');
    for (const text of has) expect(rules).toContain(text);
    for (const text of hasNot) expect(rules).not.toContain(text);
  });
});
