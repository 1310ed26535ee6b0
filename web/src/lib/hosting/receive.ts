/**
 * A host receiving one fragment (a whole copy when k = 1): from its owner (a store) or from
 * another host (a repair of a whole copy). Every piece is checked against its digest before it
 * is written, the fragment's root is computed from what was written, and the host claims the
 * fragment with that root; the tracker compares it with the owner's seal and audits the host
 * before it counts the fragment as stored.
 *
 * A fragment this host already holds part of (its owner left mid-upload and came back)
 * continues at its first missing piece.
 */
import { chunkCount } from '../../../../shared/chunking.ts';
import { fromHex } from '../../../../shared/encoding.ts';
import type { TransferOffer } from '../../../../shared/protocol.ts';
import { fragmentChunkSize } from '../../../../shared/redundancy.ts';
import { MiB } from '../../../../shared/units.ts';
import { RootHash } from '../crypto/digests.ts';
import type { HostedReplica, HostedStore } from '../storage/browser-db.ts';
import { receiveChunks, type ReceivedChunk } from '../transfer/chunk-stream.ts';
import { TransferFailure } from '../transfer/link.ts';
import { progressReporter } from '../transfer/progress-reporter.ts';
import { reportFailure } from '../transfer/report-failure.ts';
import type { HostDeps } from './host-deps.ts';

/** Host-side batches: one IndexedDB transaction per few MiB. */
export const WRITE_BATCH_BYTES = 2 * MiB;

/** The record of a fragment about to be received. */
export function newReplica(offer: TransferOffer, fragment = offer.fragment): HostedReplica {
  return {
    fileId: offer.fileId,
    bytes: offer.bytes,
    size: offer.size,
    chunkSize: offer.chunkSize,
    chunkCount: chunkCount(offer.size, offer.chunkSize),
    received: 0,
    state: 'receiving',
    root: null,
    createdAt: Date.now(),
    ...(offer.k > 1 ? { k: offer.k, fragment } : {}),
  };
}

/** Bytes of a fragment's pieces before piece `index`. */
function bytesBefore(replica: HostedReplica, index: number): number {
  let bytes = 0;
  for (let at = 0; at < index; at++) bytes += fragmentChunkSize(at, replica.size, replica.chunkSize, replica.k ?? 1);
  return bytes;
}

/** Whether a partly received record is the start of the same fragment the offer brings. */
function sameFragment(existing: HostedReplica | undefined, fresh: HostedReplica): boolean {
  return (
    existing?.state === 'receiving' &&
    existing.chunkCount === fresh.chunkCount &&
    existing.bytes === fresh.bytes &&
    (existing.k ?? 1) === (fresh.k ?? 1) &&
    (existing.fragment ?? 0) === (fresh.fragment ?? 0)
  );
}

export async function receiveFragment(offer: TransferOffer, deps: HostDeps): Promise<void> {
  const { tracker, store } = deps;
  const fresh = newReplica(offer);
  const existing = await store.replica(offer.fileId);
  const resumed = sameFragment(existing, fresh) ? existing : undefined;
  const resuming = resumed !== undefined;
  // What is already here was counted when it arrived: only new bytes need room (an old copy
  // that this one replaces is removed before anything is written).
  const written = resumed ? bytesBefore(resumed, resumed.received) : 0;
  const room = await deps.admit(resuming ? 0 : Math.max(0, offer.bytes - (existing?.bytes ?? 0)), offer.bytes - written);
  if (typeof room === 'string') {
    await tracker.request('transfer:reject', { transferId: offer.transferId, reason: room }).catch((error: unknown) => deps.events.debug('reject', error));
    return;
  }
  const replica = resumed ?? fresh;
  const link = (() => {
    try {
      return deps.openLink(offer, false);
    } catch (error) {
      room.release();
      throw error;
    }
  })();
  try {
    if (existing && !resuming) await store.remove(offer.fileId);
    await tracker.request('transfer:accept', { transferId: offer.transferId });
    await link.connected();
    if (!resuming) {
      await store.saveReplica(replica);
      room.recorded();
      await deps.events.changed();
    }
    const root = await rootSoFar(store, replica);
    await link.sendControl({ t: 'want', from: replica.received });
    const end = await receiveChunks(
      link,
      {
        write: async (chunks) => {
          await writeChunks(store, offer.fileId, chunks, root, deps);
          room.wrote(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
          replica.received = chunks.at(-1)!.index + 1;
          await store.saveReplica(replica);
        },
      },
      {
        from: replica.received,
        count: replica.chunkCount,
        batchBytes: WRITE_BATCH_BYTES,
        // Every piece against its digest as it arrives, before it is written.
        verifyOnReceipt: true,
        expectedLength: (index) => fragmentChunkSize(index, offer.size, offer.chunkSize, offer.k),
        onProgress: progressReporter(tracker, offer.transferId, (error: unknown) => deps.events.debug('transfer:progress', error)),
      },
    );
    const rootHex = await root.hex();
    // The root sent along: the owner's, or on a repair the one its source holds (the tracker
    // checks the claim against the owner's seal, which a receiver is not told).
    if (end.root !== rootHex) throw new TransferFailure('INTEGRITY', 'The pieces received do not add up to the root hash the sender sent.');
    await store.saveReplica({ ...replica, state: 'stored', root: rootHex });
    try {
      await tracker.request('replica:stored', { transferId: offer.transferId, sha256: rootHex });
    } catch (error) {
      // The tracker may have recorded it before it went away: the fragment stays, and the
      // inventory after reconnecting settles whether it is wanted.
      deps.events.debug('replica:stored', error);
      link.close();
      return;
    }
    await link.sendControl({ t: 'done' });
    link.close();
  } catch (error) {
    const failure = await reportFailure(tracker, offer.transferId, link, error, { side: 'host', onRefused: (refusal) => deps.events.debug('transfer:fail', refusal) });
    // What went wrong here makes the partial fragment worthless. Otherwise the tracker decides:
    // it keeps it for the owner to resume, or says to drop it.
    if (failure.source === 'self') await store.remove(offer.fileId);
  } finally {
    room.release();
    await deps.events.changed();
  }
}

/** The root over the pieces already held, from the digests verified when they were written. */
export async function rootSoFar(store: Pick<HostedStore, 'chunks'>, replica: HostedReplica): Promise<RootHash> {
  const root = new RootHash(replica.chunkCount);
  for (let at = 0; at < replica.received; at += 256) {
    const indexes = Array.from({ length: Math.min(256, replica.received - at) }, (_, k) => at + k);
    const chunks = await store.chunks(replica.fileId, indexes);
    chunks.forEach((chunk, k) => {
      if (!chunk) throw new TransferFailure('STORAGE', `Piece ${indexes[k]} went missing from this host.`);
      root.set(indexes[k]!, fromHex(chunk.sha256));
    });
  }
  return root;
}

/**
 * Writes a batch of pieces, each already checked against its digest, in one transaction.
 * Nothing is read back: audits read stored blocks back at random, which checks the disk as
 * well, at a fraction of the cost (reading every piece back cost as much CPU as writing it,
 * on a channel that is CPU-bound).
 */
export async function writeChunks(
  store: Pick<HostedStore, 'putChunks'>,
  fileId: string,
  chunks: Pick<ReceivedChunk, 'index' | 'parts' | 'sha256'>[],
  root: RootHash,
  deps: Pick<HostDeps, 'events'>,
): Promise<void> {
  try {
    await store.putChunks(
      fileId,
      chunks.map((chunk) => ({ index: chunk.index, chunk: { data: new Blob(chunk.parts), sha256: chunk.sha256 } })),
    );
  } catch (error) {
    // The browser holds less than this peer offered: offer only what it really holds from now on.
    if (error instanceof DOMException && error.name === 'QuotaExceededError') deps.events.quotaExceeded();
    throw new TransferFailure('STORAGE', storageMessage(error));
  }
  for (const chunk of chunks) root.set(chunk.index, fromHex(chunk.sha256));
}

function storageMessage(error: unknown): string {
  if (error instanceof DOMException && error.name === 'QuotaExceededError') return 'This browser ran out of storage space.';
  return `Could not write to storage: ${error instanceof Error ? error.message : String(error)}`;
}
