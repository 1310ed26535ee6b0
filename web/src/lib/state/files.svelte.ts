/**
 * The owner's files: the live list, uploads and downloads with their progress, deletion, and
 * resuming what a reload or a lost host interrupted.
 *
 * An upload seals each chunk with the file's own key and streams it to every host the tracker
 * placed it on (the owner never learns which peers they are), starting wherever the host says
 * it is (0, or further on a resumed upload); the file is stored once a host verified it. A
 * download fetches sealed chunks from one online host, opens them with the key kept here,
 * writes them to disk as they come and, if its host goes away, continues from the first missing
 * chunk on another replica; after a reload it continues from there too.
 */
import { chunkCount, chunkRange, sealedChunkSize, storedSize } from '../../../../shared/chunking.ts';
import { backoffDelay } from '../../../../shared/backoff.ts';
import { toHex } from '../../../../shared/encoding.ts';
import { PeercloudError } from '../../../../shared/errors.ts';
import { describeIssue, FileName, type FileSummary, type TransferEnded, type TransferOffer } from '../../../../shared/protocol.ts';
import { MiB } from '../../../../shared/units.ts';
import { generateFileKey, IntegrityError, openChunk, sealChunk } from '../crypto/chunk-cipher.ts';
import { chunkDigest, RootHash } from '../crypto/digests.ts';
import { Vault } from '../crypto/vault.ts';
import { PeerLink, TransferFailure } from '../net/peer-link.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import { downloadStore, fileKeyStore, uploadStore, type DownloadProgress } from '../storage/browser-db.ts';
import { openDownloadFile, removeStaleDownloads } from '../storage/downloads.ts';
import { othersOnline } from '../leaving.ts';
import { distinctLabels } from '../names.ts';
import { addSample, bytesPerSecond, forwardOnly, secondsLeft, uploadFraction, type RateSample } from '../progress.ts';
import { joinParts, receiveChunks, sendChunks, type ChunkSource } from '../transfer/chunk-stream.ts';
import { FileChunkReader } from '../transfer/file-reader.ts';
import { progressReporter } from '../transfer/progress-reporter.ts';
import { describeError, TRANSFER_WORDS } from '../error-words.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

/**
 * An upload as the tray shows it, from the moment it is chosen until all its copies are made:
 * - queued, placing (asking the tracker for hosts), resuming (hosts saying where they were), uploading;
 * - short: stored, with fewer copies than wanted; the cloud makes the rest when a peer is free;
 * - repairing: stored, and a further copy is being made from one of them;
 * - done: every wanted copy is stored;
 * - waiting: it could not start or finish for want of peers, and starts again by itself when one joins;
 * - failed: it cannot go on by itself (Retry may still help).
 */
export type UploadState = 'queued' | 'placing' | 'resuming' | 'uploading' | 'short' | 'repairing' | 'done' | 'waiting' | 'failed';

export interface UploadJob {
  key: number;
  name: string;
  size: number;
  fileId?: string;
  /** 0…1 over every wanted copy; it only moves forward. */
  progress: number;
  state: UploadState;
  copiesWanted?: number;
  copiesStored: number;
  /** Measured over the last few seconds, while bytes move. */
  bytesPerSecond?: number;
  secondsLeft?: number;
  error?: string;
  /** Whether Retry can start it again (the file is still at hand). */
  retryable: boolean;
}

export interface DownloadJob {
  fileId: string;
  name: string;
  progress: number;
  /** 'interrupted': a reload stopped it; part of it is on disk and it can resume. */
  state: 'locating' | 'downloading' | 'done' | 'failed' | 'interrupted';
  error?: string;
}

/** Uploads running at once; the rest wait their turn. */
const PARALLEL_UPLOADS = 2;
/** Downloads try this many hosts (or the same one again) before giving up. */
const DOWNLOAD_ATTEMPTS = 6;
const DOWNLOAD_BATCH_BYTES = 2 * MiB;
/** Times the owner asks the tracker to record a file's root before giving up. */
const SEAL_ATTEMPTS = 5;
/** A `transfer:ready` for an upload whose answer hasn't arrived is kept this long at most. */
const EARLY_READY_MS = 60_000;
/** How long a deleted file can be brought back before the tracker is told. */
export const UNDO_MS = 8_000;
/** Retries an upload waiting for peers makes by itself (one per peer joining). */
const AUTO_RETRIES = 5;

interface Upload {
  job: UploadJob;
  file: File;
  key: CryptoKey;
  fileId: string;
  chunkSize: number;
  sealed: Promise<void> | undefined;
  /** Bytes each copy under way or done has got (a resumed one counts what its host had). */
  sent: Map<string, number>;
  /** One copy's size, sealed. */
  copyBytes: number;
  /** Bytes moved since the upload started (what the speed is measured on). */
  moved: number;
  samples: RateSample[];
  /** A resume's transfers whose host has not said yet how much it kept: the bar waits for them all. */
  unheard: Set<string>;
  lastFailure?: string;
  finished: () => void;
}

/** What a job needs to start again: the file itself, and whether it resumes a stored upload. */
interface JobSource {
  file: File;
  resumeOf?: string;
  autoRetries: number;
}

type Waiter = { resolve: (offer: TransferOffer) => void; reject: (failure: TransferFailure) => void };

export class Files {
  items = $state<FileSummary[]>([]);
  uploads = $state<UploadJob[]>([]);
  downloads = $state<Record<string, DownloadJob>>({});
  loaded = $state(false);
  /** Files deleted on the page whose deletion waits out its Undo. */
  deleting = $state<Record<string, true>>({});

  /** Names that tell files of the same name apart ("photo.jpg (2)"), by file id. */
  readonly labels = $derived(distinctLabels(this.items.map((file) => ({ id: file.id, name: file.name, order: file.createdAt }))));
  /** The same for the upload tray, by job key. */
  readonly uploadLabels = $derived(distinctLabels(this.uploads.map((job) => ({ id: String(job.key), name: job.name, order: job.key }))));
  /** Transfers that closing the tab would stop. */
  readonly underway = $derived({
    uploads: this.uploads.filter((job) => job.state === 'queued' || job.state === 'placing' || job.state === 'resuming' || job.state === 'uploading').length,
    downloads: Object.values(this.downloads).filter((job) => job.state === 'locating' || job.state === 'downloading').length,
    deletions: Object.keys(this.deleting).length,
  });

  readonly #session: Session;
  readonly #notices: Notices;
  #tracker: TrackerClient | undefined;
  #vault: Promise<Vault> | undefined;
  #nextKey = 1;
  readonly #queue: { job: UploadJob; start: () => Promise<void> }[] = [];
  #running = 0;
  readonly #uploads = new Map<string, Upload>();
  readonly #early: { offer: TransferOffer; at: number }[] = [];
  readonly #waiters = new Map<string, Waiter>();
  readonly #links = new Set<PeerLink>();
  /** Jobs in the tray that still follow their file's copies, by file id. */
  readonly #following = new Map<string, UploadJob>();
  readonly #sources = new Map<number, JobSource>();
  readonly #deleteTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #othersOnline = 0;

  constructor(session: Session, notices: Notices) {
    this.#session = session;
    this.#notices = notices;
    session.whenPeer((tracker) => this.#start(tracker));
    session.whenStopped(() => {
      const reason = 'This tab is no longer the peer.';
      for (const link of this.#links) link.fail('CANCELLED', reason);
      for (const upload of this.#uploads.values()) this.#abandon(upload, reason);
      for (const waiter of this.#waiters.values()) waiter.reject(new TransferFailure('CANCELLED', reason, 'tracker'));
      this.#waiters.clear();
      this.#tracker = undefined;
    });
  }

  /** Downloads a reload interrupted are offered for resuming; any other leftover goes. */
  async load(): Promise<void> {
    const interrupted = await downloadStore.all();
    await removeStaleDownloads(new Set(interrupted.map((progress) => progress.fileId)));
    for (const progress of interrupted) {
      this.downloads[progress.fileId] = { fileId: progress.fileId, name: progress.name, progress: progress.next / progress.count, state: 'interrupted' };
    }
  }

  #start(tracker: TrackerClient): void {
    this.#tracker = tracker;
    tracker.onOnline(() => {
      this.refresh()
        .then(() => this.#retryWaiting())
        .catch((error: unknown) => this.#notices.error('Could not list your files', error));
    });
    // Uploads that found nobody to store them go again, by themselves, when someone joins.
    tracker.on('cloud:stats', ({ peersOnline }) => {
      const others = othersOnline(peersOnline, true);
      const joined = others > this.#othersOnline;
      this.#othersOnline = others;
      if (joined) this.#retryWaiting();
    });
    tracker.on('file:updated', (file) => this.#upsert(file));
    tracker.on('file:removed', ({ fileId }) => this.#forget(fileId));
    tracker.on('transfer:ready', (offer) => this.#ready(tracker, offer));
    tracker.on('transfer:ended', (ended) => this.#ended(ended));
  }

  async refresh(): Promise<void> {
    const { files } = await this.#requireTracker().request('file:list', {});
    this.items = files;
    this.loaded = true;
    // An upload that ended while this peer was offline (its owner's absence interrupts it)
    // missed the news: it learns it here, so that its job ends and frees its place in the queue.
    for (const [fileId, upload] of this.#uploads) {
      const file = files.find((item) => item.id === fileId);
      if (file) this.#upsert(file);
      else this.#abandon(upload, 'The file is no longer in the cloud.');
    }
    // Tray entries of files deleted meanwhile (in another tab of this peer, say) go with them.
    for (const fileId of this.#following.keys()) if (!files.some((item) => item.id === fileId)) await this.#forget(fileId);
    // Upload intents of files that are no longer uploading (or no longer exist) are done with.
    for (const intent of await uploadStore.all()) {
      const file = files.find((item) => item.id === intent.fileId);
      if (!file || file.state === 'stored' || file.state === 'failed') await uploadStore.remove(intent.fileId);
    }
  }

  /** Queues files for upload; each gets its own job and progress bar. */
  upload(files: Iterable<File>): void {
    for (const file of files) {
      const job = this.#newJob(file);
      this.#sources.set(job.key, { file, autoRetries: 0 });
      this.#enqueue(job, () => this.#upload(job, file));
    }
  }

  /** Starts a failed or waiting upload again, with the file chosen for it. */
  retryUpload(key: number): void {
    const job = this.uploads.find((item) => item.key === key);
    const source = this.#sources.get(key);
    if (!job || !source || (job.state !== 'failed' && job.state !== 'waiting')) return;
    const failedFile = job.fileId && this.items.find((item) => item.id === job.fileId && item.state === 'failed');
    Object.assign(job, { state: 'queued', progress: 0, error: undefined, bytesPerSecond: undefined, secondsLeft: undefined, copiesStored: 0 } satisfies Partial<UploadJob>);
    if (source.resumeOf && this.items.some((item) => item.id === source.resumeOf && item.state === 'interrupted')) {
      const summary = this.items.find((item) => item.id === source.resumeOf)!;
      this.#enqueue(job, () => this.#resume(job, source.file, summary));
      return;
    }
    job.fileId = undefined;
    this.#enqueue(job, async () => {
      // A failed file holds nothing: it goes, and the new upload takes its place.
      if (failedFile) await this.#requireTracker().request('file:delete', { fileId: failedFile.id }).then(() => this.#forget(failedFile.id, false));
      await this.#upload(job, source.file);
    });
  }

  #retryWaiting(): void {
    for (const job of this.uploads) {
      const source = this.#sources.get(job.key);
      if (job.state !== 'waiting' || !source || source.autoRetries >= AUTO_RETRIES) continue;
      source.autoRetries++;
      this.retryUpload(job.key);
    }
  }

  /**
   * Resumes an interrupted upload with the file the person picked again. It must be the same
   * file, as this browser remembers it: same name, size and modification time. Other content
   * would be sealed under the same key and nonces as chunks the hosts already hold, which
   * AES-GCM must never do; so without that memory (another browser) there is no resuming.
   */
  async resume(fileId: string, file: File): Promise<void> {
    const summary = this.items.find((item) => item.id === fileId);
    if (!summary) return;
    const intent = await uploadStore.get(fileId);
    if (!intent) {
      this.#notices.error(`Could not resume ${summary.name}`, 'it can only be resumed in the browser that started it; delete it and upload the file again.', `resume:${fileId}`);
      return;
    }
    const same = file.size === summary.size && intent.name === file.name && intent.lastModified === file.lastModified;
    if (!same) {
      this.#notices.error(`Could not resume ${summary.name}`, 'that is not the same file (its size or date differs).', `resume:${fileId}`);
      return;
    }
    // The wrong file chosen first is forgotten once the right one is.
    this.#notices.clear(`resume:${fileId}`);
    const job = this.#newJob(file);
    job.state = 'resuming';
    this.#sources.set(job.key, { file, resumeOf: fileId, autoRetries: 0 });
    this.#enqueue(job, () => this.#resume(job, file, summary));
  }

  /** Takes a finished, failed or waiting upload off the tray. */
  dismissUpload(key: number): void {
    const job = this.uploads.find((item) => item.key === key);
    if (job && !['done', 'short', 'repairing', 'failed', 'waiting'].includes(job.state)) return;
    if (job?.fileId) this.#following.delete(job.fileId);
    this.#sources.delete(key);
    this.uploads = this.uploads.filter((item) => item.key !== key);
  }

  /** Takes every finished upload off the tray. */
  clearFinished(): void {
    for (const job of this.uploads) if (job.state === 'done') this.dismissUpload(job.key);
  }

  /**
   * Deletes a file, after a short time during which `undoRemove` brings it back: until then
   * it is only hidden here, and nothing is asked of the tracker.
   */
  remove(fileId: string): void {
    if (this.deleting[fileId] || !this.items.some((item) => item.id === fileId)) return;
    this.deleting[fileId] = true;
    this.#deleteTimers.set(
      fileId,
      setTimeout(() => void this.#commitRemove(fileId), UNDO_MS),
    );
  }

  undoRemove(fileId: string): void {
    clearTimeout(this.#deleteTimers.get(fileId));
    this.#deleteTimers.delete(fileId);
    delete this.deleting[fileId];
  }

  /** Carries out the deletions still waiting (the tab is closing). */
  flushRemovals(): void {
    for (const fileId of this.#deleteTimers.keys()) void this.#commitRemove(fileId);
  }

  async #commitRemove(fileId: string): Promise<void> {
    if (!this.#deleteTimers.has(fileId)) return;
    clearTimeout(this.#deleteTimers.get(fileId));
    this.#deleteTimers.delete(fileId);
    const name = this.labels.get(fileId) ?? 'the file';
    try {
      await this.#requireTracker().request('file:delete', { fileId });
      await this.#forget(fileId);
    } catch (error) {
      this.#notices.error(`Could not delete ${name}`, error);
    } finally {
      delete this.deleting[fileId];
    }
  }

  async download(fileId: string): Promise<void> {
    const summary = this.items.find((item) => item.id === fileId);
    const current = this.downloads[fileId];
    if (!summary || current?.state === 'downloading' || current?.state === 'locating') return;
    // User Timing marks: the benchmark reads them, and so can anyone in the browser's profiler.
    performance.mark('peercloud:download-start', { detail: fileId });
    // Marked as started before anything is awaited, so that a second click does nothing.
    this.downloads[fileId] = { fileId, name: summary.name, progress: current?.progress ?? 0, state: 'locating' };
    const job = this.downloads[fileId]!;
    try {
      const resumeAt = current?.state === 'interrupted' ? ((await downloadStore.get(fileId))?.next ?? 0) : 0;
      const wrapped = await fileKeyStore.get(fileId);
      if (!wrapped) throw new PeercloudError('NOT_FOUND', 'This browser does not have the key for this file. Import the recovery kit of the browser that uploaded it.');
      const key = await (await this.#openVault()).unwrapFileKey(wrapped);
      await this.#fetch(summary, key, job, resumeAt);
      job.state = 'done';
      job.progress = 1;
    } catch (error) {
      job.state = 'failed';
      job.error = describeError(error);
      await downloadStore.remove(fileId);
      this.#notices.error(`Could not download ${summary.name}`, error);
    }
  }

  // ─── Uploads ──────────────────────────────────────────────────────────────

  #newJob(file: File): UploadJob {
    this.uploads = [...this.uploads, { key: this.#nextKey++, name: file.name, size: file.size, progress: 0, state: 'queued', copiesStored: 0, retryable: true }];
    // The proxy Svelte made of it, so that changes show.
    return this.uploads.at(-1)!;
  }

  #enqueue(job: UploadJob, start: () => Promise<void>): void {
    this.#queue.push({ job, start });
    this.#pump();
  }

  #pump(): void {
    while (this.#running < PARALLEL_UPLOADS && this.#queue.length > 0) {
      const { job, start } = this.#queue.shift()!;
      this.#running++;
      void start()
        .catch((error: unknown) => {
          // For want of peers (or of the tracker) it waits, and goes again when that changes.
          const waiting = error instanceof PeercloudError && (error.code === 'NO_HOST' || error.code === 'OFFLINE');
          job.state = waiting ? 'waiting' : 'failed';
          job.retryable = !(error instanceof PeercloudError && error.code === 'INVALID');
          job.error = describeError(error);
          job.bytesPerSecond = job.secondsLeft = undefined;
          if (!waiting) console.warn('upload failed', error);
        })
        .finally(() => {
          this.#running--;
          this.#pump();
        });
    }
  }

  async #upload(job: UploadJob, file: File): Promise<void> {
    const name = FileName.safeParse(file.name);
    if (!name.success) throw new PeercloudError('INVALID', `This file name can’t be stored: it ${describeIssue(name.error)}. Rename the file and try again.`);
    const tracker = this.#requireTracker();
    const config = this.#session.config;
    if (!config) throw new PeercloudError('OFFLINE', 'Not connected to the tracker yet.');
    job.state = 'placing';
    const vault = await this.#openVault();
    const wrapped = await vault.wrap(await generateFileKey(), 'raw');
    const placed = await tracker.request('file:place', { name: file.name, size: file.size, chunkSize: config.chunkSize });
    const fileId = placed.file.id;
    await fileKeyStore.put(fileId, wrapped);
    await uploadStore.put({ fileId, name: file.name, size: file.size, lastModified: file.lastModified, chunkSize: config.chunkSize });
    await this.#follow(tracker, job, file, placed.file, await vault.unwrapFileKey(wrapped), []);
  }

  async #resume(job: UploadJob, file: File, summary: FileSummary): Promise<void> {
    const tracker = this.#requireTracker();
    // Not "0 %": how far it got is known once its hosts say where they stopped.
    job.state = 'resuming';
    const wrapped = await fileKeyStore.get(summary.id);
    if (!wrapped) throw new PeercloudError('NOT_FOUND', 'This browser does not have the key for this file: it can only be resumed where it was started.');
    const resumed = await tracker.request('file:resume', { fileId: summary.id });
    await this.#follow(tracker, job, file, resumed.file, await (await this.#openVault()).unwrapFileKey(wrapped), resumed.transferIds);
  }

  /** Streams to every host the tracker names for this file until the upload is over. */
  async #follow(tracker: TrackerClient, job: UploadJob, file: File, summary: FileSummary, key: CryptoKey, resumedTransfers: string[]): Promise<void> {
    const fileId = summary.id;
    const chunkSize = (await uploadStore.get(fileId))?.chunkSize ?? this.#session.config!.chunkSize;
    job.fileId = fileId;
    if (resumedTransfers.length === 0) job.state = 'uploading';
    job.copiesWanted = summary.replicas.wanted;
    this.#following.set(fileId, job);
    const copyBytes = storedSize(file.size, chunkSize);
    const finished = new Promise<void>((resolve) => {
      this.#uploads.set(fileId, { job, file, key, fileId, chunkSize, sealed: undefined, sent: new Map(), copyBytes, moved: 0, samples: [], unheard: new Set(resumedTransfers), finished: resolve });
    });
    this.#upsert(summary);
    const early = this.#early.filter((entry) => entry.offer.fileId === fileId);
    this.#early.splice(0, this.#early.length, ...this.#early.filter((entry) => entry.offer.fileId !== fileId && Date.now() - entry.at < EARLY_READY_MS));
    for (const { offer } of early) this.#ready(tracker, offer);
    const current = this.items.find((item) => item.id === fileId);
    if (current && current.state !== 'uploading') this.#upsert(current);
    await finished;
  }

  /**
   * A host is listening for one replica of an upload of ours. It says where to start (0, or
   * further on when it kept part of an interrupted upload); the chunks before that are sealed
   * again here only to recompute the root hash, and the rest are streamed.
   */
  async #push(tracker: TrackerClient, upload: Upload, offer: TransferOffer): Promise<void> {
    const link = this.#link(tracker, offer, true);
    const count = chunkCount(upload.file.size, upload.chunkSize);
    const root = new RootHash(count);
    const reader = new FileChunkReader(upload.file, upload.chunkSize, 0);
    const seal = async (index: number) => {
      const bytes = await sealChunk(upload.key, upload.fileId, index, count, await reader.read(index));
      const digest = await chunkDigest(bytes);
      root.set(index, digest);
      return { bytes, sha256: toHex(digest) };
    };
    const source: ChunkSource = { count, read: seal };
    try {
      await link.connected();
      const want = await link.nextControl();
      if (want.t !== 'want' || want.from > count) throw new TransferFailure('INTERNAL', 'The host did not say where to start.');
      // What the host kept of an interrupted upload counts as done from the start.
      const kept = want.from === 0 ? 0 : storedSize(Math.min(upload.file.size, want.from * upload.chunkSize), upload.chunkSize);
      this.#moved(upload, offer.transferId, kept, false);
      this.#heard(upload, offer.transferId);
      for (let index = 0; index < want.from; index++) await seal(index);
      const rootHex = () => root.hex();
      await sendChunks(link, source, {
        from: want.from,
        chunkSize: upload.chunkSize,
        root: rootHex,
        onProgress: (bytes) => this.#moved(upload, offer.transferId, kept + bytes, true),
      });
      // Every replica has the same sealed bytes (the nonce is the chunk index), so one seal serves all.
      const sealed = (upload.sealed ??= rootHex().then((sha) => this.#seal(tracker, upload.fileId, sha)));
      // A seal that failed is asked again by the next replica to finish, not remembered.
      sealed.catch(() => {
        if (upload.sealed === sealed) upload.sealed = undefined;
      });
      await sealed;
      link.close();
    } catch (error) {
      const failure = toFailure(error, link);
      // This copy starts again elsewhere, or not at all: its bytes no longer count.
      upload.sent.delete(offer.transferId);
      this.#heard(upload, offer.transferId);
      upload.lastFailure = TRANSFER_WORDS[failure.code];
      link.fail(failure.code, failure.message);
      if (failure.source !== 'tracker' && failure.source !== 'told') {
        // The file itself can't be read: no other host would do better, so the upload stops.
        const code = failure.source === 'self' && failure.code === 'STORAGE' ? 'CANCELLED' : failure.code;
        await tracker
          .request('transfer:fail', { transferId: offer.transferId, code, message: failure.message.slice(0, 500) })
          .catch((refusal: unknown) => this.#notices.debug('transfer:fail', refusal));
      }
    } finally {
      reader.cancel();
      this.#links.delete(link);
    }
  }

  /**
   * Records the file's root with the tracker, asking again while it is busy or slow. A seal
   * that fails in the end is the tracker's failure, not the host's: no host is blamed for it.
   */
  async #seal(tracker: TrackerClient, fileId: string, sha256: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await tracker.request('file:seal', { fileId, sha256 });
        return;
      } catch (error) {
        const passing = error instanceof PeercloudError && (error.code === 'RATE_LIMITED' || error.code === 'TIMEOUT');
        if (!passing || attempt + 1 >= SEAL_ATTEMPTS) {
          throw new TransferFailure('INTERNAL', `The tracker did not record the upload: ${describeError(error)}`, 'tracker');
        }
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)));
      }
    }
  }

  #ready(tracker: TrackerClient, offer: TransferOffer): void {
    if (offer.kind === 'fetch') {
      const waiter = this.#waiters.get(offer.transferId);
      this.#waiters.delete(offer.transferId);
      waiter?.resolve(offer);
      return;
    }
    if (offer.kind !== 'store' || offer.role !== 'sender') return;
    const upload = this.#uploads.get(offer.fileId);
    if (!upload) {
      // The answer to file:place or file:resume may still be on its way.
      this.#early.push({ offer, at: Date.now() });
      return;
    }
    void this.#push(tracker, upload, offer);
  }

  /**
   * A copy of an upload got further: `bytes` is what its host has now. The bar shows the share
   * of every wanted copy, never less than before; the speed counts only bytes that moved.
   */
  #moved(upload: Upload, transferId: string, bytes: number, sent: boolean): void {
    const before = upload.sent.get(transferId) ?? 0;
    upload.sent.set(transferId, bytes);
    const now = performance.now();
    if (sent) {
      upload.moved += Math.max(0, bytes - before);
      upload.samples = addSample(upload.samples, { at: now, bytes: upload.moved });
    } else if (upload.samples.length === 0) {
      upload.samples = [{ at: now, bytes: 0 }];
    }
    const job = upload.job;
    const wanted = job.copiesWanted ?? 1;
    const fraction = uploadFraction(upload.copyBytes, wanted, [...upload.sent.values()]);
    job.progress = forwardOnly(job.progress, fraction);
    job.bytesPerSecond = bytesPerSecond(upload.samples);
    job.secondsLeft = secondsLeft((1 - fraction) * upload.copyBytes * wanted, job.bytesPerSecond);
  }

  /** A resumed upload shows a percentage once every host it resumed with has said where it was. */
  #heard(upload: Upload, transferId: string): void {
    upload.unheard.delete(transferId);
    if (upload.unheard.size === 0 && upload.job.state === 'resuming') upload.job.state = 'uploading';
  }

  #ended(ended: TransferEnded): void {
    const waiter = this.#waiters.get(ended.transferId);
    if (waiter && !ended.ok) {
      this.#waiters.delete(ended.transferId);
      waiter.reject(new TransferFailure(ended.code, ended.message, 'tracker'));
    }
    const upload = this.#uploads.get(ended.fileId);
    if (upload && !ended.ok) {
      upload.sent.delete(ended.transferId);
      this.#heard(upload, ended.transferId);
      // In this page's words: the tracker's message may quote what the other peer said.
      upload.lastFailure = TRANSFER_WORDS[ended.code ?? 'INTERNAL'];
    }
  }

  #upsert(file: FileSummary): void {
    const at = this.items.findIndex((item) => item.id === file.id);
    if (at === -1) this.items = [file, ...this.items];
    else this.items[at] = file;
    const upload = this.#uploads.get(file.id);
    if (upload && file.state !== 'uploading') {
      this.#uploads.delete(file.id);
      if (file.state === 'failed') {
        upload.job.error = `No host could store it${upload.lastFailure ? `: ${upload.lastFailure}` : '.'} It will try again when another peer joins.`;
      }
      if (file.state === 'interrupted') upload.job.error = 'Interrupted: choose the file again in its row to resume.';
      upload.finished();
    }
    const job = this.#following.get(file.id);
    if (job) this.#track(job, file);
    if (file.state === 'stored' || file.state === 'failed') void uploadStore.remove(file.id);
  }

  /** The tray follows a file until all its copies exist: a repair the tracker starts later shows too. */
  #track(job: UploadJob, file: FileSummary): void {
    const { wanted, stored, repairing } = file.replicas;
    job.copiesWanted = wanted;
    job.copiesStored = stored;
    if (file.state === 'uploading') return;
    job.bytesPerSecond = job.secondsLeft = undefined;
    if (file.state === 'failed') {
      job.state = 'waiting';
      this.#following.delete(file.id);
    } else if (file.state === 'interrupted') {
      job.state = 'failed';
      this.#following.delete(file.id);
    } else if (stored >= wanted) {
      job.state = 'done';
      job.progress = 1;
      job.error = undefined;
      this.#following.delete(file.id);
    } else {
      job.state = repairing > 0 ? 'repairing' : 'short';
      job.progress = forwardOnly(job.progress, stored / Math.max(1, wanted));
    }
  }

  /** Ends an upload's job as failed, for a reason other than its file's state. */
  #abandon(upload: Upload, reason: string): void {
    this.#uploads.delete(upload.fileId);
    upload.job.state = 'failed';
    upload.job.error = reason;
    upload.finished();
  }

  /** The file is gone from the cloud: its row, its tray entries and what this browser kept of it go too. */
  async #forget(fileId: string, fromTray = true): Promise<void> {
    const upload = this.#uploads.get(fileId);
    if (upload) this.#abandon(upload, 'The file was deleted.');
    this.#following.delete(fileId);
    if (fromTray) {
      for (const job of this.uploads.filter((item) => item.fileId === fileId)) this.#sources.delete(job.key);
      this.uploads = this.uploads.filter((job) => job.fileId !== fileId);
    }
    this.items = this.items.filter((item) => item.id !== fileId);
    delete this.downloads[fileId];
    await Promise.all([fileKeyStore.remove(fileId), uploadStore.remove(fileId), downloadStore.remove(fileId)]);
  }

  // ─── Downloads ────────────────────────────────────────────────────────────

  async #fetch(summary: FileSummary, key: CryptoKey, job: DownloadJob, resumeAt: number): Promise<void> {
    const tracker = this.#requireTracker();
    const fileId = summary.id;
    const out = await openDownloadFile(fileId, { keep: resumeAt > 0 });
    let next = resumeAt;
    let count = Math.max(next + 1, 1);
    let lastError: unknown;
    try {
      for (let attempt = 0; attempt < DOWNLOAD_ATTEMPTS && next < count; attempt++) {
        job.state = 'locating';
        let offer: TransferOffer;
        let transferId: string;
        try {
          ({ transferId } = await tracker.request('file:locate', { fileId }));
          offer = await this.#waitReady(transferId);
        } catch (error) {
          // No online host, or the tracker refused: trying again won't help.
          if (error instanceof PeercloudError) throw error;
          lastError = error;
          continue;
        }
        count = chunkCount(offer.size, offer.chunkSize);
        const link = this.#link(tracker, offer, true);
        try {
          await link.connected();
          job.state = 'downloading';
          await link.sendControl({ t: 'want', from: next });
          await receiveChunks(
            link,
            {
              // A batch's chunks are opened and written side by side; `next` moves once all are on disk.
              write: async (chunks) => {
                await Promise.all(
                  chunks.map(async (chunk) => {
                    let plain: Uint8Array<ArrayBuffer>;
                    try {
                      plain = await openChunk(key, fileId, chunk.index, count, joinParts(chunk.parts, chunk.length));
                    } catch (error) {
                      if (error instanceof IntegrityError) throw new TransferFailure('INTEGRITY', error.message, 'self', chunk.index);
                      throw error;
                    }
                    await out.write(chunkRange(chunk.index, offer.size, offer.chunkSize).start, plain);
                  }),
                );
                next = chunks.at(-1)!.index + 1;
                job.progress = next / count;
                if (out.resumable) await downloadStore.put({ fileId, name: summary.name, next, count } satisfies DownloadProgress);
              },
            },
            {
              from: next,
              count,
              batchBytes: DOWNLOAD_BATCH_BYTES,
              // AES-GCM authenticates every chunk as it is opened: a hash on top would add nothing.
              verifyOnReceipt: false,
              expectedLength: (index) => sealedChunkSize(index, offer.size, offer.chunkSize),
              onFirstBytes: () => performance.mark('peercloud:download-first-byte', { detail: fileId }),
              onProgress: progressReporter(tracker, transferId, (error: unknown) => this.#notices.debug('transfer:progress', error)),
            },
          );
          await link.sendControl({ t: 'done' });
          link.close();
          await tracker.request('transfer:finish', { transferId });
        } catch (error) {
          lastError = error;
          const failure = toFailure(error, link);
          link.fail(failure.code, failure.message);
          if (failure.source !== 'tracker' && failure.source !== 'told') {
            await tracker
              .request('transfer:fail', { transferId, code: failure.code, message: failure.message.slice(0, 500), ...(failure.chunk !== undefined ? { chunk: failure.chunk } : {}) })
              .catch((refusal: unknown) => this.#notices.debug('transfer:fail', refusal));
          }
        } finally {
          this.#links.delete(link);
        }
      }
      if (next < count) throw lastError ?? new TransferFailure('INTERNAL', 'The download did not complete.');
      await out.save(summary.name);
      await downloadStore.remove(fileId);
    } catch (error) {
      await out.discard();
      throw error;
    }
  }

  #waitReady(transferId: string): Promise<TransferOffer> {
    return new Promise((resolve, reject) => this.#waiters.set(transferId, { resolve, reject }));
  }

  #link(tracker: TrackerClient, offer: TransferOffer, initiator: boolean): PeerLink {
    const link = new PeerLink({ transferId: offer.transferId, initiator, tracker, ...this.#session.linkSettings });
    this.#links.add(link);
    return link;
  }

  #openVault(): Promise<Vault> {
    this.#vault ??= Vault.open();
    return this.#vault;
  }

  #requireTracker(): TrackerClient {
    const tracker = this.#tracker;
    if (!tracker) throw new PeercloudError('OFFLINE', 'This tab is not the peer: another tab of this browser is.');
    return tracker;
  }
}

function toFailure(error: unknown, link: PeerLink): TransferFailure {
  if (error instanceof TransferFailure) return error;
  if (link.failure) return link.failure;
  return new TransferFailure('INTERNAL', error instanceof Error ? error.message : String(error));
}

