/**
 * One upload, from the owner's side: each host the tracker placed a fragment on gets it, and
 * once every fragment's root is known the owner seals them with the tracker.
 *
 * The file is read, sealed (AES-GCM, chunk by chunk) and cut into its n fragments once per
 * stripe, shared by all the hosts' pushes: a small cache holds the latest stripes, so hosts
 * that move at about the same pace cost one read, one seal and one encoding between them. Each
 * fragment's chunk digests build that fragment's root (shared/merkle.ts); for whole copies
 * (k = 1) every fragment is the sealed chunk and there is one root. The roots are sealed with
 * the tracker as soon as they are known, while the last chunks are still moving.
 *
 * A host says where to start: 0, or further on when it kept part of an interrupted upload.
 * The stripes before that are computed again only for the roots.
 *
 * The owner's memory stays flat whatever the file's size: a stripe's n fragments live in one
 * buffer, reused once every push that read it has sent it (transfer/buffer-pool.ts says why),
 * and pushes keep within STRIPE_CACHE stripes of each other, so one cache serves them all.
 */
import { chunkCount, chunkRange, SEAL_OVERHEAD } from '../../../../shared/chunking.ts';
import { backoffDelay } from '../../../../shared/backoff.ts';
import { toHex } from '../../../../shared/encoding.ts';
import { layoutFragments, splitStripeInto, stripeLayout } from '../../../../shared/erasure.ts';
import { PeercloudError } from '../../../../shared/errors.ts';
import type { TransferOffer } from '../../../../shared/protocol.ts';
import { fragmentChunkSize } from '../../../../shared/redundancy.ts';
import { sealChunk } from '../crypto/chunk-cipher.ts';
import { chunkDigest, RootHash } from '../crypto/digests.ts';
import type { StripeCoder } from '../erasure/stripe-coder.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import { BufferPool } from '../transfer/buffer-pool.ts';
import { sendChunks, type ChunkSource } from '../transfer/chunk-stream.ts';
import { FileChunkReader } from '../transfer/file-reader.ts';
import { freeBuffer } from '../transfer/free-buffer.ts';
import { TransferFailure } from '../transfer/link.ts';
import type { OpenLink } from '../transfer/link-pool.ts';
import { nextTask } from '../transfer/next-task.ts';
import { asFailure, reportFailure } from '../transfer/report-failure.ts';

/**
 * Stripes kept for the other hosts' pushes (4 MiB of sealed data, 6 MiB of rs:4+2 fragments),
 * and so how far a push may run ahead of the slowest: a push further behind than the cache has
 * each of its stripes read, sealed and encoded again, and kept apart.
 */
const STRIPE_CACHE = 4;
/**
 * Stripes each push reads ahead of the one it sends. A stripe read ahead is held whole (all n
 * fragments) until its push sent its own fragment, so the owner holds about
 * (STRIPE_CACHE + PUSH_READ_AHEAD) stripes at once. With 8 and 4 a mid-upload probe found 19–28 MiB
 * of live ArrayBuffers; a 1 GiB upload with 4 and 2 peaked at +18.6 MiB of them against +39.3,
 * its renderer at +60.7 MiB against +82.1, no slower (docs/BENCHMARKS.md, "Fragments"). Two is
 * enough here: a read is the cache's stripe, or one made in a few milliseconds.
 */
const PUSH_READ_AHEAD = 2;
/**
 * How long a push that is STRIPE_CACHE stripes ahead waits for the slowest, per stripe, before
 * going on without it: a stalled host must not stall the others (a replaced one starts over).
 */
const PACE_WAIT_MS = 2000;
/** Times the owner asks the tracker to record the roots before giving up. */
const SEAL_ATTEMPTS = 5;

export interface UploadSpec {
  file: File;
  key: CryptoKey;
  fileId: string;
  chunkSize: number;
  k: number;
  n: number;
}

export interface UploadEvents {
  /** A host has `bytes` of its fragment now (`sent`: they moved just now, for the speed). */
  moved(transferId: string, bytes: number, sent: boolean): void;
  /** A host said where it starts (a resumed one tells how much it kept). */
  heard(transferId: string): void;
  /** A host's push failed (the tracker places another, or not). */
  failed(transferId: string, failure: TransferFailure): void;
  /** For developers: an expected race (the tracker ended a transfer first, say). */
  debug(context: string, detail: unknown): void;
}

interface Stripe {
  fragments: Uint8Array[];
  digests: Uint8Array[];
  /** The buffer the fragments are views of (k > 1), given back to the pool once nobody holds the stripe. */
  slab?: Uint8Array<ArrayBuffer>;
}

/** A stripe made or being made, and how many hold it: the cache, and each push until it sent its fragment. */
interface Held {
  stripe: Promise<Stripe>;
  holders: number;
}

export class UploadRun {
  readonly #spec: UploadSpec;
  readonly #tracker: Pick<TrackerClient, 'request'>;
  readonly #openLink: OpenLink;
  readonly #coder: StripeCoder;
  readonly #events: UploadEvents;
  readonly #count: number;
  /** One root per fragment (one for whole copies, whose fragments are all alike). */
  readonly #roots: RootHash[];
  readonly #digested: boolean[];
  readonly #cache = new Map<number, Held>();
  readonly #pool: BufferPool;
  /** The stripe each push asked for last, by transfer: the slowest sets the pace. */
  readonly #reading = new Map<string, number>();
  #readingMoved: (() => void)[] = [];
  readonly #reader: FileChunkReader;
  #sealed: Promise<void> | undefined;

  constructor(spec: UploadSpec, deps: { tracker: Pick<TrackerClient, 'request'>; openLink: OpenLink; coder: StripeCoder; events: UploadEvents }) {
    this.#spec = spec;
    this.#tracker = deps.tracker;
    this.#openLink = deps.openLink;
    this.#coder = deps.coder;
    this.#events = deps.events;
    this.#count = chunkCount(spec.file.size, spec.chunkSize);
    this.#roots = Array.from({ length: spec.k === 1 ? 1 : spec.n }, () => new RootHash(this.#count));
    this.#digested = Array.from({ length: this.#count }, () => false);
    this.#reader = new FileChunkReader(spec.file, spec.chunkSize, 0);
    // Whole stripes' buffers: the cache's and a few more, that pushes are still sending from.
    this.#pool = new BufferPool(stripeLayout(spec.chunkSize + SEAL_OVERHEAD, spec.k, spec.n).bytes, STRIPE_CACHE);
  }

  /** Bytes of one fragment's chunk `index` (the sealed chunk, for whole copies). */
  #chunkBytes(index: number): number {
    return fragmentChunkSize(index, this.#spec.file.size, this.#spec.chunkSize, this.#spec.k);
  }

  /** A host is listening for its fragment: it gets it, then the upload is sealed. */
  async push(offer: TransferOffer): Promise<void> {
    const link = this.#openLink(offer, true);
    const fragment = this.#spec.k === 1 ? 0 : offer.fragment;
    try {
      await link.connected();
      const want = await link.nextControl();
      if (want.t !== 'want' || want.from > this.#count) throw new TransferFailure('INTERNAL', 'The host did not say where to start.');
      // What the host kept of an interrupted upload counts as done from the start.
      let kept = 0;
      for (let index = 0; index < want.from; index++) kept += this.#chunkBytes(index);
      this.#events.moved(offer.transferId, kept, false);
      this.#events.heard(offer.transferId);
      const source: ChunkSource = {
        count: this.#count,
        read: async (index) => {
          await this.#pace(offer.transferId, index);
          const held = this.#hold(index);
          try {
            const stripe = await held.stripe;
            return { bytes: stripe.fragments[offer.fragment]! as Uint8Array<ArrayBuffer>, sha256: toHex(stripe.digests[fragment]!), release: held.release };
          } catch (error) {
            held.release();
            throw error;
          }
        },
      };
      await sendChunks(link, source, {
        from: want.from,
        // The window is counted in chunks: a fragment's chunks are k times smaller.
        chunkSize: Math.ceil(this.#spec.chunkSize / this.#spec.k),
        readAhead: PUSH_READ_AHEAD,
        root: async () => {
          await this.#digestAll();
          // Every root is known now: the seal goes to the tracker while the last chunks are
          // still on their way, not after the host's `done` (two trips fewer after the last
          // byte). It only records what the owner sent; the tracker still counts a copy only
          // once its host has verified it and passed an audit. A seal that fails here is asked
          // again below, after `done`.
          this.#seal().catch(() => undefined);
          return this.#roots[fragment]!.hex();
        },
        onProgress: (bytes) => this.#events.moved(offer.transferId, kept + bytes, true),
      });
      this.#stopPacing(offer.transferId);
      // Usually settled long ago (sent with `end`, above); asked again if that attempt failed.
      await this.#seal();
      link.close();
    } catch (error) {
      this.#stopPacing(offer.transferId);
      // Told before the tracker hears it: its notice of the end, and the file's new state, may
      // arrive before its answer, and the page must already know why in its own words.
      const failure = asFailure(error, link);
      this.#events.failed(offer.transferId, failure);
      // The file itself can't be read: no other host would do better, so the upload stops.
      await reportFailure(this.#tracker, offer.transferId, link, failure, {
        ...(error instanceof TransferFailure && error.source === 'self' && error.code === 'STORAGE' ? { code: 'CANCELLED' as const } : {}),
        onRefused: (refusal) => this.#events.debug('transfer:fail', refusal),
      });
    }
  }

  cancel(): void {
    this.#reader.cancel();
  }

  /**
   * A push about to read stripe `index` waits while it is STRIPE_CACHE stripes ahead of the
   * slowest push (for PACE_WAIT_MS at most): hosts that drift apart would each need their own
   * stripes. The upload is done when the slowest host is, so the others lose nothing by waiting.
   */
  async #pace(transferId: string, index: number): Promise<void> {
    this.#reading.set(transferId, index);
    this.#wakePaced();
    const deadline = performance.now() + PACE_WAIT_MS;
    while (index - Math.min(...this.#reading.values()) >= STRIPE_CACHE) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#readingMoved.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #stopPacing(transferId: string): void {
    this.#reading.delete(transferId);
    this.#wakePaced();
  }

  #wakePaced(): void {
    for (const wake of this.#readingMoved.splice(0)) wake();
  }

  /** Stripe `index`, from the cache or made now, held until `release` is called. */
  #hold(index: number): { stripe: Promise<Stripe>; release: () => void } {
    let held = this.#cache.get(index);
    if (!held) {
      const made: Held = { stripe: this.#make(index), holders: 1 };
      held = made;
      this.#cache.set(index, made);
      // Failed stripes are made again by whoever asks next.
      made.stripe.catch(() => {
        if (this.#cache.get(index) !== made) return;
        this.#cache.delete(index);
        this.#release(made);
      });
      for (const [oldest, evicted] of this.#cache) {
        if (this.#cache.size <= STRIPE_CACHE) break;
        this.#cache.delete(oldest);
        this.#release(evicted);
      }
    }
    const holding = held;
    holding.holders++;
    let released = false;
    return {
      stripe: holding.stripe,
      release: () => {
        if (released) return;
        released = true;
        this.#release(holding);
      },
    };
  }

  /**
   * One holder fewer; the last one gives the stripe's buffer back (whole copies: frees the
   * sealed chunk, WebCrypto's own buffer, which no pool can take).
   */
  #release(held: Held): void {
    if (--held.holders > 0) return;
    held.stripe.then(
      (stripe) => (stripe.slab ? this.#pool.give(stripe.slab) : freeBuffer(stripe.fragments[0]!)),
      () => undefined,
    );
  }

  async #make(index: number): Promise<Stripe> {
    const { k, n } = this.#spec;
    const sealed = await this.#readSealed(index);
    let fragments: Uint8Array[];
    let slab: Uint8Array<ArrayBuffer> | undefined;
    if (k === 1) {
      // Whole copies are the sealed chunk itself: no coding, no copy.
      fragments = Array.from({ length: n }, () => sealed);
    } else {
      // The sealed chunk (fresh from WebCrypto, dead at once) is copied into a reused buffer, and
      // the parity is written beside it: no buffer of ours is allocated per stripe, and
      // WebCrypto's is freed now rather than left to pile up (transfer/free-buffer.ts).
      const layout = stripeLayout(sealed.byteLength, k, n);
      splitStripeInto(sealed, (slab = this.#pool.take(layout.bytes)), layout);
      freeBuffer(sealed);
      // The parity is a task of its own (a few milliseconds), like the seal and the hashes.
      await nextTask();
      slab = await this.#coder.encodeInto(slab, layout);
      fragments = layoutFragments(slab, layout);
    }
    // Sealing and hashing run on this thread, inside the WebCrypto calls (as Chromium does
    // them): a task of their own each, so that the page's other work gets in between.
    await nextTask();
    // Whole copies are alike: one digest stands for all.
    const digests = k === 1 ? [await chunkDigest(sealed)] : await Promise.all(fragments.map((fragment) => chunkDigest(fragment)));
    digests.forEach((digest, at) => this.#roots[at]!.set(index, digest));
    this.#digested[index] = true;
    return { fragments, digests, ...(slab ? { slab } : {}) };
  }

  /**
   * Chunk `index` sealed: read from the one stream while reading forward (its buffer lent to
   * the seal, which copies it when called), by a slice otherwise.
   */
  async #readSealed(index: number): Promise<Uint8Array<ArrayBuffer>> {
    const { key, fileId, file, chunkSize } = this.#spec;
    const seal = (plaintext: Uint8Array<ArrayBuffer>) => sealChunk(key, fileId, index, this.#count, plaintext);
    if (this.#reader.next === index) return this.#reader.readWith(index, seal);
    const { start, end } = chunkRange(index, file.size, chunkSize);
    let plaintext: Uint8Array<ArrayBuffer>;
    try {
      plaintext = new Uint8Array(await file.slice(start, end).arrayBuffer());
    } catch (error) {
      throw new TransferFailure('STORAGE', `The file could not be read (was it changed or moved?): ${error instanceof Error ? error.message : String(error)}`);
    }
    const sealing = seal(plaintext);
    // The seal copied the slice when called; the slice, made by the browser, is freed now.
    freeBuffer(plaintext);
    return sealing;
  }

  /** Every stripe digested at least once: what the roots need. */
  async #digestAll(): Promise<void> {
    for (let index = 0; index < this.#count; index++) {
      if (this.#digested[index]) continue;
      const held = this.#hold(index);
      try {
        await held.stripe;
      } finally {
        held.release();
      }
    }
  }

  /**
   * Records the roots with the tracker once, asking again while it is busy or slow. A seal
   * that fails in the end is the tracker's failure, not the host's: no host is blamed for it,
   * and the next host to finish asks again.
   */
  #seal(): Promise<void> {
    const sealed = (this.#sealed ??= (async () => {
      await this.#digestAll();
      const roots = await Promise.all(this.#roots.map((root) => root.hex()));
      const request = roots.length === 1 ? { fileId: this.#spec.fileId, sha256: roots[0]! } : { fileId: this.#spec.fileId, roots };
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#tracker.request('file:seal', request);
          return;
        } catch (error) {
          const passing = error instanceof PeercloudError && (error.code === 'RATE_LIMITED' || error.code === 'TIMEOUT');
          if (!passing || attempt + 1 >= SEAL_ATTEMPTS) {
            throw new TransferFailure('INTERNAL', `The tracker did not record the upload: ${error instanceof Error ? error.message : String(error)}`, 'tracker');
          }
          await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)));
        }
      }
    })());
    sealed.catch(() => {
      if (this.#sealed === sealed) this.#sealed = undefined;
    });
    return sealed;
  }
}
