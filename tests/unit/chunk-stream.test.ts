/**
 * The chunk protocol over an in-memory pair of links: the sending window, the acks, resuming
 * from a chunk, early and late messages, and every way the other side can lie or fail.
 */
import { describe, expect, it } from 'vitest';
import { SEAL_OVERHEAD } from '../../shared/chunking.ts';
import { MAX_UNREAD_BYTES, sendWindow, type WireMessage } from '../../shared/wire.ts';
import { FLOODED } from '../../web/src/lib/transfer/inbox.ts';
import { chunkDigestHex } from '../../web/src/lib/crypto/digests.ts';
import { joinParts, receiveChunks, sendChunks, type ChunkSource, type ReceivedChunk } from '../../web/src/lib/transfer/chunk-stream.ts';
import { TransferFailure } from '../../web/src/lib/transfer/link.ts';
import { memoryLinkPair, type MemoryLink } from '../support/memory-link.ts';

const CHUNK_SIZE = 16 * 1024;
const ROOT = 'c'.repeat(64);

/** Chunks of sealed-looking bytes (plaintext + tag) with their hashes. */
async function makeChunks(count: number, size = CHUNK_SIZE + SEAL_OVERHEAD): Promise<{ bytes: Uint8Array<ArrayBuffer>; sha256: string }[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const bytes = new Uint8Array(size).map((_, k) => (index * 31 + k) & 0xff);
      return { bytes, sha256: await chunkDigestHex(bytes) };
    }),
  );
}

function sourceOf(chunks: { bytes: Uint8Array<ArrayBuffer>; sha256: string }[]): ChunkSource & { reads: number[] } {
  const reads: number[] = [];
  return {
    count: chunks.length,
    reads,
    read: async (index) => {
      reads.push(index);
      return chunks[index]!;
    },
  };
}

/** A sink that records what it was given, and can be held shut to test the window. */
function recordingSink() {
  const written: ReceivedChunk[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  return {
    written,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      open();
    },
    sink: {
      write: async (chunks: ReceivedChunk[]) => {
        await gate;
        written.push(chunks);
      },
    },
  };
}

const receiveOptions = (count: number, over: Partial<Parameters<typeof receiveChunks>[2]> = {}) => ({
  from: 0,
  count,
  batchBytes: 3 * (CHUNK_SIZE + SEAL_OVERHEAD),
  verifyOnReceipt: true,
  expectedLength: () => CHUNK_SIZE + SEAL_OVERHEAD,
  ...over,
});

/** The receiving side: `receiveChunks` then `done`, as a host or an owner does. */
async function receiver(link: MemoryLink, sink: { write(chunks: ReceivedChunk[]): Promise<void> }, count: number, over: Partial<Parameters<typeof receiveChunks>[2]> = {}) {
  const end = await receiveChunks(link, sink, receiveOptions(count, over));
  await link.sendControl({ t: 'done' });
  return end;
}

async function failureOf(promise: Promise<unknown>): Promise<TransferFailure> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TransferFailure);
  return error as TransferFailure;
}

describe('sending and receiving chunks', () => {
  it('delivers every chunk in order, in batches, acks what was persisted and reports progress forward only', async () => {
    const chunks = await makeChunks(10);
    const [a, b] = memoryLinkPair();
    const { sink, written } = recordingSink();
    const progress: number[] = [];
    const [end] = await Promise.all([
      receiver(b, sink, 10),
      sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE, root: async () => ROOT, onProgress: (bytes) => progress.push(bytes) }),
    ]);
    expect(end).toEqual({ t: 'end', root: ROOT });
    const received = written.flat();
    expect(received.map((chunk) => chunk.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(received.every((chunk, index) => Buffer.from(joinParts(chunk.parts, chunk.length)).equals(Buffer.from(chunks[index]!.bytes)))).toBe(true);
    // Batches of about three chunks, the last one whatever was left.
    expect(written.map((batch) => batch.length)).toEqual([3, 3, 3, 1]);
    expect(b.sent.filter((m): m is Extract<WireMessage, { t: 'ack' }> => 't' in m && m.t === 'ack').map((m) => m.next)).toEqual([3, 6, 9, 10]);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
    expect(progress.at(-1)).toBe(10 * (CHUNK_SIZE + SEAL_OVERHEAD));
  });

  it.each([
    ['by default', undefined, 4],
    ['as the source asks (an upload whose reads hold whole stripes)', 2, 2],
  ] as const)('reads ahead of the chunk it sends %s', async (_, readAhead, expected) => {
    const chunks = await makeChunks(12);
    const source = sourceOf(chunks);
    const [a, b] = memoryLinkPair();
    // How far the reads had gone past each chunk as it was announced.
    let mostAhead = 0;
    const sendControl = a.sendControl.bind(a);
    a.sendControl = (message) => {
      if (message.t === 'chunk') mostAhead = Math.max(mostAhead, Math.max(...source.reads) - message.i);
      return sendControl(message);
    };
    const recorder = recordingSink();
    const sending = sendChunks(a, source, { from: 0, chunkSize: CHUNK_SIZE, ...(readAhead === undefined ? {} : { readAhead }) });
    await Promise.all([sending, receiver(b, recorder.sink, chunks.length)]);
    expect(recorder.written.flat()).toHaveLength(chunks.length);
    expect(mostAhead).toBe(expected);
  });

  it('never runs more than a window of chunks ahead of the last ack', async () => {
    // The window is counted in chunks of the transfer's chunk size: 4 MiB chunks make it small.
    const window = sendWindow(4 * 1024 * 1024);
    const count = window * 3;
    const chunks = await makeChunks(count);
    const [a, b] = memoryLinkPair();
    // Chunks sent beyond the receiver's last ack, at every chunk the sender sends.
    let acked = 0;
    let mostAhead = 0;
    const sendControl = a.sendControl.bind(a);
    a.sendControl = (message) => {
      if (message.t === 'chunk') mostAhead = Math.max(mostAhead, message.i + 1 - acked);
      return sendControl(message);
    };
    const ack = b.sendControl.bind(b);
    b.sendControl = (message) => {
      if (message.t === 'ack') acked = message.next;
      return ack(message);
    };
    const recorder = recordingSink();
    recorder.hold();
    const sending = sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: 4 * 1024 * 1024 });
    const receiving = receiver(b, recorder.sink, count, { batchBytes: CHUNK_SIZE + SEAL_OVERHEAD });
    // With the sink held shut nothing is acked: the sender stops at the window…
    await expect.poll(() => a.sent.filter((m) => 't' in m && m.t === 'chunk').length).toBe(window);
    // …and goes on as acks come.
    recorder.release();
    await Promise.all([sending, receiving]);
    expect(recorder.written.flat()).toHaveLength(count);
    expect(mostAhead).toBe(window);
  });

  it('lets an honest sender fill its whole window of the smallest chunks while the receiver is stuck on a write', async () => {
    // 16 KiB chunks: a window of 1,024 of them, each behind its header, all held by the receiver at once.
    const window = sendWindow(CHUNK_SIZE);
    const chunks = await makeChunks(window + 8);
    const [a, b] = memoryLinkPair();
    const recorder = recordingSink();
    recorder.hold();
    const sending = sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE });
    const receiving = receiver(b, recorder.sink, chunks.length);
    await expect.poll(() => a.sent.filter((m) => 't' in m && m.t === 'chunk').length).toBe(window);
    expect([a.failure, b.failure]).toEqual([undefined, undefined]);
    recorder.release();
    await Promise.all([sending, receiving]);
    expect(recorder.written.flat()).toHaveLength(chunks.length);
  });

  it('reads acks as they come: progress moves before the window is full or the last chunk is sent', async () => {
    const chunks = await makeChunks(3);
    const [a, b] = memoryLinkPair();
    let acknowledged = () => {};
    const firstAck = new Promise<void>((resolve) => (acknowledged = resolve));
    // The last chunk can't be read until the receiver's first ack has been seen (a slow link: a
    // small file is all inside the window, and its acks must still be heard as they come).
    const source: ChunkSource = { count: 3, read: async (index) => (index === 2 ? firstAck.then(() => chunks[2]!) : chunks[index]!) };
    const progress: number[] = [];
    await Promise.all([
      receiver(b, recordingSink().sink, 3, { batchBytes: 1 }),
      sendChunks(a, source, {
        from: 0,
        chunkSize: CHUNK_SIZE,
        onProgress: (_bytes, done) => {
          progress.push(done);
          acknowledged();
        },
      }),
    ]);
    expect(progress).toEqual([1, 2, 3]);
  });

  it('starts where the receiver says, for a resumed transfer', async () => {
    const chunks = await makeChunks(6);
    const [a, b] = memoryLinkPair();
    const { sink, written } = recordingSink();
    const source = sourceOf(chunks);
    await Promise.all([receiver(b, sink, 6, { from: 4 }), sendChunks(a, source, { from: 4, chunkSize: CHUNK_SIZE })]);
    expect(written.flat().map((chunk) => chunk.index)).toEqual([4, 5]);
    expect(source.reads).toEqual([4, 5]);
  });

  it('ends a resumed transfer whose receiver already has every chunk: only the end and its answer', async () => {
    const chunks = await makeChunks(3);
    const [a, b] = memoryLinkPair();
    const { sink, written } = recordingSink();
    const source = sourceOf(chunks);
    const [end] = await Promise.all([receiver(b, sink, 3, { from: 3 }), sendChunks(a, source, { from: 3, chunkSize: CHUNK_SIZE, root: async () => ROOT })]);
    expect(end).toEqual({ t: 'end', root: ROOT });
    expect(written).toEqual([]);
    expect(source.reads).toEqual([]);
  });

  it('accepts messages that arrive before anyone waits for them', async () => {
    const chunks = await makeChunks(3);
    const [a, b] = memoryLinkPair();
    // The sender runs ahead while nobody receives yet: everything queues.
    const sending = sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE });
    await expect.poll(() => a.sent.filter((m) => 't' in m && m.t === 'end').length).toBe(1);
    const { sink, written } = recordingSink();
    await Promise.all([receiver(b, sink, 3), sending]);
    expect(written.flat()).toHaveLength(3);
  });
});

describe('what the other side can get wrong', () => {
  it('fails a sender whose receiver acknowledges chunks it was never sent', async () => {
    const chunks = await makeChunks(2 * sendWindow(CHUNK_SIZE));
    const [a, b] = memoryLinkPair();
    const sending = sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE });
    await b.nextControl();
    await b.sendControl({ t: 'ack', next: chunks.length });
    const failure = await failureOf(sending);
    expect(failure).toMatchObject({ code: 'INTEGRITY', source: 'self' });
    expect(b.failure).toMatchObject({ code: 'INTEGRITY', source: 'told' });
  });

  it.each([
    ['a chunk out of order', [{ t: 'chunk', i: 1, len: CHUNK_SIZE + SEAL_OVERHEAD, sha: 'a'.repeat(64) }], 'INTEGRITY', /arrived where 0 was expected/],
    ['a chunk of the wrong length', [{ t: 'chunk', i: 0, len: 100, sha: 'a'.repeat(64) }], 'INTEGRITY', /wrong length/],
    ['an end before the last chunk', [{ t: 'end' }], 'INTEGRITY', /ended after 0 of 3 chunks/],
    ['a message that makes no sense here', [{ t: 'want', from: 0 }], 'INTERNAL', /Unexpected "want"/],
  ] as const)('fails a receiver sent %s', async (_, messages, code, words) => {
    const [a, b] = memoryLinkPair();
    const { sink } = recordingSink();
    const receiving = receiver(b, sink, 3);
    for (const message of messages) await a.sendControl(message as WireMessage);
    const failure = await failureOf(receiving);
    expect(failure.code).toBe(code);
    expect(failure.message).toMatch(words);
    // The sender hears it, as the other peer's failure to report: it says nothing more itself.
    expect(a.failure).toMatchObject({ code, source: 'told' });
  });

  it('fails a receiver on bytes that do not match their announced hash, when it checks on receipt', async () => {
    const [chunk] = await makeChunks(1);
    const [a, b] = memoryLinkPair();
    const { sink, written } = recordingSink();
    const receiving = receiver(b, sink, 1);
    await a.sendControl({ t: 'chunk', i: 0, len: chunk!.bytes.byteLength, sha: 'f'.repeat(64) });
    await a.sendBytes(chunk!.bytes);
    expect(await failureOf(receiving)).toMatchObject({ code: 'INTEGRITY', message: 'Chunk 0 does not match its hash.' });
    expect(written).toEqual([]);
  });

  it('fails a receiver on more bytes than the chunk announced', async () => {
    const [chunk] = await makeChunks(1);
    const [a, b] = memoryLinkPair();
    const receiving = receiver(b, recordingSink().sink, 1, { expectedLength: () => 100 });
    await a.sendControl({ t: 'chunk', i: 0, len: 100, sha: chunk!.sha256 });
    await a.sendBytes(chunk!.bytes);
    expect(await failureOf(receiving)).toMatchObject({ code: 'INTEGRITY', message: 'Chunk 0 is malformed.' });
  });

  it('stops a sender that ignores the acks and runs past its window, before the receiver holds more than the bound', async () => {
    const [chunk] = await makeChunks(1, 1024 * 1024 + SEAL_OVERHEAD);
    const [a, b] = memoryLinkPair();
    const recorder = recordingSink();
    recorder.hold();
    const count = 64;
    const receiving = receiver(b, recorder.sink, count, { expectedLength: () => chunk!.bytes.byteLength });
    // Every chunk well formed and matching its hash, sent without ever waiting for an ack, each
    // once the receiver has read the one before: its link's inbox stays empty, and what piles up
    // is what it read and can't write.
    const flooding = failureOf(
      (async () => {
        for (let index = 0; index < count; index++) {
          while (b.inbox.unread > 0 && !a.failure) await new Promise((resolve) => setImmediate(resolve));
          await a.sendControl({ t: 'chunk', i: index, len: chunk!.bytes.byteLength, sha: chunk!.sha256 });
          await a.sendBytes(chunk!.bytes);
        }
      })(),
    );
    expect(await failureOf(receiving)).toMatchObject({ code: 'INTEGRITY', message: FLOODED, source: 'self' });
    expect(await flooding).toMatchObject({ code: 'INTEGRITY', source: 'told' });
    // Stopped at the chunk that took it past the bound (a sender that does not wait is stopped by the inbox: inbox.test.ts).
    const sent = a.sent.filter((m) => 't' in m && m.t === 'chunk').length * chunk!.bytes.byteLength;
    expect(sent).toBeGreaterThan(MAX_UNREAD_BYTES);
    expect(sent).toBeLessThanOrEqual(MAX_UNREAD_BYTES + chunk!.bytes.byteLength);
    expect(recorder.written).toEqual([]);
  });

  it('fails a sender that gets bytes where a control message belongs', async () => {
    const chunks = await makeChunks(1);
    const [a, b] = memoryLinkPair();
    const sending = sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE });
    b.other.inject({ kind: 'bytes', bytes: new Uint8Array(8) });
    expect(await failureOf(sending)).toMatchObject({ code: 'INTERNAL', message: 'The other peer sent data out of turn.' });
  });

  it('fails the link as a storage failure when the sink cannot write, and the sender hears it', async () => {
    const chunks = await makeChunks(4);
    const [a, b] = memoryLinkPair();
    const receiving = receiver(b, { write: () => Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError')) }, 4);
    const sending = failureOf(sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE }));
    expect(await failureOf(receiving)).toMatchObject({ code: 'STORAGE', source: 'self' });
    expect(await sending).toMatchObject({ code: 'STORAGE', source: 'told' });
  });

  it('keeps a sink’s own typed failure, and the chunk it names (the tracker audits the host on it)', async () => {
    const chunks = await makeChunks(2);
    const [a, b] = memoryLinkPair();
    const receiving = receiver(b, { write: () => Promise.reject(new TransferFailure('INTEGRITY', 'Chunk 0 failed authentication.', 'self', 0)) }, 2, { batchBytes: 1 });
    // The sender stalls before chunk 1: the receiver is waiting on the link when the write fails.
    const stalled: ChunkSource = { count: 2, read: (index) => (index === 0 ? Promise.resolve(chunks[0]!) : new Promise(() => undefined)) };
    void sendChunks(a, stalled, { from: 0, chunkSize: CHUNK_SIZE }).catch(() => undefined);
    expect(await failureOf(receiving)).toMatchObject({ code: 'INTEGRITY', message: 'Chunk 0 failed authentication.', source: 'self', chunk: 0 });
  });

  it('fails a sender whose source cannot be read, and the receiver hears the code', async () => {
    const [a, b] = memoryLinkPair();
    const source: ChunkSource = { count: 3, read: (index) => (index === 1 ? Promise.reject(new TransferFailure('STORAGE', 'Chunk 1 is missing from this host.')) : makeChunks(1).then((c) => c[0]!)) };
    const receiving = receiver(b, recordingSink().sink, 3);
    const sending = sendChunks(a, source, { from: 0, chunkSize: CHUNK_SIZE }).catch((error: TransferFailure) => {
      a.fail(error.code, error.message);
      throw error;
    });
    expect(await failureOf(sending)).toMatchObject({ code: 'STORAGE' });
    expect(await failureOf(receiving)).toMatchObject({ code: 'STORAGE', source: 'told' });
  });

  it('ends a waiting receiver when the other side goes away', async () => {
    const [a, b] = memoryLinkPair();
    const receiving = receiver(b, recordingSink().sink, 2);
    a.close();
    expect(await failureOf(receiving)).toMatchObject({ code: 'PEER_GONE', source: 'peer' });
  });

  it('ignores what arrives after the link ended', async () => {
    const chunks = await makeChunks(1);
    const [a, b] = memoryLinkPair();
    const { sink, written } = recordingSink();
    await Promise.all([receiver(b, sink, 1), sendChunks(a, sourceOf(chunks), { from: 0, chunkSize: CHUNK_SIZE })]);
    b.close();
    await a.sendControl({ t: 'chunk', i: 1, len: CHUNK_SIZE + SEAL_OVERHEAD, sha: chunks[0]!.sha256 }).catch(() => undefined);
    expect(written.flat()).toHaveLength(1);
    expect(b.failure).toMatchObject({ code: 'CANCELLED' });
  });
});
