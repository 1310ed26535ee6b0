import { describe, expect, it } from 'vitest';
import { auditBlame, blameFor, type EndedTransferFacts } from '../../shared/blame.ts';

const OWNER = 'owner';
const HOST = 'host';
const store = (over: Partial<EndedTransferFacts>): EndedTransferFacts => ({
  kind: 'store',
  senderId: OWNER,
  receiverId: HOST,
  responderId: HOST,
  code: 'INTERNAL',
  state: 'open',
  bytesReported: 1000,
  cause: { by: 'tracker', reason: 'stalled' },
  ...over,
});
const fetch = (over: Partial<EndedTransferFacts>): EndedTransferFacts => ({ ...store({}), kind: 'fetch', senderId: HOST, receiverId: OWNER, responderId: HOST, ...over });
const by = (peerId: string, how: 'reject' | 'fail') => ({ by: 'peer' as const, peerId, how });
const tracker = (reason: 'unanswered' | 'stalled' | 'peer_gone' | 'deleted' | 'restart' | 'root_mismatch' | 'audit_failed') => ({ by: 'tracker' as const, reason });
const summary = (facts: EndedTransferFacts) => blameFor(facts).map(({ peerId, kind, counterpartyId }) => ({ peerId, kind, perPair: counterpartyId !== undefined }));

describe('what a failed transfer counts against', () => {
  it.each([
    // Refusals and silence: the host asked broke a promise (counted once a day per owner).
    ['a host refusing to store', store({ code: 'REJECTED', state: 'offered', cause: by(HOST, 'reject') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['a host refusing to serve a download', fetch({ code: 'REJECTED', state: 'offered', cause: by(HOST, 'reject') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['a host not answering', store({ code: 'TIMEOUT', state: 'offered', cause: tracker('unanswered') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    // Accepted, then broken.
    ['a host giving up on a store it accepted, whatever it says', store({ code: 'CANCELLED', cause: by(HOST, 'fail') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['a host that cannot write what it accepted', store({ code: 'STORAGE', cause: by(HOST, 'fail') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['a host giving up on a download, even claiming corruption', fetch({ code: 'INTEGRITY', cause: by(HOST, 'fail') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['a store that stalled after bytes moved: its host', store({ code: 'TIMEOUT', cause: tracker('stalled') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['a download that stalled after bytes moved: its host', fetch({ code: 'TIMEOUT', cause: tracker('stalled') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['bytes that do not match the owner’s seal', store({ code: 'INTEGRITY', cause: tracker('root_mismatch') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    ['the owner saying the host failed it: its word, once a day', store({ code: 'INTERNAL', cause: by(OWNER, 'fail') }), [{ peerId: HOST, kind: 'rejection', perPair: true }]],
    // Nobody's broken promise here.
    ['an owner failing to read its own file', store({ code: 'STORAGE', cause: by(OWNER, 'fail') }), []],
    ['an owner cancelling', store({ code: 'CANCELLED', cause: by(OWNER, 'fail') }), []],
    ['a corrupt download, on the owner’s word: the audit decides', fetch({ code: 'INTEGRITY', cause: by(OWNER, 'fail') }), []],
    ['a peer going offline (its dynamism counts it)', store({ code: 'PEER_GONE', cause: tracker('peer_gone') }), []],
    ['a deleted file', store({ code: 'CANCELLED', cause: tracker('deleted') }), []],
    ['a tracker restart', store({ code: 'CANCELLED', cause: tracker('restart') }), []],
    ['a failed first audit (the audit itself is blamed)', store({ code: 'INTEGRITY', cause: tracker('audit_failed') }), []],
    ['a repair target refusing', { ...store({ code: 'REJECTED', state: 'offered', cause: by(HOST, 'reject') }), kind: 'repair' as const }, [{ peerId: HOST, kind: 'rejection', perPair: true }]],
  ] as const)('%s', (_, facts, expected) => {
    expect(summary(facts)).toEqual(expected);
  });
});

describe('a connection that could not be made', () => {
  const failed = (connectedElsewhere: Record<string, boolean>, pairFailedBefore = false, over: Partial<EndedTransferFacts> = {}) =>
    blameFor(store({ code: 'CONNECTION', cause: by(OWNER, 'fail'), connection: { connectedElsewhere, pairFailedBefore }, ...over })).map((b) => b.peerId);

  it.each([
    ['counts against a host nobody reaches when the owner connects to others', { owner: true, host: false }, false, [HOST]],
    ['counts against a badly connected owner, never the good host, when only the host connects to others', { owner: false, host: true }, false, [OWNER]],
    ['counts against nobody when both connect to others (their two networks just do not meet)', { owner: true, host: true }, false, []],
    ['counts against nobody when neither does (a fresh cloud, or both cut off)', { owner: false, host: false }, false, []],
    ['counts once a day per pair', { owner: true, host: false }, true, []],
  ] as const)('%s', (_, connectedElsewhere, before, expected) => {
    expect(failed(connectedElsewhere, before)).toEqual(expected);
  });

  it('judges a transfer that stalled with no byte moved as a connection that never opened', () => {
    expect(failed({ owner: true, host: false }, false, { code: 'TIMEOUT', cause: tracker('stalled'), bytesReported: 0 })).toEqual([HOST]);
  });

  it('counts against nobody without evidence', () => {
    expect(blameFor(store({ code: 'CONNECTION', cause: by(HOST, 'fail') }))).toEqual([]);
  });
});

describe('what an audit counts against', () => {
  it.each([
    ['a wrong answer: an integrity failure', 'routine', 'wrong', [{ peerId: HOST, kind: 'integrity_failure' }]],
    ['no answer: a broken promise', 'routine', 'unanswered', [{ peerId: HOST, kind: 'rejection' }]],
    ['a passed audit: nothing', 'routine', 'passed', []],
    ['an accusation the audit did not confirm: the failed download, once a day per owner', 'accusation', 'passed', [{ peerId: HOST, kind: 'rejection' }]],
  ] as const)('%s', (_, purpose, verdict, expected) => {
    expect(auditBlame({ hostId: HOST, purpose, ownerId: OWNER }, verdict).map(({ peerId, kind }) => ({ peerId, kind }))).toEqual(expected);
  });
});
