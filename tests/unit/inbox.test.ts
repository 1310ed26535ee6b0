/**
 * A link's inbox: what the other peer sent and the transfer has not read yet. A data channel has
 * no flow control on the receiving side, so the inbox bounds what it holds and the link stops a
 * sender that floods it.
 */
import { describe, expect, it } from 'vitest';
import { unreadCost } from '../../shared/wire.ts';
import { FLOODED, Inbox } from '../../web/src/lib/transfer/inbox.ts';
import { TransferFailure, type Incoming } from '../../web/src/lib/transfer/link.ts';
import { memoryLinkPair } from '../support/memory-link.ts';

const frame = (bytes: number): Incoming => ({ kind: 'bytes', bytes: new Uint8Array(bytes) });
const ack = (next: number): Incoming => ({ kind: 'control', message: { t: 'ack', next } });

describe('a link’s inbox', () => {
  it('hands messages over in order, to a waiting reader at once, and counts only what it holds', async () => {
    const inbox = new Inbox(1 << 20);
    const waiting = inbox.next();
    expect(inbox.deliver(frame(10))).toBe(true);
    expect(await waiting).toEqual(frame(10));
    expect(inbox.unread).toBe(0);

    expect(inbox.deliver(frame(100))).toBe(true);
    expect(inbox.deliver(ack(3), 20)).toBe(true);
    expect(inbox.unread).toBe(100 + unreadCost({ kind: 'control' }, 20));
    expect(await inbox.next()).toEqual(frame(100));
    expect(await inbox.next()).toEqual(ack(3));
    expect(inbox.unread).toBe(0);
  });

  it('refuses what would pass its limit, bytes or tiny control messages, and holds no more than the limit', () => {
    const bytes = new Inbox(64 * 1024);
    let accepted = 0;
    while (bytes.deliver(frame(1000))) accepted++;
    expect(accepted).toBe(65);
    expect(bytes.unread).toBeLessThanOrEqual(64 * 1024);

    const control = new Inbox(64 * 1024);
    let messages = 0;
    while (control.deliver(ack(1), 14)) messages++;
    expect(messages).toBe(Math.floor((64 * 1024) / unreadCost({ kind: 'control' }, 14)));
  });

  it('lets what arrived before the end be read, then fails every read with the link’s failure', async () => {
    const inbox = new Inbox();
    const failure = new TransferFailure('PEER_GONE', 'The other peer closed the connection.', 'peer');
    inbox.deliver(frame(5));
    inbox.end(failure);
    expect(await inbox.next()).toEqual(frame(5));
    await expect(inbox.next()).rejects.toBe(failure);

    const waiting = new Inbox();
    const read = waiting.next();
    waiting.end(failure);
    await expect(read).rejects.toBe(failure);
  });

  it('stops a link whose peer floods it while nobody reads: INTEGRITY here, and the flooder is told', async () => {
    const [flooder, flooded] = memoryLinkPair();
    const sent = async () => {
      for (;;) await flooder.sendBytes(new Uint8Array(64 * 1024));
    };
    const told = await sent().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(told).toMatchObject({ code: 'INTEGRITY', source: 'told' });
    expect(flooded.failure).toMatchObject({ code: 'INTEGRITY', message: FLOODED, source: 'self' });
    // What it took in before it stopped stays readable, and it never held more than its limit.
    expect(flooded.inbox.unread).toBeLessThanOrEqual(flooded.inbox.limit);
    expect(flooded.inbox.unread).toBeGreaterThan(flooded.inbox.limit - 64 * 1024);
  });
});
