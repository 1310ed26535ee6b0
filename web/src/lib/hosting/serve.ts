/**
 * A host sending a fragment it holds: to its owner (a download: this host was asked, and
 * answers), or to a new host (a repair: the new host was asked, and this one starts the
 * connection). A reader that asks for proofs (a download of fragments, a rebuild) gets each
 * piece's path to the fragment's root, so that it knows on arrival whether the piece is good.
 */
import { fromHex } from '../../../../shared/encoding.ts';
import type { TransferOffer } from '../../../../shared/protocol.ts';
import { chunkPathsHex } from '../crypto/digests.ts';
import type { HostedChunk, HostedStore } from '../storage/browser-db.ts';
import { sendChunks, type SourceChunk } from '../transfer/chunk-stream.ts';
import { TransferFailure } from '../transfer/link.ts';
import { progressReporter } from '../transfer/progress-reporter.ts';
import { reportFailure } from '../transfer/report-failure.ts';
import type { HostDeps } from './host-deps.ts';

export async function serveFragment(offer: TransferOffer, initiator: boolean, deps: HostDeps): Promise<void> {
  const { tracker, store } = deps;
  const replica = await store.replica(offer.fileId);
  const held = replica?.state === 'stored' && (replica.fragment ?? 0) === (offer.k > 1 ? offer.fragment : 0);
  const refusal = !held ? 'error' : !initiator && !deps.canServe() ? 'busy' : undefined;
  if (!replica || refusal) {
    const answer = initiator
      ? tracker.request('transfer:fail', { transferId: offer.transferId, code: 'STORAGE', message: 'The fragment to copy is not held here.' })
      : tracker.request('transfer:reject', { transferId: offer.transferId, reason: refusal ?? 'error', ...(refusal === 'error' ? { message: 'fragment not held here' } : {}) });
    await answer.catch((error: unknown) => deps.events.debug('refuse to serve', error));
    return;
  }
  const link = deps.openLink(offer, initiator);
  deps.events.serving(1);
  try {
    if (!initiator) await tracker.request('transfer:accept', { transferId: offer.transferId });
    await link.connected();
    const want = await link.nextControl();
    if (want.t !== 'want' || want.from > replica.chunkCount) throw new TransferFailure('INTERNAL', 'Expected the receiver to say where to start.');
    const paths = want.proofs ? await piecePaths(store, offer.fileId, replica.chunkCount) : undefined;
    const read = batchedReader(store, offer.fileId, replica.chunkCount);
    const root = replica.root;
    await sendChunks(
      link,
      { count: replica.chunkCount, read: async (index) => ({ ...(await read(index)), ...(paths ? { path: paths[index]! } : {}) }) },
      {
        from: want.from,
        // The window is counted in whole stripes, not in this fragment's pieces (k times smaller):
        // the k links of one download (or repair) then hold together what one whole copy's link
        // does, about 16 MiB, not k times that in the reader's memory.
        chunkSize: replica.chunkSize,
        // A new host checks what it stored against the root; an owner checks every piece itself.
        root: offer.kind === 'repair' && root ? async () => root : undefined,
        onProgress: progressReporter(tracker, offer.transferId, (error: unknown) => deps.events.debug('transfer:progress', error)),
      },
    );
    link.close();
  } catch (error) {
    await reportFailure(tracker, offer.transferId, link, error, { side: 'host', onRefused: (refusal) => deps.events.debug('transfer:fail', refusal) });
  } finally {
    deps.events.serving(-1);
  }
}

/** Every piece's path to the fragment's root, from the digests stored with the pieces. */
async function piecePaths(store: Pick<HostedStore, 'chunks'>, fileId: string, count: number): Promise<string[][]> {
  const digests: Uint8Array[] = [];
  for (let at = 0; at < count; at += 256) {
    const indexes = Array.from({ length: Math.min(256, count - at) }, (_, k) => at + k);
    const chunks = await store.chunks(fileId, indexes);
    chunks.forEach((chunk, k) => {
      if (!chunk) throw new TransferFailure('STORAGE', `Piece ${indexes[k]} is missing from this host.`);
      digests.push(fromHex(chunk.sha256));
    });
  }
  return chunkPathsHex(digests);
}

/** Reads a fragment's pieces a few per IndexedDB transaction, for a sender that reads them in order. */
function batchedReader(store: Pick<HostedStore, 'chunks'>, fileId: string, count: number, batch = 4): (index: number) => Promise<SourceChunk> {
  let cached = new Map<number, Promise<HostedChunk | undefined>>();
  return async (index) => {
    if (!cached.has(index)) {
      const indexes = Array.from({ length: Math.min(batch, count - index) }, (_, k) => index + k);
      const all = store.chunks(fileId, indexes);
      cached = new Map(indexes.map((at, k) => [at, all.then((chunks) => chunks[k])]));
    }
    const chunk = await cached.get(index)!;
    cached.delete(index);
    if (!chunk) throw new TransferFailure('STORAGE', `Piece ${index} is missing from this host.`);
    return { bytes: new Uint8Array(await chunk.data.arrayBuffer()), sha256: chunk.sha256 };
  };
}
