/**
 * The owner's files: the live list, the upload queue and tray, downloads with their progress,
 * deletion, and resuming what a reload or a lost host interrupted.
 *
 * The protocols themselves are plain modules this class calls: upload/upload-run.ts (seal,
 * cut in fragments, push to every host the tracker placed, seal the roots) and
 * download/download.ts (k hosts at once, stripe by stripe, to disk). The owner never learns
 * which peers hold its file. Stores, links and the coder are passed in.
 */
import { storedSize } from '../../../../shared/chunking.ts';
import { PeercloudError } from '../../../../shared/errors.ts';
import { isOlderSummary, mergeListing } from '../../../../shared/file-summary-order.ts';
import { describeIssue, FileName, type FileSummary, type TransferEnded, type TransferOffer } from '../../../../shared/protocol.ts';
import { fragmentBytes } from '../../../../shared/redundancy.ts';
import { generateFileKey } from '../crypto/chunk-cipher.ts';
import { Vault } from '../crypto/vault.ts';
import { download as runDownload } from '../download/download.ts';
import type { StripeCoder } from '../erasure/stripe-coder.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import type { downloadStore, fileKeyStore, uploadStore } from '../storage/browser-db.ts';
import type { DownloadFile } from '../storage/downloads.ts';
import { othersOnline } from '../leaving.ts';
import { distinctLabels } from '../names.ts';
import { addSample, bytesPerSecond, forwardOnly, secondsLeft, uploadFraction, type RateSample } from '../progress.ts';
import { TransferFailure } from '../transfer/link.ts';
import { LinkPool } from '../transfer/link-pool.ts';
import { UploadRun } from '../upload/upload-run.ts';
import { describeError, TRANSFER_WORDS, transferWords } from '../error-words.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

/** Where the owner's side keeps things: passed in by the page (App.svelte). */
export interface FileStores {
  keys: typeof fileKeyStore;
  uploads: typeof uploadStore;
  downloads: typeof downloadStore;
  /** A file being downloaded, on disk (kept from a previous attempt when `keep`). */
  openDownload(fileId: string, options: { keep: boolean }): Promise<DownloadFile>;
  /** Removes what downloads left on disk, but for those that can resume. */
  removeStaleDownloads(resumable: Set<string>): Promise<void>;
  coder: StripeCoder;
}

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
  /** Copies (or fragments) wanted and stored. */
  copiesWanted?: number;
  copiesStored: number;
  /** For a file kept in fragments: how many of them read it (undefined: whole copies). */
  needed?: number;
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
/** A `transfer:ready` for an upload whose answer hasn't arrived is kept this long at most. */
const EARLY_READY_MS = 60_000;
/** How long a deleted file can be brought back before the tracker is told. */
export const UNDO_MS = 8_000;
/** Retries an upload waiting for peers makes by itself (one per peer joining). */
const AUTO_RETRIES = 5;

interface Upload {
  job: UploadJob;
  fileId: string;
  run: UploadRun;
  /** Bytes each fragment under way or done has got (a resumed one counts what its host had). */
  sent: Map<string, number>;
  /** One fragment's size (a whole copy's, sealed, when k = 1). */
  copyBytes: number;
  /** Bytes moved since the upload started (what the speed is measured on). */
  moved: number;
  samples: RateSample[];
  /** A resume's transfers whose host has not said yet how much it kept: the bar waits for them all. */
  unheard: Set<string>;
  /** Why the last fragment failed, in words; kept from this page when it noticed the failure itself. */
  lastFailure?: string;
  /** Transfers whose failure this page noticed and put into words: the tracker's later notice says no more. */
  failedHere: Set<string>;
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
  #links: LinkPool | undefined;
  readonly #stores: FileStores;
  /** Jobs in the tray that still follow their file's copies, by file id. */
  readonly #following = new Map<string, UploadJob>();
  readonly #sources = new Map<number, JobSource>();
  readonly #deleteTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #othersOnline = 0;

  constructor(session: Session, notices: Notices, stores: FileStores) {
    this.#session = session;
    this.#notices = notices;
    this.#stores = stores;
    session.whenPeer((tracker) => this.#start(tracker));
    session.whenStopped(() => {
      const reason = 'This tab is no longer the peer.';
      this.#links?.failAll(reason);
      this.#links = undefined;
      for (const upload of this.#uploads.values()) this.#abandon(upload, reason);
      for (const waiter of this.#waiters.values()) waiter.reject(new TransferFailure('CANCELLED', reason, 'tracker'));
      this.#waiters.clear();
      this.#tracker = undefined;
    });
  }

  /** Downloads a reload interrupted are offered for resuming; any other leftover goes. */
  async load(): Promise<void> {
    const interrupted = await this.#stores.downloads.all();
    await this.#stores.removeStaleDownloads(new Set(interrupted.map((progress) => progress.fileId)));
    for (const progress of interrupted) {
      this.downloads[progress.fileId] = { fileId: progress.fileId, name: progress.name, progress: progress.next / progress.count, state: 'interrupted' };
    }
  }

  #start(tracker: TrackerClient): void {
    this.#tracker = tracker;
    this.#links = new LinkPool(tracker, () => this.#session.linkSettings);
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
    tracker.on('transfer:ready', (offer) => this.#ready(offer));
    tracker.on('transfer:ended', (ended) => this.#ended(ended));
  }

  async refresh(): Promise<void> {
    const { files } = await this.#requireTracker().request('file:list', {});
    this.items = mergeListing(files, this.items);
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
    for (const intent of await this.#stores.uploads.all()) {
      const file = files.find((item) => item.id === intent.fileId);
      if (!file || file.state === 'stored' || file.state === 'failed') await this.#stores.uploads.remove(intent.fileId);
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
    const intent = await this.#stores.uploads.get(fileId);
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
      const resumeAt = current?.state === 'interrupted' ? ((await this.#stores.downloads.get(fileId))?.next ?? 0) : 0;
      const wrapped = await this.#stores.keys.get(fileId);
      if (!wrapped) throw new PeercloudError('NOT_FOUND', 'This browser does not have the key for this file. Import the recovery kit of the browser that uploaded it.');
      const key = await (await this.#openVault()).unwrapFileKey(wrapped);
      await this.#fetch(summary, key, job, resumeAt);
      job.state = 'done';
      job.progress = 1;
    } catch (error) {
      job.state = 'failed';
      job.error = describeError(error);
      await this.#stores.downloads.remove(fileId);
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
    await this.#stores.keys.put(fileId, wrapped);
    await this.#stores.uploads.put({ fileId, name: file.name, size: file.size, lastModified: file.lastModified, chunkSize: config.chunkSize });
    await this.#follow(tracker, job, file, placed.file, await vault.unwrapFileKey(wrapped), []);
  }

  async #resume(job: UploadJob, file: File, summary: FileSummary): Promise<void> {
    const tracker = this.#requireTracker();
    // Not "0 %": how far it got is known once its hosts say where they stopped.
    job.state = 'resuming';
    const wrapped = await this.#stores.keys.get(summary.id);
    if (!wrapped) throw new PeercloudError('NOT_FOUND', 'This browser does not have the key for this file: it can only be resumed where it was started.');
    const resumed = await tracker.request('file:resume', { fileId: summary.id });
    await this.#follow(tracker, job, file, resumed.file, await (await this.#openVault()).unwrapFileKey(wrapped), resumed.transferIds);
  }

  /** Streams to every host the tracker names for this file until the upload is over. */
  async #follow(tracker: TrackerClient, job: UploadJob, file: File, summary: FileSummary, key: CryptoKey, resumedTransfers: string[]): Promise<void> {
    const fileId = summary.id;
    const chunkSize = (await this.#stores.uploads.get(fileId))?.chunkSize ?? this.#session.config!.chunkSize;
    const { k, n } = summary.scheme;
    job.fileId = fileId;
    if (resumedTransfers.length === 0) job.state = 'uploading';
    job.copiesWanted = summary.replicas.wanted;
    job.needed = k > 1 ? k : undefined;
    this.#following.set(fileId, job);
    const links = this.#links!;
    const finished = new Promise<void>((resolve) => {
      const upload: Upload = {
        job,
        fileId,
        run: new UploadRun(
          { file, key, fileId, chunkSize, k, n },
          {
            tracker,
            openLink: links.open,
            coder: this.#stores.coder,
            events: {
              moved: (transferId, bytes, sent) => this.#moved(upload, transferId, bytes, sent),
              heard: (transferId) => this.#heard(upload, transferId),
              failed: (transferId, failure) => {
                // This fragment starts again elsewhere, or not at all: its bytes no longer count.
                upload.sent.delete(transferId);
                this.#heard(upload, transferId);
                upload.failedHere.add(transferId);
                upload.lastFailure = transferWords(failure);
              },
              debug: (context, detail) => this.#notices.debug(context, detail),
            },
          },
        ),
        sent: new Map(),
        copyBytes: k === 1 ? storedSize(file.size, chunkSize) : fragmentBytes(file.size, chunkSize, k),
        moved: 0,
        samples: [],
        unheard: new Set(resumedTransfers),
        failedHere: new Set(),
        finished: () => {
          upload.run.cancel();
          resolve();
        },
      };
      this.#uploads.set(fileId, upload);
    });
    this.#upsert(summary);
    const early = this.#early.filter((entry) => entry.offer.fileId === fileId);
    this.#early.splice(0, this.#early.length, ...this.#early.filter((entry) => entry.offer.fileId !== fileId && Date.now() - entry.at < EARLY_READY_MS));
    for (const { offer } of early) this.#ready(offer);
    const current = this.items.find((item) => item.id === fileId);
    if (current && current.state !== 'uploading') this.#upsert(current);
    await finished;
  }

  #ready(offer: TransferOffer): void {
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
    void upload.run.push(offer);
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
      if (!upload.failedHere.has(ended.transferId)) upload.lastFailure = TRANSFER_WORDS[ended.code ?? 'INTERNAL'];
    }
  }

  #upsert(file: FileSummary): void {
    const at = this.items.findIndex((item) => item.id === file.id);
    // Read before the one the page has (another tracker's, crossing it on the way): not the file as it is.
    if (at !== -1 && isOlderSummary(file, this.items[at]!)) return;
    if (at === -1) this.items = [file, ...this.items];
    else this.items[at] = file;
    const upload = this.#uploads.get(file.id);
    if (upload && file.state !== 'uploading') {
      this.#uploads.delete(file.id);
      if (file.state === 'failed') {
        upload.job.error = `No host could store it${upload.lastFailure ? `: ${upload.lastFailure.replace(/\.$/, '')}.` : '.'} It will try again when another peer joins.`;
      }
      if (file.state === 'interrupted') upload.job.error = 'Interrupted: choose the file again in its row to resume.';
      upload.finished();
    }
    const job = this.#following.get(file.id);
    if (job) this.#track(job, file);
    if (file.state === 'stored' || file.state === 'failed') void this.#stores.uploads.remove(file.id);
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
    await Promise.all([this.#stores.keys.remove(fileId), this.#stores.uploads.remove(fileId), this.#stores.downloads.remove(fileId)]);
  }

  // ─── Downloads ────────────────────────────────────────────────────────────

  async #fetch(summary: FileSummary, key: CryptoKey, job: DownloadJob, resumeAt: number): Promise<void> {
    const tracker = this.#requireTracker();
    const fileId = summary.id;
    const out = await this.#stores.openDownload(fileId, { keep: resumeAt > 0 });
    try {
      await runDownload(fileId, key, resumeAt, {
        tracker,
        openLink: this.#links!.open,
        coder: this.#stores.coder,
        ready: (transferId) => this.#waitReady(transferId),
        out,
        events: {
          progress: async (next, count) => {
            job.progress = next / count;
            if (out.resumable) await this.#stores.downloads.put({ fileId, name: summary.name, next, count });
          },
          firstBytes: () => performance.mark('peercloud:download-first-byte', { detail: fileId }),
          downloading: () => (job.state = 'downloading'),
          debug: (context, detail) => this.#notices.debug(context, detail),
        },
      });
      await out.save(summary.name);
      await this.#stores.downloads.remove(fileId);
    } catch (error) {
      await out.discard();
      throw error;
    }
  }

  #waitReady(transferId: string): Promise<TransferOffer> {
    return new Promise((resolve, reject) => this.#waiters.set(transferId, { resolve, reject }));
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
