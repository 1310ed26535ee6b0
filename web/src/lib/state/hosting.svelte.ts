/**
 * This peer as a host: how much it offers, what it holds, and the transfers it serves.
 * Hosted replicas are other people's sealed chunks in IndexedDB; a host refuses what it
 * cannot take, verifies every chunk it wrote before confirming a replica, serves replicas
 * back to their owners, and drops those the tracker says are no longer wanted.
 */
import { chunkCount, sealedChunkSize, storedSize } from '../../../../shared/chunking.ts';
import { fromHex, toHex } from '../../../../shared/encoding.ts';
import { INVENTORY_PAGE, type RejectReason, type TransferOffer } from '../../../../shared/protocol.ts';
import { formatBytes, GiB, MiB } from '../../../../shared/units.ts';
import { asStored, faults } from '../testing/faults.ts';
import { RootHash } from '../crypto/digests.ts';
import { answerAudit } from '../hosting/audit-answer.ts';
import { progressReporter } from '../transfer/progress-reporter.ts';
import { PeerLink, TransferFailure } from '../net/peer-link.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import { hostedStore, settingsStore, type HostedChunk, type HostedReplica } from '../storage/browser-db.ts';
import { receiveChunks, sendChunks, type ChunkSink, type ReceivedChunk, type SourceChunk } from '../transfer/chunk-stream.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

/** What the browser must keep free for everything else, whatever the peer offers. */
const HEADROOM = 64 * MiB;
/** What a new peer lends until its person chooses (the welcome says so). */
export const DEFAULT_OFFER = GiB;
/** Host-side batches: one IndexedDB transaction per few MiB, verified by reading it back. */
const WRITE_BATCH_BYTES = 2 * MiB;

/** Room a receive holds while it runs: offer bytes not yet in a replica record, and bytes not yet written. */
interface Hold {
  unrecorded: number;
  unwritten: number;
}

/** Bytes of the chunks a partly received replica holds already. */
function heldBytes(replica: HostedReplica, offer: TransferOffer): number {
  return replica.received === 0 ? 0 : storedSize(Math.min(offer.size, replica.received * offer.chunkSize), offer.chunkSize);
}

export class Hosting {
  /** Bytes offered to the cloud. */
  capacity = $state(0);
  /** What the browser lets this origin store at most, and uses now. */
  quota = $state<number | undefined>();
  usage = $state<number | undefined>();
  persisted = $state<boolean | undefined>();
  /** Bytes of other peers' replicas held here (verified or arriving). */
  hostedBytes = $state(0);
  replicaCount = $state(0);
  activeTransfers = $state(0);

  readonly #session: Session;
  readonly #notices: Notices;
  #tracker: TrackerClient | undefined;
  /** Room held by the receives under way, so that two at once can't both take the last space. */
  readonly #holds = new Set<Hold>();
  /** A write hit the browser's quota: the offer is lowered once the transfer is over. */
  #overQuota = false;
  readonly #links = new Set<PeerLink>();

  constructor(session: Session, notices: Notices) {
    this.#session = session;
    this.#notices = notices;
    session.whenPeer((tracker) => this.#start(tracker));
    session.whenStopped(() => this.#stop());
  }

  /** The most that can be offered: what the browser allows, less what is used for other things. */
  get maxCapacity(): number {
    if (this.quota === undefined || this.usage === undefined) return this.capacity;
    return Math.max(0, this.quota - (this.usage - this.hostedBytes) - HEADROOM);
  }

  async load(): Promise<void> {
    await this.#refreshEstimate();
    this.persisted = await navigator.storage.persisted();
    // Replicas left half-written stay: their owner may resume. The tracker's answer to the
    // inventory says which of them (and of the rest) are no longer wanted.
    await this.#refreshHosted();
    const settings = await settingsStore.load();
    this.capacity = Math.min(settings.capacity ?? Math.min(DEFAULT_OFFER, Math.floor(this.maxCapacity / 2)), this.maxCapacity);
  }

  /** The answer to the last request for persistent storage, for the page to say so. */
  persistenceAnswer = $state<'granted' | 'refused' | undefined>();

  async requestPersistence(): Promise<void> {
    this.persisted = await navigator.storage.persist();
    this.persistenceAnswer = this.persisted ? 'granted' : 'refused';
  }

  /** Changes the offer (bounded by what the browser allows) and tells the tracker. */
  async setCapacity(bytes: number): Promise<void> {
    this.capacity = Math.max(0, Math.min(Math.floor(bytes), this.maxCapacity));
    await settingsStore.save({ capacity: this.capacity });
    await this.report();
  }

  /** Reports capacity and use; the answer carries this peer's status and the cloud's settings. */
  async report(): Promise<void> {
    const tracker = this.#tracker;
    if (!tracker || tracker.state !== 'online') return;
    const { peer, config } = await tracker.request('peer:report', { capacity: this.capacity, used: this.hostedBytes });
    this.#session.setReport(peer, config);
  }

  #start(tracker: TrackerClient): void {
    this.#tracker = tracker;
    tracker.onOnline(() => {
      this.#reconcile().catch((error: unknown) => this.#notices.error('Could not report this peer’s storage to the tracker', error));
    });
    // What fails before a transfer has its own error handling (storage unreadable) is shown, not lost.
    const shown = (work: Promise<void>) => work.catch((error: unknown) => this.#notices.error('A hosting task failed', error));
    tracker.on('transfer:open', (offer) => {
      void shown(offer.role === 'receiver' ? this.#receive(tracker, offer) : this.#serve(tracker, offer, false));
    });
    // A repair: the new host is listening, and this host, holding a live copy, sends it.
    tracker.on('transfer:ready', (offer) => {
      if (offer.kind === 'repair' && offer.role === 'sender') void shown(this.#serve(tracker, offer, true));
    });
    tracker.on('replica:drop', ({ fileIds }) => {
      void shown(this.#drop(fileIds));
    });
    // The tracker asks for proof of what is held here, now and then.
    tracker.on('audit:challenge', (challenge) => {
      if (faults.silentAudits) return;
      void answerAudit(tracker, hostedStore, challenge).catch((error: unknown) => this.#notices.debug('audit', error));
    });
  }

  #stop(): void {
    for (const link of this.#links) link.fail('CANCELLED', 'This tab is no longer the peer.');
    this.#tracker = undefined;
  }

  /** After each (re)connection: report, then list what is held so the tracker can say what to drop. */
  async #reconcile(): Promise<void> {
    await this.report();
    const tracker = this.#tracker!;
    const held = (await hostedStore.replicas()).map((replica) => ({ fileId: replica.fileId, root: replica.state === 'stored' ? replica.root : null }));
    // At least one page, even empty: the last one tells the tracker the list is complete.
    for (let at = 0; at === 0 || at < held.length; at += INVENTORY_PAGE) {
      const page = held.slice(at, at + INVENTORY_PAGE);
      const { drop } = await tracker.request('host:inventory', { replicas: page, last: at + INVENTORY_PAGE >= held.length });
      if (drop.length > 0) await this.#drop(drop);
    }
  }

  async #drop(fileIds: string[]): Promise<void> {
    for (const fileId of fileIds) await hostedStore.remove(fileId);
    await this.#refreshHosted();
    await this.report().catch((error: unknown) => this.#notices.error('Could not report this peer’s storage to the tracker', error));
  }

  /**
   * Takes a receive on if there is room: `recordBytes` new bytes of offer (a replica record
   * not saved yet; saved ones are in `hostedBytes`) and `writeBytes` still to be written to the
   * browser's storage. The room is held before anything is awaited, so that offers arriving
   * together are weighed one after the other. Returns the hold, or why not.
   */
  async #admit(recordBytes: number, writeBytes: number): Promise<Hold | RejectReason> {
    const config = this.#session.config;
    if (config && this.activeTransfers >= config.maxHostTransfers) return 'busy';
    const held = (key: keyof Hold) => [...this.#holds].reduce((sum, hold) => sum + hold[key], 0);
    if (recordBytes > this.capacity - this.hostedBytes - held('unrecorded')) return 'no_space';
    const hold: Hold = { unrecorded: recordBytes, unwritten: writeBytes };
    this.#holds.add(hold);
    this.activeTransfers++;
    // Without a fresh estimate, the last one serves: the hold must not be left behind by a throw.
    await this.#refreshEstimate().catch((error: unknown) => this.#notices.debug('storage estimate', error));
    // The browser itself may have less room than was offered (the disk filled up since).
    if (this.quota !== undefined && this.usage !== undefined && held('unwritten') > this.quota - this.usage - HEADROOM) {
      this.#release(hold);
      return 'no_space';
    }
    return hold;
  }

  #release(hold: Hold): void {
    if (this.#holds.delete(hold)) this.activeTransfers--;
  }

  /**
   * Receives a replica (a store, or a repair from another host) and confirms it once verified.
   * A replica this host already holds part of (its owner left mid-upload and came back)
   * continues at its first missing chunk.
   */
  async #receive(tracker: TrackerClient, offer: TransferOffer): Promise<void> {
    const count = chunkCount(offer.size, offer.chunkSize);
    const existing = await hostedStore.replica(offer.fileId);
    const resuming = existing?.state === 'receiving' && existing.chunkCount === count && existing.bytes === offer.bytes;
    // What is already here was counted when it arrived: only new bytes need room (an old copy
    // that this one replaces is removed before anything is written).
    const written = resuming ? heldBytes(existing, offer) : 0;
    const recordBytes = resuming ? 0 : Math.max(0, offer.bytes - (existing?.bytes ?? 0));
    const hold = await this.#admit(recordBytes, offer.bytes - written);
    if (typeof hold === 'string') {
      await tracker.request('transfer:reject', { transferId: offer.transferId, reason: hold }).catch((error: unknown) => this.#notices.debug('reject', error));
      return;
    }
    const replica: HostedReplica = resuming
      ? existing
      : { fileId: offer.fileId, bytes: offer.bytes, size: offer.size, chunkSize: offer.chunkSize, chunkCount: count, received: 0, state: 'receiving', root: null, createdAt: Date.now() };
    let link: PeerLink;
    try {
      link = this.#open(tracker, offer, false);
    } catch (error) {
      this.#release(hold);
      throw error;
    }
    try {
      if (existing && !resuming) await hostedStore.remove(offer.fileId);
      await tracker.request('transfer:accept', { transferId: offer.transferId });
      await link.connected();
      if (!resuming) {
        await hostedStore.saveReplica(replica);
        await this.#refreshHosted();
        // Counted in `hostedBytes` from now on.
        hold.unrecorded = 0;
      }
      const root = await this.#rootSoFar(replica);
      await link.sendControl({ t: 'want', from: replica.received });
      const sink: ChunkSink = {
        write: async (chunks) => {
          await this.#write(offer.fileId, chunks, root);
          hold.unwritten = Math.max(0, hold.unwritten - chunks.reduce((sum, chunk) => sum + chunk.length, 0));
          replica.received = chunks.at(-1)!.index + 1;
          await hostedStore.saveReplica(replica);
        },
      };
      const end = await receiveChunks(link, sink, {
        from: replica.received,
        count,
        batchBytes: WRITE_BATCH_BYTES,
        // Every chunk against its digest as it arrives, before it is written.
        verifyOnReceipt: true,
        expectedLength: (index) => sealedChunkSize(index, offer.size, offer.chunkSize),
        onProgress: this.#progressReporter(tracker, offer.transferId),
      });
      const rootHex = await root.hex();
      // The root sent along: the owner's, or on a repair the one its source holds (the tracker
      // checks the claim against the owner's seal, which a receiver is not told).
      if (end.root !== rootHex) throw new TransferFailure('INTEGRITY', 'The chunks received do not add up to the root hash the owner sent.');
      await hostedStore.saveReplica({ ...replica, state: 'stored', root: rootHex });
      try {
        await tracker.request('replica:stored', { transferId: offer.transferId, sha256: rootHex });
      } catch (error) {
        // The tracker may have recorded it before it went away: the replica stays, and the
        // inventory after reconnecting settles whether it is wanted.
        this.#notices.debug('replica:stored', error);
        link.close();
        return;
      }
      await link.sendControl({ t: 'done' });
      link.close();
    } catch (error) {
      const failure = await this.#failed(tracker, link, offer, error);
      // What went wrong here makes the partial replica worthless. Otherwise the tracker decides:
      // it keeps it for the owner to resume, or says to drop it.
      if (failure.source === 'self') await hostedStore.remove(offer.fileId);
    } finally {
      this.#release(hold);
      this.#links.delete(link);
      await this.#refreshHosted();
      if (this.#overQuota) {
        this.#overQuota = false;
        await this.setCapacity(this.hostedBytes).catch((error: unknown) => this.#notices.error('Could not lower the storage offered', error));
        this.#notices.info(`This browser ran out of storage space: the offer is now ${formatBytes(this.capacity)}, what it really holds.`);
      }
    }
  }

  /** The root hash over the chunks already held, from the hashes verified when they were written. */
  async #rootSoFar(replica: HostedReplica): Promise<RootHash> {
    const root = new RootHash(replica.chunkCount);
    for (let at = 0; at < replica.received; at += 256) {
      const indexes = Array.from({ length: Math.min(256, replica.received - at) }, (_, k) => at + k);
      const chunks = await hostedStore.chunks(replica.fileId, indexes);
      chunks.forEach((chunk, k) => {
        if (!chunk) throw new TransferFailure('STORAGE', `Chunk ${indexes[k]} went missing from this host.`);
        root.set(indexes[k]!, fromHex(chunk.sha256));
      });
    }
    return root;
  }

  /**
   * Writes a batch of chunks, each already checked against its digest as it arrived, in one
   * transaction. Nothing is read back: audits read stored blocks back at random, which checks the
   * disk as well, at a fraction of the cost (reading every chunk back cost as much CPU as
   * writing it, on a channel that is CPU-bound).
   */
  async #write(fileId: string, chunks: ReceivedChunk[], root: RootHash): Promise<void> {
    try {
      if (faults.quotaBytes !== undefined && this.hostedBytes > faults.quotaBytes) throw new DOMException('The storage quota was exceeded (fault injected).', 'QuotaExceededError');
      await hostedStore.putChunks(
        fileId,
        chunks.map((chunk) => ({ index: chunk.index, chunk: { data: new Blob(chunk.parts), sha256: chunk.sha256 } })),
      );
    } catch (error) {
      // The browser holds less than this peer offered: offer only what it really holds from now on.
      if (error instanceof DOMException && error.name === 'QuotaExceededError') this.#overQuota = true;
      throw new TransferFailure('STORAGE', storageMessage(error));
    }
    for (const chunk of chunks) root.set(chunk.index, fromHex(chunk.sha256));
  }

  /**
   * Sends a held replica: to its owner (a download: this host was asked, and answers), or to a
   * new host (a repair: the new host was asked, and this one starts the connection).
   */
  async #serve(tracker: TrackerClient, offer: TransferOffer, initiator: boolean): Promise<void> {
    const replica = await hostedStore.replica(offer.fileId);
    const config = this.#session.config;
    const refusal = !replica || replica.state !== 'stored' ? 'error' : !initiator && config && this.activeTransfers >= config.maxHostTransfers ? 'busy' : undefined;
    if (refusal) {
      const message = refusal === 'error' ? 'replica not held here' : undefined;
      const answer = initiator
        ? tracker.request('transfer:fail', { transferId: offer.transferId, code: 'STORAGE', message: 'The replica to copy is not held here.' })
        : tracker.request('transfer:reject', { transferId: offer.transferId, reason: refusal, message });
      await answer.catch((error: unknown) => this.#notices.debug('refuse to serve', error));
      return;
    }
    const link = this.#open(tracker, offer, initiator);
    this.activeTransfers++;
    try {
      if (!initiator) await tracker.request('transfer:accept', { transferId: offer.transferId });
      await link.connected();
      const want = await link.nextControl();
      if (want.t !== 'want') throw new TransferFailure('INTERNAL', 'Expected the receiver to say where to start.');
      const source = { count: replica!.chunkCount, read: batchedReader(offer.fileId, replica!.chunkCount) };
      const root = replica!.root;
      await sendChunks(link, source, {
        from: want.from,
        chunkSize: replica!.chunkSize,
        // A new host checks what it stored against the root; an owner checks every chunk itself.
        root: offer.kind === 'repair' && root ? async () => root : undefined,
        onProgress: this.#progressReporter(tracker, offer.transferId),
      });
      link.close();
    } catch (error) {
      await this.#failed(tracker, link, offer, error);
    } finally {
      this.activeTransfers--;
      this.#links.delete(link);
    }
  }

  #open(tracker: TrackerClient, offer: TransferOffer, initiator: boolean): PeerLink {
    const link = new PeerLink({ transferId: offer.transferId, initiator, tracker, ...this.#session.linkSettings });
    this.#links.add(link);
    return link;
  }

  /**
   * Ends a failed transfer. A failure noticed here is told to the other peer and the tracker;
   * one that came from the other side is theirs to report (a host never reports its owner
   * gone: the tracker sees that itself, and then keeps a partial upload for a resume).
   */
  async #failed(tracker: TrackerClient, link: PeerLink, offer: TransferOffer, error: unknown): Promise<TransferFailure> {
    const failure = error instanceof TransferFailure ? error : (link.failure ?? new TransferFailure('INTERNAL', error instanceof Error ? error.message : String(error)));
    link.fail(failure.code, failure.message);
    if (failure.source === 'self') {
      await tracker
        .request('transfer:fail', { transferId: offer.transferId, code: failure.code, message: failure.message.slice(0, 500) })
        // The tracker may have ended it first: nothing more to say then.
        .catch((refusal: unknown) => this.#notices.debug('transfer:fail', refusal));
    }
    return failure;
  }

  #progressReporter(tracker: TrackerClient, transferId: string): (bytes: number) => void {
    return progressReporter(tracker, transferId, (error: unknown) => this.#notices.debug('transfer:progress', error));
  }


  async #refreshHosted(): Promise<void> {
    const replicas = await hostedStore.replicas();
    this.hostedBytes = replicas.reduce((sum, replica) => sum + replica.bytes, 0);
    this.replicaCount = replicas.filter((replica) => replica.state === 'stored').length;
  }

  async #refreshEstimate(): Promise<void> {
    const estimate = await navigator.storage.estimate();
    this.quota = estimate.quota;
    this.usage = estimate.usage;
  }
}

/** Reads a replica's chunks a few per IndexedDB transaction, for a sender that reads them in order. */
function batchedReader(fileId: string, count: number, batch = 4): (index: number) => Promise<SourceChunk> {
  let cached = new Map<number, Promise<HostedChunk | undefined>>();
  return async (index) => {
    if (!cached.has(index)) {
      const indexes = Array.from({ length: Math.min(batch, count - index) }, (_, k) => index + k);
      const all = hostedStore.chunks(fileId, indexes);
      cached = new Map(indexes.map((at, k) => [at, all.then((chunks) => chunks[k])]));
    }
    const chunk = await cached.get(index)!;
    cached.delete(index);
    if (!chunk) throw new TransferFailure('STORAGE', `Chunk ${index} is missing from this host.`);
    const bytes = asStored(index, new Uint8Array(await chunk.data.arrayBuffer())) as Uint8Array<ArrayBuffer>;
    return { bytes, sha256: chunk.sha256 };
  };
}

function storageMessage(error: unknown): string {
  if (error instanceof DOMException && error.name === 'QuotaExceededError') return 'This browser ran out of storage space.';
  return `Could not write to storage: ${error instanceof Error ? error.message : String(error)}`;
}
