/**
 * A host rebuilding a lost fragment of a k-of-n file, without the owner: the tracker opens k
 * transfers of one group to it, one from each of k hosts holding other fragments. Each piece
 * is checked against its source fragment's sealed root as it arrives (the source sends its
 * path), pieces are put together stripe by stripe (stripe-assembler.ts), the missing piece is
 * computed from them (ciphertext only: no key is involved) and written. The rebuilt fragment's
 * root is then claimed; the tracker compares it with the owner's seal and audits this host
 * before it counts the fragment.
 *
 * A rebuild needs all k sources: if one fails, the tracker ends the others, and what was
 * written here goes.
 */
import { fromHex } from '../../../../shared/encoding.ts';
import type { RejectReason, TransferOffer } from '../../../../shared/protocol.ts';
import { fragmentChunkSize } from '../../../../shared/redundancy.ts';
import { chunkDigestHex, RootHash, verifyChunkPath } from '../crypto/digests.ts';
import { StripeAssembler } from '../download/stripe-assembler.ts';
import type { HostedReplica } from '../storage/browser-db.ts';
import { joinParts, receiveChunks } from '../transfer/chunk-stream.ts';
import { TransferFailure, type Link } from '../transfer/link.ts';
import { progressReporter } from '../transfer/progress-reporter.ts';
import { asFailure, reportFailure } from '../transfer/report-failure.ts';
import type { HostDeps, Room } from './host-deps.ts';
import { newReplica, WRITE_BATCH_BYTES, writeChunks } from './receive.ts';

/** Rebuilds under way here, by group. */
export class Rebuilds {
  readonly #groups = new Map<string, Rebuild>();

  constructor(private readonly deps: HostDeps) {}

  /** One of the k transfers of a rebuild opened to this host. */
  async offer(offer: TransferOffer): Promise<void> {
    const group = offer.rebuild!.group;
    let rebuild = this.#groups.get(group);
    if (!rebuild) {
      rebuild = new Rebuild(offer, this.deps);
      this.#groups.set(group, rebuild);
      void rebuild.finished.finally(() => this.#groups.delete(group));
    }
    await rebuild.add(offer);
  }
}

class Rebuild {
  readonly #deps: HostDeps;
  readonly #k: number;
  readonly #fragment: number;
  readonly #replica: HostedReplica;
  readonly #root: RootHash;
  readonly #assembler: StripeAssembler;
  readonly #offers: TransferOffer[] = [];
  readonly #links: Link[] = [];
  /** Sources whose fragment arrived whole. */
  #complete = 0;
  #room: Promise<Room | undefined> | undefined;
  #failed = false;
  #markFinished!: () => void;
  /** Resolves once the rebuild is over, however it ended. */
  readonly finished = new Promise<void>((resolve) => (this.#markFinished = resolve));

  constructor(first: TransferOffer, deps: HostDeps) {
    this.#deps = deps;
    this.#k = first.k;
    this.#fragment = first.rebuild!.fragment;
    this.#replica = newReplica(first, this.#fragment);
    this.#root = new RootHash(this.#replica.chunkCount);
    const { size, chunkSize } = first;
    this.#assembler = new StripeAssembler({
      k: first.k,
      n: first.n,
      count: this.#replica.chunkCount,
      from: 0,
      assemble: (_index, fragments) => deps.coder.rebuild(fragments, first.k, first.n, this.#fragment),
      complete: async (index, piece) => {
        if (piece.byteLength !== fragmentChunkSize(index, size, chunkSize, first.k)) throw new TransferFailure('INTERNAL', `Rebuilt piece ${index} has the wrong length.`);
        const bytes = piece as Uint8Array<ArrayBuffer>;
        await writeChunks(deps.store, first.fileId, [{ index, parts: [bytes], sha256: await chunkDigestHex(bytes) }], this.#root, deps);
        const room = await this.#room;
        room?.wrote(bytes.byteLength);
      },
    });
  }

  async add(offer: TransferOffer): Promise<void> {
    const { tracker } = this.#deps;
    const sources = offer.rebuild!.sources;
    if (this.#failed || this.#offers.length >= sources || offer.k !== this.#k || offer.rebuild!.fragment !== this.#fragment || !offer.sha256) {
      await tracker.request('transfer:reject', { transferId: offer.transferId, reason: 'error', message: 'not part of this rebuild' }).catch((error: unknown) => this.#deps.events.debug('reject', error));
      return;
    }
    this.#offers.push(offer);
    // Room for the one fragment, taken with the first source.
    this.#room ??= this.#admit();
    const room = await this.#room;
    if (!room) {
      await tracker.request('transfer:reject', { transferId: offer.transferId, reason: this.#refusal ?? 'no_space' }).catch((error: unknown) => this.#deps.events.debug('reject', error));
      return;
    }
    if (!(await this.#receive(offer))) return;
    if (++this.#complete === sources && !this.#failed) await this.#finish();
  }

  #refusal: RejectReason | undefined;

  async #admit(): Promise<Room | undefined> {
    const { store, events } = this.#deps;
    const existing = await store.replica(this.#replica.fileId);
    const room = await this.#deps.admit(Math.max(0, this.#replica.bytes - (existing?.bytes ?? 0)), this.#replica.bytes);
    if (typeof room === 'string') {
      this.#refusal = room;
      this.#failed = true;
      this.#markFinished();
      return undefined;
    }
    try {
      if (existing) await store.remove(this.#replica.fileId);
      await store.saveReplica(this.#replica);
      room.recorded();
      await events.changed();
    } catch (error) {
      room.release();
      this.#failed = true;
      this.#markFinished();
      throw error;
    }
    return room;
  }

  /** Reads one source fragment until its end, depositing each piece for the stripes. */
  async #receive(offer: TransferOffer): Promise<boolean> {
    const { tracker } = this.#deps;
    const link = this.#deps.openLink(offer, false);
    this.#links.push(link);
    const sourceRoot = fromHex(offer.sha256!);
    const count = this.#replica.chunkCount;
    try {
      await tracker.request('transfer:accept', { transferId: offer.transferId });
      await link.connected();
      await link.sendControl({ t: 'want', from: 0, proofs: true });
      await receiveChunks(
        link,
        {
          write: async (chunks) => {
            await Promise.all(chunks.map((chunk) => this.#assembler.deposit(offer.fragment, chunk.index, joinParts(chunk.parts, chunk.length))));
          },
        },
        {
          from: 0,
          count,
          batchBytes: WRITE_BATCH_BYTES,
          verifyOnReceipt: true,
          verifyPath: (index, digest, path) => verifyChunkPath(sourceRoot, { chunk: index, chunks: count }, digest, path),
          expectedLength: (index) => fragmentChunkSize(index, offer.size, offer.chunkSize, offer.k),
          onProgress: progressReporter(tracker, offer.transferId, (error: unknown) => this.#deps.events.debug('transfer:progress', error)),
        },
      );
      return true;
    } catch (error) {
      await this.#fail(offer, link, error);
      return false;
    }
  }

  /** Every source has sent its fragment: the rebuilt one is stored and claimed. */
  async #finish(): Promise<void> {
    const { tracker, store } = this.#deps;
    const first = this.#offers[0]!;
    try {
      if (!this.#assembler.finished) throw new TransferFailure('INTERNAL', 'The sources ended before every stripe was rebuilt.');
      const root = await this.#root.hex();
      await store.saveReplica({ ...this.#replica, received: this.#replica.chunkCount, state: 'stored', root });
      try {
        await tracker.request('replica:stored', { transferId: first.transferId, sha256: root });
      } catch (error) {
        // As with any fragment: the inventory after reconnecting settles whether it is wanted.
        this.#deps.events.debug('replica:stored', error);
      }
      for (const link of this.#links) await link.sendControl({ t: 'done' }).catch(() => undefined);
      for (const link of this.#links) link.close();
      await this.#end();
    } catch (error) {
      await this.#fail(first, this.#links[0]!, error);
    }
  }

  /**
   * One source failed (or the end did): the failure is reported by the link that noticed it,
   * the other links are let go (the tracker ends their transfers with the group), and what was
   * written here goes.
   */
  async #fail(offer: TransferOffer, link: Link, error: unknown): Promise<void> {
    if (this.#failed) {
      link.fail('CANCELLED', 'Another source of this rebuild failed.');
      return;
    }
    this.#failed = true;
    const failure = asFailure(error, link);
    this.#assembler.fail(failure);
    await reportFailure(this.#deps.tracker, offer.transferId, link, failure, { side: 'host', onRefused: (refusal) => this.#deps.events.debug('transfer:fail', refusal) });
    for (const other of this.#links) if (other !== link) other.fail('CANCELLED', 'Another source of this rebuild failed.');
    await this.#deps.store.remove(this.#replica.fileId).catch((removal: unknown) => this.#deps.events.debug('remove', removal));
    await this.#end();
  }

  async #end(): Promise<void> {
    const room = await this.#room?.catch(() => undefined);
    room?.release();
    await this.#deps.events.changed();
    this.#markFinished();
  }
}
