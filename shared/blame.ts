/**
 * Who, if anyone, a failed transfer counts against. Blame feeds the availability score, so it
 * must rest on what the tracker saw (who answered, who reported what) and never on one side's
 * word alone where the other could be framed. One place decides it; the tracker applies it.
 */
import type { TransferErrorCode } from './protocol.ts';

export type BlameKind = 'rejection' | 'integrity_failure';

export interface Blame {
  peerId: string;
  kind: BlameKind;
  /** Why, for the operator's logs (no peer-written text). */
  reason: string;
}

export interface EndedTransferFacts {
  kind: 'store' | 'fetch' | 'repair';
  senderId: string;
  receiverId: string;
  responderId: string;
  code: TransferErrorCode;
  /** Who ended it: a peer with a request, or the tracker itself. */
  cause:
    | { by: 'peer'; peerId: string; how: 'reject' | 'fail' | 'finish' | 'stored' }
    | { by: 'tracker'; reason: 'unanswered' | 'stalled' | 'peer_gone' | 'deleted' | 'restart' | 'root_mismatch' | 'verified' };
}

/** What a failed transfer counts against, if anything. */
export function blameFor(facts: EndedTransferFacts): Blame[] {
  const storage = facts.kind === 'store' || facts.kind === 'repair';
  const { cause } = facts;
  // A host asked to store that refused: a rejected storage request, the paper's availability metric.
  if (storage && cause.by === 'peer' && cause.how === 'reject' && cause.peerId === facts.responderId) {
    return [{ peerId: facts.responderId, kind: 'rejection', reason: 'refused to store' }];
  }
  // A host asked to store that never answered refused by silence.
  if (storage && cause.by === 'tracker' && cause.reason === 'unanswered') {
    return [{ peerId: facts.responderId, kind: 'rejection', reason: 'did not answer a storage request' }];
  }
  // A host that accepted and then could not write what it took.
  if (storage && cause.by === 'peer' && cause.how === 'fail' && cause.peerId === facts.receiverId && facts.code === 'STORAGE') {
    return [{ peerId: facts.receiverId, kind: 'rejection', reason: 'failed to store what it accepted' }];
  }
  // The owner got bytes that failed authentication: the host that served them.
  if (facts.kind === 'fetch' && cause.by === 'peer' && cause.how === 'fail' && cause.peerId === facts.receiverId && facts.code === 'INTEGRITY') {
    return [{ peerId: facts.senderId, kind: 'integrity_failure', reason: 'served data that failed verification' }];
  }
  return [];
}
