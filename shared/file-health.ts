/**
 * How a file's copies or fragments read to its owner. One wording for the page, the dashboard,
 * the tests and the docs.
 *
 * Whole copies (k = 1) say where the file is ("Stored on 2 of 2 peers"). Fragments (k of n)
 * say what a person needs to know instead: how many more peers can leave before the file can't
 * be read ("Protected: survives 2 more peers leaving"), that one more would make it
 * unreadable ("At risk"), or that it can't be read now ("Unavailable"), with the numbers behind
 * it in brackets.
 */
import type { FileSummary } from './protocol.ts';
import { fragmentHealth, type Scheme } from './redundancy.ts';

export type FileHealth = 'uploading' | 'interrupted' | 'failed' | 'healthy' | 'protected' | 'at-risk' | 'under-replicated' | 'unavailable' | 'lost';

export type HealthInput = {
  state: FileSummary['state'];
  replicas: Pick<FileSummary['replicas'], 'wanted' | 'stored' | 'online'>;
  /** Absent: whole copies, as every file was before fragments. */
  scheme?: Scheme;
};

export function fileHealth(file: HealthInput): FileHealth {
  if (file.state === 'uploading') return 'uploading';
  if (file.state === 'interrupted') return 'interrupted';
  if (file.state === 'failed') return 'failed';
  const { wanted, stored, online } = file.replicas;
  const scheme = file.scheme ?? { k: 1, n: wanted };
  if (scheme.k > 1) return fragmentHealth(scheme, { stored, live: online }).health;
  if (stored === 0) return 'lost';
  if (online === 0) return 'unavailable';
  if (online < wanted) return 'under-replicated';
  return 'healthy';
}

const peers = (count: number) => `${count} more ${count === 1 ? 'peer' : 'peers'}`;

export function describeFileHealth(file: HealthInput): string {
  const { wanted, stored, online } = file.replicas;
  const k = file.scheme?.k ?? 1;
  const health = fileHealth(file);
  if (k > 1) {
    const numbers = `${online} of ${wanted} fragments online, any ${k} read it`;
    switch (health) {
      case 'uploading':
        return stored > 0 ? `Uploading: ${stored} of ${wanted} fragments stored` : 'Uploading';
      case 'healthy':
      case 'protected':
        return `Protected: survives ${peers(online - k)} leaving (${numbers})`;
      case 'at-risk':
        return `At risk: one more peer leaving makes it unreadable (${numbers})`;
      case 'unavailable':
        return `Unavailable until its hosts come back (${numbers})`;
      case 'lost':
        return `Lost: fewer than ${k} fragments remain (${stored} of ${wanted})`;
    }
  }
  switch (health) {
    case 'uploading':
      return stored > 0 ? `Uploading: stored on ${stored} of ${wanted}` : 'Uploading';
    case 'interrupted':
      return 'Upload interrupted: choose the file again to resume';
    case 'failed':
      return 'Upload failed';
    case 'lost':
      return 'Lost: no peer holds it any more';
    case 'unavailable':
      return 'Unavailable: its hosts are offline';
    case 'under-replicated':
    case 'protected':
    case 'at-risk':
      return `Under-replicated: ${online} of ${wanted}`;
    case 'healthy':
      return `Stored on ${online} of ${wanted} ${wanted === 1 ? 'peer' : 'peers'}`;
  }
}
