import { describe, expect, it } from 'vitest';
import { blameFor, type EndedTransferFacts } from '../../shared/blame.ts';

const OWNER = 'owner';
const HOST = 'host';
const base = { senderId: OWNER, receiverId: HOST, responderId: HOST } as const;
const store = (over: Partial<EndedTransferFacts>): EndedTransferFacts => ({ kind: 'store', code: 'INTERNAL', cause: { by: 'tracker', reason: 'stalled' }, ...base, ...over });
const fetch = (over: Partial<EndedTransferFacts>): EndedTransferFacts => ({
  kind: 'fetch',
  senderId: HOST,
  receiverId: OWNER,
  responderId: HOST,
  code: 'INTERNAL',
  cause: { by: 'tracker', reason: 'stalled' },
  ...over,
});

describe('what a failed transfer counts against', () => {
  it.each([
    ['a host refusing to store', store({ code: 'REJECTED', cause: { by: 'peer', peerId: HOST, how: 'reject' } }), [{ peerId: HOST, kind: 'rejection' }]],
    ['a host not answering a storage request', store({ code: 'TIMEOUT', cause: { by: 'tracker', reason: 'unanswered' } }), [{ peerId: HOST, kind: 'rejection' }]],
    ['a host failing to write what it accepted', store({ code: 'STORAGE', cause: { by: 'peer', peerId: HOST, how: 'fail' } }), [{ peerId: HOST, kind: 'rejection' }]],
    ['an owner failing its own storage: nobody', store({ code: 'STORAGE', cause: { by: 'peer', peerId: OWNER, how: 'fail' } }), []],
    ['an owner going offline: nobody', store({ code: 'PEER_GONE', cause: { by: 'tracker', reason: 'peer_gone' } }), []],
    ['a deleted file: nobody', store({ code: 'CANCELLED', cause: { by: 'tracker', reason: 'deleted' } }), []],
    ['a repair target refusing', { ...store({ code: 'REJECTED', cause: { by: 'peer', peerId: HOST, how: 'reject' } }), kind: 'repair' as const }, [{ peerId: HOST, kind: 'rejection' }]],
    ['corrupt bytes served to the owner: the host that served them', fetch({ code: 'INTEGRITY', cause: { by: 'peer', peerId: OWNER, how: 'fail' } }), [{ peerId: HOST, kind: 'integrity_failure' }]],
    ['an integrity claim by the host itself: nobody', fetch({ code: 'INTEGRITY', cause: { by: 'peer', peerId: HOST, how: 'fail' } }), []],
    ['a download refused: nobody (a busy host is not refusing storage)', fetch({ code: 'REJECTED', cause: { by: 'peer', peerId: HOST, how: 'reject' } }), []],
  ] as const)('%s', (_, facts, expected) => {
    expect(blameFor(facts).map(({ peerId, kind }) => ({ peerId, kind }))).toEqual(expected);
  });
});

describe('a connection that could not be made', () => {
  const failed = (connectedElsewhere: Record<string, boolean>, pairFailedBefore = false) =>
    blameFor(store({ code: 'CONNECTION', cause: { by: 'peer', peerId: OWNER, how: 'fail' }, connection: { connectedElsewhere, pairFailedBefore } })).map((b) => b.peerId);

  it.each([
    ['counts against a host nobody reaches when the owner connects to others', { owner: true, host: false }, false, [HOST]],
    ['counts against a badly connected owner, never the good host, when only the host connects to others', { owner: false, host: true }, false, [OWNER]],
    ['counts against nobody when both connect to others (their two networks just do not meet)', { owner: true, host: true }, false, []],
    ['counts against nobody when neither does (a fresh cloud, or both cut off)', { owner: false, host: false }, false, []],
    ['counts once a day per pair', { owner: true, host: false }, true, []],
  ] as const)('%s', (_, connectedElsewhere, before, expected) => {
    expect(failed(connectedElsewhere, before)).toEqual(expected);
  });

  it('counts against nobody without evidence', () => {
    expect(blameFor(store({ code: 'CONNECTION', cause: { by: 'peer', peerId: HOST, how: 'fail' } }))).toEqual([]);
  });
});
