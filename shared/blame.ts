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

/** A connection counts against a peer only when the other one has shown it can connect: within this window. */
export const REACHABILITY_WINDOW_MS = 60 * 60_000;

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
  /**
   * For a CONNECTION failure, what the tracker knows of the two peers' networks: whether each
   * completed a transfer with some third peer within REACHABILITY_WINDOW_MS, and whether this
   * pair already failed to connect within the day.
   */
  connection?: { connectedElsewhere: Record<string, boolean>; pairFailedBefore: boolean };
}

/**
 * Two peers that could not open a data channel: their networks, or one of them, allow no
 * direct path (and no relay helped). The tracker cannot see which, so it blames a peer only
 * on evidence: the other one connected to someone else within the hour and this one did not,
 * and only once a day per pair. One badly connected owner therefore costs good hosts nothing,
 * and a host nobody can reach loses availability, as it should: it is no use to the cloud.
 */
function connectionBlame(facts: EndedTransferFacts): Blame[] {
  const evidence = facts.connection;
  if (!evidence || evidence.pairFailedBefore) return [];
  const parties = [facts.senderId, facts.receiverId];
  return parties
    .filter((peer) => {
      const other = peer === facts.senderId ? facts.receiverId : facts.senderId;
      return evidence.connectedElsewhere[other] === true && evidence.connectedElsewhere[peer] !== true;
    })
    .map((peerId) => ({ peerId, kind: 'rejection' as const, reason: 'could not be reached by a peer that connects to others' }));
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
  if (facts.code === 'CONNECTION') return connectionBlame(facts);
  // The owner got bytes that failed authentication: the host that served them.
  if (facts.kind === 'fetch' && cause.by === 'peer' && cause.how === 'fail' && cause.peerId === facts.receiverId && facts.code === 'INTEGRITY') {
    return [{ peerId: facts.senderId, kind: 'integrity_failure', reason: 'served data that failed verification' }];
  }
  return [];
}
