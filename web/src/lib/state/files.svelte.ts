/**
 * The owner's files: the live list, uploads and downloads with their progress, deletion.
 *
 * An upload seals each chunk with the file's own key and streams it to every host the
 * tracker placed it on (the owner never learns which peers they are); the file is stored
 * once a host verified it. A download fetches sealed chunks from one online host, opens
 * them with the key kept here, writes them to disk as they come and, if its host goes
 * away, continues from the next missing chunk on another replica.
 */
import { chunkCount, chunkRange, sealedChunkSize } from '../../../../shared/chunking.ts';
import { PeercloudError } from '../../../../shared/errors.ts';
import type { FileSummary, TransferEnded, TransferOffer } from '../../../../shared/protocol.ts';
import { MiB } from '../../../../shared/units.ts';
import { generateFileKey, openChunk, RootHash, sealChunk, sha256, IntegrityError } from '../crypto/chunk-cipher.ts';
import { toHex } from '../../../../shared/encoding.ts';
import { PeerLink, TransferFailure } from '../net/peer-link.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import { fileKeyStore } from '../storage/browser-db.ts';
import { openDownloadFile, removeStaleDownloads } from '../storage/downloads.ts';
import { joinParts, receiveChunks, sendChunks, type ChunkSource } from '../transfer/chunk-stream.ts';
import { FileChunkReader } from '../transfer/file-reader.ts';
import { describeError, type Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

export interface UploadJob {
  key: number;
  name: string;
  size: number;
  fileId?: string;
  /** 0…1 */
  progress: number;
  state: 'queued' | 'placing' | 'uploading' | 'done' | 'failed';
  error?: string;
}

export interface DownloadJob {
  fileId: string;
  name: string;
  progress: number;
  state: 'locating' | 'downloading' | 'done' | 'failed';
  error?: string;
}

/** Uploads running at once; the rest wait their turn. */
const PARALLEL_UPLOADS = 2;
/** Downloads try this many hosts (or the same one again) before giving up. */
const DOWNLOAD_ATTEMPTS = 6;
const DOWNLOAD_BATCH_BYTES = 2 * MiB;

interface Upload {
  job: UploadJob;
  file: File;
  key: CryptoKey;
  fileId: string;
  chunkSize: number;
  sealed: Promise<void> | undefined;
  /** Acked bytes per transfer, for the progress bar. */
  sent: Map<string, number>;
  lastFailure?: string;
  finished: () => void;
}

type Waiter = { resolve: (offer: TransferOffer) => void; reject: (failure: TransferFailure) => void };

export class Files {
  items = $state<FileSummary[]>([]);
  uploads = $state<UploadJob[]>([]);
  downloads = $state<Record<string, DownloadJob>>({});
  loaded = $state(false);

  readonly #session: Session;
  readonly #notices: Notices;
  #tracker: TrackerClient | undefined;
  #nextKey = 1;
  readonly #queue: { job: UploadJob; file: File }[] = [];
  #running = 0;
  readonly #uploads = new Map<string, Upload>();
  /** `transfer:ready` for a file whose place answer hasn't arrived yet. */
  readonly #early: TransferOffer[] = [];
  readonly #waiters = new Map<string, Waiter>();
  readonly #links = new Set<PeerLink>();

  constructor(session: Session, notices: Notices) {
    this.#session = session;
    this.#notices = notices;
    session.whenPeer((tracker) => this.#start(tracker));
    session.whenStopped(() => {
      for (const link of this.#links) link.fail('CANCELLED', 'This tab is no longer the peer.');
      this.#tracker = undefined;
    });
  }

  async load(): Promise<void> {
    await removeStaleDownloads();
  }

  #start(tracker: TrackerClient): void {
    this.#tracker = tracker;
    tracker.onOnline(() => {
      this.refresh().catch((error: unknown) => this.#notices.error('Could not list your files', error));
    });
    tracker.on('file:updated', (file) => this.#upsert(file));
    tracker.on('file:removed', ({ fileId }) => {
      this.items = this.items.filter((item) => item.id !== fileId);
    });
    tracker.on('transfer:ready', (offer) => this.#ready(tracker, offer));
    tracker.on('transfer:ended', (ended) => this.#ended(ended));
  }

  async refresh(): Promise<void> {
    const { files } = await this.#requireTracker().request('file:list', {});
    this.items = files;
    this.loaded = true;
  }

  /** Queues files for upload; each gets its own job and progress bar. */
  upload(files: Iterable<File>): void {
    for (const file of files) {
      const job: UploadJob = { key: this.#nextKey++, name: file.name, size: file.size, progress: 0, state: 'queued' };
      this.uploads = [...this.uploads, job];
      this.#queue.push({ job: this.uploads.at(-1)!, file });
    }
    this.#pump();
  }

  dismissUpload(key: number): void {
    this.uploads = this.uploads.filter((job) => job.key !== key);
  }

  async remove(fileId: string): Promise<void> {
    try {
      await this.#requireTracker().request('file:delete', { fileId });
      this.items = this.items.filter((item) => item.id !== fileId);
      await fileKeyStore.remove(fileId);
    } catch (error) {
      this.#notices.error('Could not delete the file', error);
    }
  }

  async download(fileId: string): Promise<void> {
    const summary = this.items.find((item) => item.id === fileId);
    if (!summary || this.downloads[fileId]?.state === 'downloading' || this.downloads[fileId]?.state === 'locating') return;
    // User Timing marks: the benchmark reads them, and so can anyone in the browser's profiler.
    performance.mark('peercloud:download-start', { detail: fileId });
    this.downloads[fileId] = { fileId, name: summary.name, progress: 0, state: 'locating' };
    const job = this.downloads[fileId]!;
    try {
      const key = await fileKeyStore.get(fileId);
      if (!key) throw new PeercloudError('NOT_FOUND', 'This browser does not have the key for this file.');
      await this.#fetch(fileId, summary, key, job);
      job.state = 'done';
      job.progress = 1;
    } catch (error) {
      job.state = 'failed';
      job.error = describeError(error);
      this.#notices.error(`Could not download ${summary.name}`, error);
    }
  }

  // ─── Uploads ──────────────────────────────────────────────────────────────

  #pump(): void {
    while (this.#running < PARALLEL_UPLOADS && this.#queue.length > 0) {
      const { job, file } = this.#queue.shift()!;
      this.#running++;
      void this.#upload(job, file).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #upload(job: UploadJob, file: File): Promise<void> {
    try {
      const tracker = this.#requireTracker();
      const config = this.#session.config;
      if (!config) throw new PeercloudError('OFFLINE', 'Not connected to the tracker yet.');
      job.state = 'placing';
      const key = await generateFileKey();
      const placed = await tracker.request('file:place', { name: file.name, size: file.size, chunkSize: config.chunkSize });
      const fileId = placed.file.id;
      await fileKeyStore.put(fileId, key);
      job.fileId = fileId;
      job.state = 'uploading';
      this.#upsert(placed.file);
      const finished = new Promise<void>((resolve) => {
        this.#uploads.set(fileId, { job, file, key, fileId, chunkSize: config.chunkSize, sealed: undefined, sent: new Map(), finished: resolve });
      });
      const early = this.#early.filter((offer) => offer.fileId === fileId);
      this.#early.splice(0, this.#early.length, ...this.#early.filter((offer) => offer.fileId !== fileId));
      for (const offer of early) this.#ready(tracker, offer);
      const current = this.items.find((item) => item.id === fileId);
      if (current && current.state !== 'uploading') this.#upsert(current);
      await finished;
    } catch (error) {
      job.state = 'failed';
      job.error = describeError(error);
    }
  }

  /** A host is listening for one replica of an upload of ours: stream the sealed chunks to it. */
  async #push(tracker: TrackerClient, upload: Upload, offer: TransferOffer): Promise<void> {
    const link = this.#link(tracker, offer, true);
    const count = chunkCount(upload.file.size, upload.chunkSize);
    const root = new RootHash(count);
    const reader = new FileChunkReader(upload.file, upload.chunkSize, 0);
    const source: ChunkSource = {
      count,
      read: async (index) => {
        const bytes = await sealChunk(upload.key, upload.fileId, index, count, await reader.read(index));
        const digest = await sha256(bytes);
        root.set(index, digest);
        return { bytes, sha256: toHex(digest) };
      },
    };
    try {
      await link.connected();
      const rootHex = root.hex.bind(root);
      await sendChunks(link, source, {
        from: 0,
        chunkSize: upload.chunkSize,
        root: rootHex,
        onProgress: (bytes) => {
          upload.sent.set(offer.transferId, bytes);
          const total = [...upload.sent.values()].reduce((sum, value) => sum + value, 0);
          upload.job.progress = Math.min(1, total / (offer.bytes * Math.max(1, upload.sent.size)));
        },
      });
      // Every replica has the same sealed bytes (the nonce is the chunk index), so one seal serves all.
      upload.sealed ??= rootHex().then((sha) => tracker.request('file:seal', { fileId: upload.fileId, sha256: sha }).then(() => undefined));
      await upload.sealed;
      link.close();
    } catch (error) {
      const failure = toFailure(error, link);
      upload.lastFailure = failure.message;
      link.fail(failure.code, failure.message);
      await tracker
        .request('transfer:fail', { transferId: offer.transferId, code: failure.code, message: failure.message.slice(0, 500) })
        .catch((refusal: unknown) => this.#notices.debug('transfer:fail', refusal));
    } finally {
      reader.cancel();
      this.#links.delete(link);
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
      this.#early.push(offer);
      return;
    }
    void this.#push(tracker, upload, offer);
  }

  #ended(ended: TransferEnded): void {
    const waiter = this.#waiters.get(ended.transferId);
    if (waiter && !ended.ok) {
      this.#waiters.delete(ended.transferId);
      waiter.reject(new TransferFailure(ended.code ?? 'INTERNAL', ended.message));
    }
    const upload = this.#uploads.get(ended.fileId);
    if (upload && !ended.ok) upload.lastFailure = ended.message;
  }

  #upsert(file: FileSummary): void {
    const at = this.items.findIndex((item) => item.id === file.id);
    if (at === -1) this.items = [file, ...this.items];
    else this.items[at] = file;
    const upload = this.#uploads.get(file.id);
    if (upload && file.state !== 'uploading') {
      this.#uploads.delete(file.id);
      upload.job.state = file.state === 'stored' ? 'done' : 'failed';
      upload.job.progress = file.state === 'stored' ? 1 : upload.job.progress;
      if (file.state === 'failed') upload.job.error = `No host could store it${upload.lastFailure ? `: ${upload.lastFailure}` : '.'}`;
      upload.finished();
    }
  }

  // ─── Downloads ────────────────────────────────────────────────────────────

  async #fetch(fileId: string, summary: FileSummary, key: CryptoKey, job: DownloadJob): Promise<void> {
    const tracker = this.#requireTracker();
    const out = await openDownloadFile(fileId);
    let next = 0;
    let count = 1;
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
                      if (error instanceof IntegrityError) throw new TransferFailure('INTEGRITY', error.message);
                      throw error;
                    }
                    await out.write(chunkRange(chunk.index, offer.size, offer.chunkSize).start, plain);
                  }),
                );
                next = chunks.at(-1)!.index + 1;
                job.progress = next / count;
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
            },
          );
          await link.sendControl({ t: 'done' });
          link.close();
          await tracker.request('transfer:finish', { transferId });
        } catch (error) {
          lastError = error;
          const failure = toFailure(error, link);
          link.fail(failure.code, failure.message);
          await tracker
            .request('transfer:fail', { transferId, code: failure.code, message: failure.message.slice(0, 500) })
            .catch((refusal: unknown) => this.#notices.debug('transfer:fail', refusal));
        } finally {
          this.#links.delete(link);
        }
      }
      if (next < count) throw lastError ?? new TransferFailure('INTERNAL', 'The download did not complete.');
      await out.save(summary.name);
    } catch (error) {
      await out.discard();
      throw error;
    }
  }

  #waitReady(transferId: string): Promise<TransferOffer> {
    return new Promise((resolve, reject) => this.#waiters.set(transferId, { resolve, reject }));
  }

  #link(tracker: TrackerClient, offer: TransferOffer, initiator: boolean): PeerLink {
    const link = new PeerLink({ transferId: offer.transferId, initiator, tracker, iceServers: this.#session.config?.iceServers ?? [] });
    this.#links.add(link);
    return link;
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
