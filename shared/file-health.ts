/** How a file's replica counts read to its owner. One wording for the page, the tests and the docs. */
import type { FileSummary } from './protocol.ts';

export type FileHealth = 'uploading' | 'interrupted' | 'failed' | 'healthy' | 'under-replicated' | 'unavailable' | 'lost';

type HealthInput = { state: FileSummary['state']; replicas: Pick<FileSummary['replicas'], 'wanted' | 'stored' | 'online'> };

export function fileHealth(file: HealthInput): FileHealth {
  if (file.state === 'uploading') return 'uploading';
  if (file.state === 'interrupted') return 'interrupted';
  if (file.state === 'failed') return 'failed';
  const { wanted, stored, online } = file.replicas;
  if (stored === 0) return 'lost';
  if (online === 0) return 'unavailable';
  if (online < wanted) return 'under-replicated';
  return 'healthy';
}

export function describeFileHealth(file: HealthInput): string {
  const { wanted, stored, online } = file.replicas;
  switch (fileHealth(file)) {
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
      return `Under-replicated: ${online} of ${wanted}`;
    case 'healthy':
      return `Stored on ${online} of ${wanted} ${wanted === 1 ? 'peer' : 'peers'}`;
  }
}
