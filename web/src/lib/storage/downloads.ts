/**
 * Downloads are written to the origin-private file system as chunks arrive, then handed to
 * the browser as an ordinary download of that on-disk file: the whole file is never one
 * Blob in memory, and a partly written download survives the transfer that wrote it.
 */
import { safeFileName } from '../../../../shared/safe-name.ts';

const PREFIX = 'peercloud-download-';

export interface DownloadFile {
  write(position: number, bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Closes the file and gives the browser a normal download of it under `name`. */
  save(name: string): Promise<void>;
  discard(): Promise<void>;
}

export async function openDownloadFile(fileId: string): Promise<DownloadFile> {
  const root = await navigator.storage.getDirectory();
  const entry = `${PREFIX}${fileId}`;
  const handle = await root.getFileHandle(entry, { create: true });
  const writable = await handle.createWritable({ keepExistingData: false });
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await writable.close();
    }
  };
  return {
    write: (position, bytes) => writable.write({ type: 'write', position, data: bytes }),
    async save(name) {
      await close();
      const file = await handle.getFile();
      const url = URL.createObjectURL(file);
      const link = document.createElement('a');
      link.href = url;
      link.download = safeFileName(name);
      link.rel = 'noopener';
      document.body.append(link);
      link.click();
      link.remove();
      // The browser copies the file in the background; give it time before the on-disk copy goes.
      setTimeout(() => {
        URL.revokeObjectURL(url);
        root.removeEntry(entry).catch(() => undefined);
      }, 10 * 60_000);
    },
    async discard() {
      await writable.abort().catch(() => undefined);
      closed = true;
      await root.removeEntry(entry).catch(() => undefined);
    },
  };
}

/** Removes downloads left half-written by a closed or reloaded page. */
export async function removeStaleDownloads(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) {
    if (name.startsWith(PREFIX)) await root.removeEntry(name).catch(() => undefined);
  }
}
