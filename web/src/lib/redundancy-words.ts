/**
 * How the cloud keeps files, in words for the welcome: how many other browsers a file needs,
 * and what fragments buy once the cloud is big enough for them. The tracker tries its schemes
 * in order (shared/redundancy.ts); the smallest cloud that stores anything is the smallest n.
 */
import type { Scheme } from '../../../shared/redundancy.ts';

const browsers = (count: number) => `${count} other ${count === 1 ? 'browser' : 'browsers'}`;

export function describeRedundancy(schemes: readonly Scheme[]): string {
  const fewest = schemes.reduce((least, scheme) => (scheme.n < least.n ? scheme : least), schemes[0] ?? { k: 1, n: 2 });
  const needs = `so your cloud needs at least ${fewest.n} more, online.`;
  const kept = (scheme: Scheme) =>
    scheme.k === 1 ? `Each file is kept on ${browsers(scheme.n)}, ${needs}` : `Each file is cut into ${scheme.n} encrypted fragments, any ${scheme.k} of which give it back, kept on ${browsers(scheme.n)}, ${needs}`;
  const preferred = schemes[0] ?? fewest;
  if (preferred === fewest) return kept(fewest);
  const survives = (scheme: Scheme) => scheme.n - scheme.k;
  return (
    `${kept(fewest)} With ${preferred.n} or more, files are cut into ${preferred.n} encrypted fragments instead, any ${preferred.k} of which give them back: ` +
    `they then survive ${survives(preferred)} ${survives(preferred) === 1 ? 'peer' : 'peers'} leaving rather than ${survives(fewest)}.`
  );
}
