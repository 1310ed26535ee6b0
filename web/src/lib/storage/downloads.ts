/**
 * Downloads are written to the origin-private file system as chunks arrive, then handed to
 * the browser as an ordinary download of that on-disk file: the whole file is never one
 * Blob in memory, and a partly written download survives the transfer that wrote it.
 */
import { safeFileName } from '../../../../shared/safe-name.ts';
import type { WorkerReply, WorkerRequest } from './download-protocol.ts';

const PREFIX = 'peercloud-download-';
/** Finished downloads still on disk here, and when the browser was handed each one. */
const handedOver = new Map<string, number>();
const HANDOVER_MS = 10_000;

export interface DownloadFile {
  /**
   * Whether what `write` resolved for is in the file even if the page goes away: so with a
   * synchronous access handle, not with a writable stream (its swap file is dropped unless
   * closed). Only then is progress worth remembering for a resume after a reload.
   */
  readonly resumable: boolean;
  write(position: number, bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Closes the file and gives the browser a normal download of it under `name`. */
  save(name: string): Promise<void>;
  discard(): Promise<void>;
}

/** Opens the on-disk file of a download; `keep` continues one a reload interrupted. */
export async function openDownloadFile(fileId: string, { keep }: { keep: boolean }): Promise<DownloadFile> {
  const root = await navigator.storage.getDirectory();
  const entry = `${PREFIX}${fileId}`;
  for (const [old, at] of handedOver) {
    if (Date.now() - at < HANDOVER_MS || old === entry) continue;
    handedOver.delete(old);
    await removeQuietly(root, old);
  }
  const writer = await WorkerWriter.open(entry, keep).catch((error: unknown) => {
    console.debug('no synchronous access handles here; writing through a stream', error);
    return undefined;
  });
  const fallback = writer ? undefined : await (await root.getFileHandle(entry, { create: true })).createWritable({ keepExistingData: keep });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (writer) await writer.close();
    else await fallback!.close();
  };
  return {
    resumable: writer !== undefined,
    // Where the browser has no synchronous access handles, a writable stream does the same, slower.
    write: (position, bytes) => (writer ? writer.write(position, bytes) : fallback!.write({ type: 'write', position, data: bytes })),
    async save(name) {
      await close();
      const file = await (await root.getFileHandle(entry)).getFile();
      // The browser copies the file in the background; give it time before our copy goes (at the
      // latest when another download starts 10 s later: a browser keeps little room per site, and
      // copies even a large file to the downloads folder in a few seconds).
      offerDownload(file, name, 10 * 60_000, () => void removeQuietly(root, entry));
      handedOver.set(entry, Date.now());
    },
    async discard() {
      if (writer) await writer.close().catch(() => undefined);
      else await fallback!.abort().catch(() => undefined);
      closed = true;
      await removeQuietly(root, entry);
    },
  };
}

/** The worker that owns the file while it is written; each call resolves once the worker did it. */
class WorkerWriter {
  readonly #worker = new Worker(new URL('./download-worker.ts', import.meta.url), { type: 'module' });
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  #next = 1;

  private constructor() {
    this.#worker.onmessage = ({ data: reply }: MessageEvent<WorkerReply>) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) pending?.resolve();
      else pending?.reject(new Error(reply.message));
    };
  }

  static async open(name: string, keep: boolean): Promise<WorkerWriter> {
    const writer = new WorkerWriter();
    try {
      await writer.#call({ type: 'open', name, keep });
      return writer;
    } catch (error) {
      writer.#worker.terminate();
      throw error;
    }
  }

  /** Hands the bytes over (transferred, not copied): the caller must not use them afterwards. */
  write(position: number, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    const buffer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
    return this.#call({ type: 'write', position, buffer }, [buffer]);
  }

  async close(): Promise<void> {
    try {
      await this.#call({ type: 'close' });
    } finally {
      this.#worker.terminate();
    }
  }

  #call(request: DistributiveOmit<WorkerRequest, 'id'>, transfer: Transferable[] = []): Promise<void> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id }, transfer);
    });
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Best effort: the entry may already be gone, and a leftover is cleaned at the next start. */
async function removeQuietly(root: FileSystemDirectoryHandle, entry: string): Promise<void> {
  await root.removeEntry(entry).catch((error: unknown) => console.debug('could not remove', entry, error));
}

/**
 * Hands a Blob (a file on disk, for downloads) to the browser as a normal download, saved under
 * a safe version of `name`. `keepMs` later, the URL is revoked and `after` runs.
 */
export function offerDownload(blob: Blob, name: string, keepMs = 60_000, after?: () => void): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = safeFileName(name);
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    after?.();
  }, keepMs);
}

/** Removes downloads left on disk, but those of `resumable` (interrupted by a reload, to continue). */
export async function removeStaleDownloads(resumable: Set<string>): Promise<void> {
  const root = await navigator.storage.getDirectory();
  for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) {
    if (name.startsWith(PREFIX) && !resumable.has(name.slice(PREFIX.length))) await removeQuietly(root, name);
  }
}
