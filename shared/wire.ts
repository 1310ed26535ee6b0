/**
 * What two peers say to each other over a transfer's data channel. Control messages are
 * JSON text parsed by these schemas (the other peer is a stranger); chunk bytes follow a
 * `chunk` header as binary frames, in order, on the one ordered, reliable channel.
 *
 *   receiver → sender  want { from, proofs? } (start at this chunk; proofs: send each chunk's path)
 *   sender → receiver  chunk { i, len, sha, path? } then `len` bytes in frames of ≤ FRAME_BYTES
 *   receiver → sender  ack { next }         every chunk before `next` is persisted
 *   sender → receiver  end { root? }        all chunks sent (root: the owner's, on a store)
 *   receiver → sender  done                 verified and kept
 *   either             error { code, message }
 *
 * The sender never runs more than a window of chunks ahead of the last ack, so the receiver
 * holds a bounded amount in memory however fast the sender is.
 */
import { z } from 'zod';
import { MAX_CHUNK_SIZE, SEAL_OVERHEAD } from './chunking.ts';
import { Sha256Hex, TransferErrorCode } from './protocol.ts';

/** A data channel message must stay under 256 KiB; 64 KiB frames keep the channel's queue smooth. */
export const FRAME_BYTES = 64 * 1024;

/**
 * Backpressure on a data channel: pause sending above `high` bytes queued, resume below `low`.
 * A brand-new channel with megabytes queued crawls through its slow start for seconds, so the
 * queue starts at a few hundred KiB; once the first megabytes are through it grows, so that a
 * main thread busy for a few milliseconds (sealing, hashing, storage) never lets it run dry.
 * `sending`: how many of the page's channels are sending at once (several warm ones share 1 MiB).
 * The benchmark's raw-channel baseline uses the same policy.
 */
export function sendWatermarks(bytesSent: number, sending = 1): { high: number; low: number } {
  // Self-contained (no outside constants): the benchmark runs this very function in a page.
  const rampBytes = 8 * 1024 * 1024;
  if (bytesSent < rampBytes) return { high: 256 * 1024, low: 64 * 1024 };
  // One warm channel (a host serving a download, a whole copy's upload) keeps 4 MiB, so a main
  // thread busy for a few milliseconds never lets it run dry.
  if (sending <= 1) return { high: 4 * 1024 * 1024, low: 2 * 1024 * 1024 };
  // Several channels of one page (rs:4+2 uploads on six) share 1 MiB, each at least 256 KiB:
  // each queued byte is held natively in the renderer (Blink's copy, then the SCTP send queue),
  // and while one channel waits on the main thread the others still have theirs to send. Measured
  // (48 MiB rs:4+2, five rounds, load 9-18): the owner's renderer anonymous memory +29.1-31.3 MiB
  // against +30.3-40.5 with a 4 MiB share, at the same MB/s (1.62-2.03 against 1.80-2.03).
  const high = Math.max(256 * 1024, Math.floor((1024 * 1024) / sending));
  return { high, low: Math.floor(high / 2) };
}

const Index = z.number().int().nonnegative().max(2 ** 31);

export const WireMessage = z.discriminatedUnion('t', [
  // proofs: the reader checks each piece of a fragment against the fragment's root as it comes.
  z.strictObject({ t: z.literal('want'), from: Index, proofs: z.boolean().optional() }),
  // A fragment's chunk is the sealed chunk cut in k: as short as ⌈16 / 64⌉ bytes.
  z.strictObject({ t: z.literal('chunk'), i: Index, len: z.number().int().min(1).max(MAX_CHUNK_SIZE + SEAL_OVERHEAD), sha: Sha256Hex, path: z.array(Sha256Hex).max(40).optional() }),
  z.strictObject({ t: z.literal('ack'), next: Index }),
  z.strictObject({ t: z.literal('end'), root: Sha256Hex.optional() }),
  z.strictObject({ t: z.literal('done') }),
  z.strictObject({ t: z.literal('error'), code: TransferErrorCode, message: z.string().max(500) }),
]);
export type WireMessage = z.infer<typeof WireMessage>;

/** What a sender may have in flight beyond the last ack, in bytes of chunks (sendWindow). */
export const WINDOW_BYTES = 16 * 1024 * 1024;

/** How many chunks a sender may have in flight beyond the last ack: about WINDOW_BYTES, at least 4. */
export function sendWindow(chunkSize: number): number {
  return Math.max(4, Math.floor(WINDOW_BYTES / chunkSize));
}

/**
 * Bytes a receiver may hold unread from the other peer before it stops the transfer as a flood.
 * A browser's data channel has no flow control on the receiving side: every message lands in the
 * page as it arrives, so a sender that ignores the window (a hostile host, or owner) could fill
 * the page's memory while it waits on a write. An honest sender never has more than its window
 * unacknowledged (4 chunks of MAX_CHUNK_SIZE with their seals at most, a little over 16 MiB);
 * twice WINDOW_BYTES leaves room for the control messages beside them (`unreadCost`).
 */
export const MAX_UNREAD_BYTES = 2 * WINDOW_BYTES;

/**
 * What one unread message counts against MAX_UNREAD_BYTES: a frame its bytes; a control message
 * its text twice over (the string, then the parsed object beside it) and a fixed 1 KiB, so that a
 * flood of tiny messages is bounded by their number too (at most 32,768 held).
 */
export function unreadCost(item: { kind: 'bytes'; bytes: { byteLength: number } } | { kind: 'control' }, textLength: number): number {
  return item.kind === 'bytes' ? item.bytes.byteLength : CONTROL_MESSAGE_COST + 2 * textLength;
}
export const CONTROL_MESSAGE_COST = 1024;
