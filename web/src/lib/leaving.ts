/**
 * What closing this tab now would cost, in words: shown in the page (browsers show only their
 * own generic text in the "Leave site?" dialog) and used to decide whether to ask at all.
 */
export interface Underway {
  uploads: number;
  downloads: number;
  /** Deletions still waiting out their Undo. */
  deletions: number;
  /** Transfers this browser serves as a host (storing or sending other peers' files). */
  hosting: number;
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Undefined when nothing is under way: closing costs only the disconnection every close costs. */
export function leaveWarning(underway: Underway): string | undefined {
  const parts: string[] = [];
  if (underway.uploads > 0) parts.push(`${count(underway.uploads, 'upload', 'uploads')} would stop (you can resume later by choosing the file again)`);
  if (underway.downloads > 0) parts.push(`${count(underway.downloads, 'download', 'downloads')} would stop`);
  if (underway.deletions > 0) parts.push(`${count(underway.deletions, 'deletion', 'deletions')} would be carried out at once`);
  if (underway.hosting > 0) {
    parts.push(`${count(underway.hosting, 'transfer', 'transfers')} for other peers would fail, which counts against this browser’s reliability level for 24 hours`);
  }
  if (parts.length === 0) return undefined;
  return `If you close this tab now, ${parts.join('; ')}.`;
}

/** Other peers online: the tracker's count includes this one while it is connected. */
export function othersOnline(peersOnline: number, selfOnline: boolean): number {
  return Math.max(0, peersOnline - (selfOnline ? 1 : 0));
}
