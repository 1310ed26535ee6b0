/**
 * Moving sealed chunks over a Link (a WebRTC data channel, or an in-memory pair in tests), the same way for every kind of transfer:
 * the sender reads ahead a little and never runs more than a window past the receiver's
 * last ack; the receiver assembles frames, checks each chunk's hash, hands batches to its
 * sink and acks what the sink persisted. Neither side ever holds more than a window: the
 * receiver stops a sender that runs past it (MAX_UNREAD_BYTES, with room to spare).
 */
import { toHex } from '../../../../shared/encoding.ts';
import { MAX_UNREAD_BYTES, sendWindow, type WireMessage } from '../../../../shared/wire.ts';
import { partsDigest } from '../crypto/digests.ts';
import { FLOODED } from './inbox.ts';
import { TransferFailure, type Link } from './link.ts';

export interface SourceChunk {
  bytes: Uint8Array<ArrayBuffer>;
  /** The chunk's digest (shared/merkle.ts), hex. */
  sha256: string;
  /** Its path up to the fragment's root, hex, when the receiver asked for proofs. */
  path?: string[];
  /** Called once the bytes are sent (the channel has copied them): their buffer may be reused. */
  release?: () => void;
}

export interface ChunkSource {
  readonly count: number;
  read(index: number): Promise<SourceChunk>;
}

export interface ReceivedChunk {
  index: number;
  /** The chunk as it arrived, frame by frame: a sink that stores them needs no contiguous copy. */
  parts: Uint8Array<ArrayBuffer>[];
  length: number;
  /** The chunk digest the sender announced (shared/merkle.ts), hex: checked on receipt, or by the sink. */
  sha256: string;
}

export interface ChunkSink {
  /** Persists a batch of consecutive chunks; resolves once they are safe (and verified). */
  write(chunks: ReceivedChunk[]): Promise<void>;
}

export interface Progress {
  /** Bytes of chunks acknowledged (sender) or persisted (receiver). */
  (bytes: number, chunksDone: number): void;
}

/**
 * Chunks read (and sealed) ahead of the one being sent, so the channel never waits for storage;
 * a source whose reads are cheap asks for fewer (`readAhead`), as each one read is held in memory.
 */
const READ_AHEAD = 4;

/**
 * Sends chunks `from`…count−1, then `end`, and waits for the receiver's `done`. On a store,
 * `root` gives the root hash for `end`; it is asked for once every chunk has been read.
 * Acks are read as they come, not only when the window is full: progress then moves with what
 * the receiver persisted, even for a file smaller than the window on a slow link.
 */
export async function sendChunks(
  link: Link,
  source: ChunkSource,
  options: { from: number; chunkSize: number; root?: () => Promise<string>; onProgress?: Progress; readAhead?: number },
): Promise<void> {
  const window = sendWindow(options.chunkSize);
  const sizes = new Map<number, number>();
  let acked = options.from;
  let ackedBytes = 0;
  /** Chunks before this one have been announced: nobody can have persisted more. */
  let announced = options.from;
  let ended = false;
  /** Wakes the sending loop when an ack opens the window. */
  let opened: (() => void) | undefined;

  const onAck = (message: WireMessage) => {
    if (message.t !== 'ack') throw fail(link, 'INTERNAL', `Unexpected "${message.t}" from the receiver.`);
    if (message.next > announced) throw fail(link, 'INTEGRITY', `The receiver acknowledged chunk ${message.next - 1}, which was not sent yet.`);
    for (let index = acked; index < message.next; index++) ackedBytes += sizes.get(index) ?? 0;
    for (let index = acked; index < message.next; index++) sizes.delete(index);
    acked = Math.max(acked, message.next);
    options.onProgress?.(ackedBytes, acked);
  };
  // The one reader of the link on this side: acks until `done`, which may only follow `end`.
  const answered = (async () => {
    for (;;) {
      const message = await link.nextControl();
      if (message.t === 'done' && ended) return;
      onAck(message);
      opened?.();
    }
  })();
  // Whoever fails first (this loop or the reader) fails the link; the other then hears it from the link.
  let readerFailure: unknown;
  answered.catch((error: unknown) => {
    readerFailure = error;
    opened?.();
  });

  const reads: Promise<SourceChunk>[] = [];
  const readFrom = (index: number) => {
    while (reads.length < (options.readAhead ?? READ_AHEAD) && index + reads.length < source.count) {
      const read = source.read(index + reads.length);
      // If the transfer fails first, a read-ahead nobody awaits must not become an unhandled rejection.
      read.catch(() => undefined);
      reads.push(read);
    }
  };
  try {
    readFrom(options.from);
    for (let index = options.from; index < source.count; index++) {
      while (index >= acked + window) {
        await new Promise<void>((resolve) => (opened = resolve));
        opened = undefined;
        if (link.failure) throw link.failure;
      }
      const chunk = await reads.shift()!;
      readFrom(index + 1);
      sizes.set(index, chunk.bytes.byteLength);
      await link.sendControl({ t: 'chunk', i: index, len: chunk.bytes.byteLength, sha: chunk.sha256, ...(chunk.path ? { path: chunk.path } : {}) });
      announced = index + 1;
      await link.sendBytes(chunk.bytes);
      chunk.release?.();
    }
    const end: WireMessage = options.root ? { t: 'end', root: await options.root() } : { t: 'end' };
    ended = true;
    await link.sendControl(end);
  } catch (error) {
    // The reader's own failure (a lying receiver) is the one to report, with its words.
    throw readerFailure ?? error;
  }
  await answered;
}

/**
 * Receives chunks until `end`. Each chunk's bytes must match its announced length, and its
 * digest when `verifyOnReceipt` (a host checks what it receives before writing it; an owner's
 * AES-GCM authenticates every chunk, so a digest on top would only spend the CPU the channel
 * needs). Batches of about `batchBytes` go
 * to the sink while the next ones arrive; every persisted batch is acked. Returns the `end`
 * message (with the owner's root, on a store).
 */
export async function receiveChunks(
  link: Link,
  sink: ChunkSink,
  options: {
    from: number;
    count: number;
    batchBytes: number;
    verifyOnReceipt: boolean;
    expectedLength: (index: number) => number;
    onProgress?: Progress;
    /** Called once, when the first bytes of chunk data arrive (time to first byte). */
    onFirstBytes?: () => void;
    /**
     * Checks each chunk's announced digest against the root of what is being read, with the
     * path the sender sent: a piece of a fragment is then known good (or which is bad) on arrival.
     */
    verifyPath?: (index: number, digest: string, path: readonly string[]) => Promise<boolean>;
  },
): Promise<Extract<WireMessage, { t: 'end' }>> {
  let next = options.from;
  let batch: ReceivedChunk[] = [];
  let batchBytes = 0;
  let persisted = Promise.resolve();
  let persistedBytes = 0;
  /** Bytes of the chunks announced so far (since `from`): what is held beyond persistedBytes is in memory. */
  let announcedBytes = 0;
  let persistedChunks = options.from;
  let writeFailure: TransferFailure | undefined;

  const flush = () => {
    const chunks = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    const upTo = chunks.at(-1)!.index + 1;
    // One write in flight at a time, overlapping with receiving the next batch.
    persisted = persisted
      .then(async () => {
        await sink.write(chunks);
        persistedBytes += bytes;
        persistedChunks = upTo;
        options.onProgress?.(persistedBytes, persistedChunks);
        await link.sendControl({ t: 'ack', next: upTo });
      })
      // A failed write fails the link now, not when the next batch awaits it, and whoever
      // awaits it gets the link's typed failure, never a raw storage error.
      .catch((error: unknown) => {
        writeFailure ??=
          error instanceof TransferFailure
            ? fail(link, error.code, error.message, error.chunk)
            : fail(link, 'STORAGE', `Could not store the data: ${error instanceof Error ? error.message : String(error)}`);
        throw writeFailure;
      });
    persisted.catch(() => undefined);
  };

  try {
    return await receiveLoop();
  } catch (error) {
    // The loop, waiting on the link, hears the link's failure; the write's own (with the chunk
    // it names, for the tracker's audit) is the one to report.
    throw writeFailure ?? error;
  }

  async function receiveLoop(): Promise<Extract<WireMessage, { t: 'end' }>> {
    for (;;) {
      const header = await link.nextControl();
      if (header.t === 'end') {
        if (next !== options.count) throw fail(link, 'INTEGRITY', `The transfer ended after ${next} of ${options.count} chunks.`);
        if (batch.length > 0) flush();
        await persisted;
        return header;
      }
      if (header.t !== 'chunk') throw fail(link, 'INTERNAL', `Unexpected "${header.t}" from the sender.`);
      if (header.i !== next) throw fail(link, 'INTEGRITY', `Chunk ${header.i} arrived where ${next} was expected.`);
      if (header.len !== options.expectedLength(header.i)) throw fail(link, 'INTEGRITY', `Chunk ${header.i} has the wrong length.`);
      // Received while a write is pending stays in memory until persisted and acked. An honest
      // sender stops at its window (about WINDOW_BYTES unacknowledged); one that ignores the acks
      // would otherwise pile chunks here as fast as they arrive.
      announcedBytes += header.len;
      if (announcedBytes - persistedBytes > MAX_UNREAD_BYTES) throw fail(link, 'INTEGRITY', FLOODED);

      const parts: Uint8Array<ArrayBuffer>[] = [];
      for (let filled = 0; filled < header.len; ) {
        const frame = await link.next();
        if (options.onFirstBytes) {
          options.onFirstBytes();
          options.onFirstBytes = undefined;
        }
        if (frame.kind !== 'bytes' || filled + frame.bytes.byteLength > header.len) throw fail(link, 'INTEGRITY', `Chunk ${header.i} is malformed.`);
        parts.push(frame.bytes);
        filled += frame.bytes.byteLength;
      }
      if (options.verifyOnReceipt && toHex(await partsDigest(parts, header.len)) !== header.sha) {
        throw fail(link, 'INTEGRITY', `Chunk ${header.i} does not match its hash.`, header.i);
      }
      if (options.verifyPath && !(await options.verifyPath(header.i, header.sha, header.path ?? []))) {
        throw fail(link, 'INTEGRITY', `Chunk ${header.i} is not part of what its sender holds.`, header.i);
      }
      batch.push({ index: header.i, parts, length: header.len, sha256: header.sha });
      next++;
      batchBytes += header.len;
      if (batchBytes >= options.batchBytes) flush();
    }
  }
}

/** One contiguous buffer from a chunk's frames (no copy when it came in one frame); into the start of `into` when given (a reused buffer). */
export function joinParts(parts: Uint8Array<ArrayBuffer>[], length: number, into?: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && !into) return parts[0]!;
  if (into && into.byteLength < length) throw new RangeError(`a chunk of ${length} bytes does not fit in ${into.byteLength}`);
  const bytes = into ? into.subarray(0, length) : new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return bytes;
}

/** Fails the link with a failure noticed here; `chunk` names the chunk that failed verification. */
function fail(link: Link, code: TransferFailure['code'], message: string, chunk?: number): TransferFailure {
  link.fail(code, message);
  return chunk === undefined ? (link.failure ?? new TransferFailure(code, message)) : new TransferFailure(code, message, 'self', chunk);
}
