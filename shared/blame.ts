/**
 * Who, if anyone, a failed transfer counts against. Blame feeds the availability score, so it
 * rests on what the tracker saw (who answered, who reported what, whether bytes moved), never
 * on one side's word where the other could be framed:
 *
 * - a host that refuses or ignores a request (to store, or to serve what it stores) broke a
 *   promise, and so did one that accepted and then gave up, stalled, or confirmed bytes that
 *   don't match the owner's seal;
 * - what only the other side says (an owner claiming a host misbehaved) counts at most once a
 *   day per pair of peers, so that one owner's word never sinks a host; an owner claiming its
 *   download was corrupt is not blamed on anyone here at all: the tracker audits the host on
 *   the chunk named, and only a failed audit counts;
 * - a peer that went away is counted as a disconnection, not here; nor is a deleted file, a
 *   tracker restart, or an owner's own failure to read its file;
 * - two peers that never connected: see `connectionBlame`.
 */
import type { TransferErrorCode } from './protocol.ts';

export type BlameKind = 'rejection' | 'integrity_failure';

export interface Blame {
  peerId: string;
  kind: BlameKind;
  /** Why, for the operator's logs (no peer-written text). */
  reason: string;
  /** Set when the evidence is the other peer's word: counted at most once a day per pair. */
  counterpartyId?: string;
}

/** A connection counts against a peer only when the other one has shown it can connect: within this window. */
export const REACHABILITY_WINDOW_MS = 60 * 60_000;

export interface EndedTransferFacts {
  kind: 'store' | 'fetch' | 'repair';
  senderId: string;
  receiverId: string;
  responderId: string;
  code: TransferErrorCode;
  /** How far it got: still waiting for the host's answer, or accepted. */
  state?: 'offered' | 'open';
  /** The most bytes either side reported moving. */
  bytesReported?: number;
  /** Who ended it: a peer with a request, or the tracker itself. */
  cause:
    | { by: 'peer'; peerId: string; how: 'reject' | 'fail' | 'finish' | 'stored' }
    | { by: 'tracker'; reason: 'unanswered' | 'stalled' | 'peer_gone' | 'deleted' | 'restart' | 'root_mismatch' | 'verified' | 'audit_failed' | 'group_failed'; goneId?: string };
  /**
   * For two peers that may never have connected, what the tracker knows of their networks:
   * whether each completed a transfer with some third peer within REACHABILITY_WINDOW_MS, and
   * whether this pair already failed to connect within the day.
   */
  connection?: { connectedElsewhere: Record<string, boolean>; pairFailedBefore: boolean };
}

/** Whether a failed transfer needs the connection evidence to be judged (the caller fetches it). */
export function needsConnectionEvidence(facts: Pick<EndedTransferFacts, 'code' | 'cause' | 'bytesReported'>): boolean {
  return facts.code === 'CONNECTION' || (facts.cause.by === 'tracker' && facts.cause.reason === 'stalled' && (facts.bytesReported ?? 0) === 0);
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

/** The host whose data a transfer moves: a store's receiver, a download's or a repair's sender. */
function dataHost(facts: EndedTransferFacts): string {
  return facts.kind === 'store' ? facts.receiverId : facts.senderId;
}

function otherParty(facts: EndedTransferFacts, peerId: string): string {
  return peerId === facts.senderId ? facts.receiverId : facts.senderId;
}

/** What a failed transfer counts against, if anything. */
export function blameFor(facts: EndedTransferFacts): Blame[] {
  const { cause } = facts;
  if (needsConnectionEvidence(facts)) return connectionBlame(facts);
  if (cause.by === 'tracker') {
    switch (cause.reason) {
      case 'unanswered':
        return [{ peerId: facts.responderId, kind: 'rejection', reason: 'did not answer a request', counterpartyId: otherParty(facts, facts.responderId) }];
      case 'stalled':
        return [{ peerId: dataHost(facts), kind: 'rejection', reason: 'stalled a transfer it had accepted', counterpartyId: otherParty(facts, dataHost(facts)) }];
      case 'root_mismatch':
        return [{ peerId: facts.receiverId, kind: 'rejection', reason: 'confirmed bytes that do not match the owner’s seal', counterpartyId: facts.senderId }];
      // Gone peers lose dynamism; deletions, restarts and audits are no one's broken promise here.
      default:
        return [];
    }
  }
  if (cause.how === 'reject') {
    // A refusal to store or to serve what it stores. Only the host asked can refuse.
    return cause.peerId === facts.responderId ? [{ peerId: facts.responderId, kind: 'rejection', reason: 'refused a request', counterpartyId: otherParty(facts, facts.responderId) }] : [];
  }
  if (cause.how !== 'fail') return [];
  const host = dataHost(facts);
  if (cause.peerId === host || (facts.kind === 'repair' && cause.peerId === facts.responderId)) {
    // A host that gave up on what it accepted (or, on a repair, either host).
    return [{ peerId: cause.peerId, kind: 'rejection', reason: 'gave up on a transfer it had accepted', counterpartyId: otherParty(facts, cause.peerId) }];
  }
  // The owner's side gave up. Its own trouble (reading its file, cancelling) is no one else's;
  // a corrupt download is for an audit to judge; anything else it says of the host is its word.
  if (facts.code === 'STORAGE' || facts.code === 'CANCELLED' || facts.code === 'PEER_GONE') return [];
  if (facts.kind === 'fetch' && facts.code === 'INTEGRITY') return [];
  return [{ peerId: host, kind: 'rejection', reason: 'failed a transfer, by the other peer’s account', counterpartyId: cause.peerId }];
}

/**
 * What an audit's verdict counts against: a wrong answer is an integrity failure (the host
 * does not hold what it claims); no answer is a broken promise. An owner's accusation that
 * the audit did not confirm still means its download failed: counted once a day per pair.
 */
export function auditBlame(audit: { hostId: string; purpose: 'store' | 'routine' | 'claim' | 'promote' | 'accusation'; ownerId: string }, verdict: 'passed' | 'wrong' | 'unanswered'): Blame[] {
  if (verdict === 'wrong') return [{ peerId: audit.hostId, kind: 'integrity_failure', reason: 'could not prove it holds a replica' }];
  if (verdict === 'unanswered') return [{ peerId: audit.hostId, kind: 'rejection', reason: 'did not answer an audit' }];
  if (audit.purpose === 'accusation') return [{ peerId: audit.hostId, kind: 'rejection', reason: 'a download from it failed, by the owner’s account', counterpartyId: audit.ownerId }];
  return [];
}
