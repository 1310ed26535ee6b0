/**
 * One download, from the owner's side: k fragments read in parallel from k hosts (one whole
 * copy when k = 1), put back together stripe by stripe (stripe-assembler.ts), opened with the
 * file's key and written to disk as they come.
 *
 * A fragment's pieces are each checked against that fragment's root as they arrive (the host
 * sends each piece's path): a bad piece is known at once, and whose. A whole copy needs no
 * such check: AES-GCM authenticates every chunk as it is opened. Either way the link that
 * brought a bad piece fails with the chunk named (the tracker audits its host on it), and a
 * failed or stalled link is replaced by another fragment, starting at the first stripe not
 * on disk yet, until DOWNLOAD_ATTEMPTS replacements are spent.
 */
import { chunkCount, chunkRange, SEAL_OVERHEAD, sealedChunkSize } from '../../../../shared/chunking.ts';
import { fromHex } from '../../../../shared/encoding.ts';
import { joinStripe, missingDataFragments } from '../../../../shared/erasure.ts';
import { PeercloudError } from '../../../../shared/errors.ts';
import type { TransferOffer } from '../../../../shared/protocol.ts';
import { fragmentChunkSize } from '../../../../shared/redundancy.ts';
import { MiB } from '../../../../shared/units.ts';
import { IntegrityError, openChunk } from '../crypto/chunk-cipher.ts';
import { verifyChunkPath } from '../crypto/digests.ts';
import type { StripeCoder } from '../erasure/stripe-coder.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import { BufferPool } from '../transfer/buffer-pool.ts';
import { joinParts, receiveChunks } from '../transfer/chunk-stream.ts';
import { freeBuffer } from '../transfer/free-buffer.ts';
import { TransferFailure } from '../transfer/link.ts';
import type { OpenLink } from '../transfer/link-pool.ts';
import { nextTask } from '../transfer/next-task.ts';
import { progressReporter } from '../transfer/progress-reporter.ts';
import { asFailure, reportFailure } from '../transfer/report-failure.ts';
import { StripeAssembler } from './stripe-assembler.ts';

/** Links replaced (failed, stalled) before a download gives up. */
const DOWNLOAD_ATTEMPTS = 6;
/** Pieces handed to the assembler at once, per link: 2 MiB of the file across the k links (the hosts' window is counted in stripes too, hosting/serve.ts). */
const BATCH_BYTES = 2 * MiB;
/**
 * Pieces' buffers kept for reuse (fragments, k > 1): about what the k hosts' windows hold
 * (16 stripes across the links, hosting/serve.ts), so that pieces waiting for the other links'
 * are not a fresh buffer each, dead once written (transfer/buffer-pool.ts says why).
 */
const SPARE_PIECES = 16;

export interface DownloadTarget {
  /** Writes plaintext at an offset of the file being saved. */
  write(offset: number, bytes: Uint8Array<ArrayBuffer>): Promise<void>;
}

export interface DownloadDeps {
  tracker: Pick<TrackerClient, 'request'>;
  openLink: OpenLink;
  coder: StripeCoder;
  /** The offer of a fetch the tracker opened, once its host is listening. */
  ready(transferId: string): Promise<TransferOffer>;
  out: DownloadTarget;
  events: {
    /** Stripes on disk: the first `next` of `count` (contiguous). */
    progress(next: number, count: number): Promise<void> | void;
    firstBytes(): void;
    downloading(): void;
    debug(context: string, detail: unknown): void;
  };
}

/**
 * A piece from its frames (joinParts): where they were copied (into a reused buffer, or
 * joined), the frames, each a data channel message of its own, are freed now rather than left
 * to the collector (transfer/free-buffer.ts). Nothing else reads them: the digest was checked
 * on receipt, and receiveChunks keeps no frame once its batch is written.
 */
function joinFreeing(parts: Uint8Array<ArrayBuffer>[], length: number, into?: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const joined = joinParts(parts, length, into);
  if (joined !== parts[0]) for (const part of parts) freeBuffer(part);
  return joined;
}

/** Downloads the file from stripe `from` on; resolves once every stripe is on disk. */
export async function download(fileId: string, key: CryptoKey, from: number, deps: DownloadDeps): Promise<void> {
  const first = await deps.tracker.request('file:locate', { fileId });
  const readies = first.transfers.map(({ transferId }) => deps.ready(transferId));
  // Any one host listening tells the file's shape; the others may still refuse (replaced below).
  const { size, chunkSize, k, n } = await Promise.any(readies).catch(() => readies[0]!);
  const count = chunkCount(size, chunkSize);
  let lastProgress = from;
  // A piece of a fragment, and a stripe joined from its data pieces, in reused buffers (k > 1).
  const pieces = new BufferPool(Math.ceil((chunkSize + SEAL_OVERHEAD) / k), SPARE_PIECES * k);
  const stripes = new BufferPool(chunkSize + SEAL_OVERHEAD, 4);
  const assembler = new StripeAssembler({
    k,
    n,
    count,
    from,
    assemble: async (index, fragments) => {
      const length = sealedChunkSize(index, size, chunkSize);
      // All the data pieces here: joined on this thread (nothing to decode), into a reused buffer.
      if (k > 1 && missingDataFragments(fragments, k).length === 0) return joinStripe(fragments.slice(0, k) as Uint8Array[], length, stripes.take());
      return deps.coder.decode(fragments, k, n, length);
    },
    ...(k > 1 ? { release: (piece: Uint8Array) => pieces.give(piece as Uint8Array<ArrayBuffer>) } : {}),
    complete: async (index, sealed) => {
      // Opening runs on this thread, inside the WebCrypto call (as Chromium does it): a task of
      // its own, not chained onto the receiving of the pieces before it.
      await nextTask();
      let plain: Uint8Array<ArrayBuffer>;
      try {
        plain = await openChunk(key, fileId, index, count, sealed as Uint8Array<ArrayBuffer>);
      } catch (error) {
        if (error instanceof IntegrityError) throw new TransferFailure('INTEGRITY', error.message, 'self', index);
        throw error;
      } finally {
        // WebCrypto copied the sealed bytes when called: their buffer is free (a joined stripe's is reused).
        if (k > 1) stripes.give(sealed as Uint8Array<ArrayBuffer>);
      }
      await deps.out.write(chunkRange(index, size, chunkSize).start, plain);
    },
  });
  if (assembler.finished) return;

  const reading = new Set<number>();
  /** Fragments whose host served a bad piece: not asked for again in this download. */
  const bad = new Set<number>();
  let attempts = 0;
  let lastError: unknown;
  const runs: Promise<void>[] = [];

  /** Reads one fragment on one link until the end, or until it fails: then a replacement is found. */
  const read = async (offer: TransferOffer): Promise<void> => {
    reading.add(offer.fragment);
    const link = deps.openLink(offer, true);
    const fragmentRoot = offer.sha256 ? fromHex(offer.sha256) : undefined;
    try {
      await link.connected();
      deps.events.downloading();
      const start = assembler.next;
      await link.sendControl({ t: 'want', from: start, ...(k > 1 ? { proofs: true } : {}) });
      await receiveChunks(
        link,
        {
          write: async (chunks) => {
            await Promise.all(
              chunks.map((chunk) =>
                assembler.deposit(offer.fragment, chunk.index, joinFreeing(chunk.parts, chunk.length, k > 1 ? pieces.take(chunk.length) : undefined)).catch((error: unknown) => {
                  // A whole copy's chunk that fails authentication: this link's piece was bad.
                  if (k === 1) assembler.discard(offer.fragment, chunk.index);
                  throw error;
                }),
              ),
            );
            if (assembler.next > lastProgress) {
              lastProgress = assembler.next;
              await deps.events.progress(assembler.next, count);
            }
          },
        },
        {
          from: start,
          count,
          batchBytes: BATCH_BYTES / k,
          // A fragment's pieces are checked on arrival; a whole copy's by AES-GCM when opened.
          verifyOnReceipt: k > 1,
          ...(k > 1 && fragmentRoot
            ? { verifyPath: (index: number, digest: string, path: readonly string[]) => verifyChunkPath(fragmentRoot, { chunk: index, chunks: count }, digest, path) }
            : {}),
          expectedLength: (index) => (k === 1 ? sealedChunkSize(index, size, chunkSize) : fragmentChunkSize(index, size, chunkSize, k)),
          onFirstBytes: deps.events.firstBytes,
          onProgress: progressReporter(deps.tracker, offer.transferId, (error: unknown) => deps.events.debug('transfer:progress', error)),
        },
      );
      await link.sendControl({ t: 'done' });
      link.close();
      await deps.tracker.request('transfer:finish', { transferId: offer.transferId }).catch((error: unknown) => deps.events.debug('transfer:finish', error));
    } catch (error) {
      lastError = error;
      await reportFailure(deps.tracker, offer.transferId, link, error, { onRefused: (refusal) => deps.events.debug('transfer:fail', refusal) });
      reading.delete(offer.fragment);
      if (asFailure(error, link).code === 'INTEGRITY') bad.add(offer.fragment);
      if (assembler.finished) return;
      await replace(asFailure(error, link));
    }
  };

  /** Another fragment in place of a failed one, from another host. */
  const replace = async (failure: TransferFailure): Promise<void> => {
    if (assembler.failure !== undefined) return;
    if (++attempts > DOWNLOAD_ATTEMPTS) return assembler.fail(lastError ?? failure);
    try {
      const more = await deps.tracker.request('file:locate', { fileId, exclude: [...reading, ...bad], count: 1 });
      for (const { transferId } of more.transfers) runs.push(read(await deps.ready(transferId)));
    } catch (error) {
      // No other host holds what is missing: the download stops here (it can be resumed).
      assembler.fail(error instanceof PeercloudError ? error : failure);
    }
  };

  for (const ready of readies) {
    runs.push(
      ready.then(read, async (error: unknown) => {
        lastError = error;
        await replace(asFailure(error));
      }),
    );
  }
  // Runs are added as links are replaced: wait until none is left running.
  for (let settled = 0; settled < runs.length; settled++) await runs[settled];
  if (!assembler.finished) throw assembler.failure ?? lastError ?? new TransferFailure('INTERNAL', 'The download did not complete.');
}
