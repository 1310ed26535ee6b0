/**
 * Writes a download to the origin-private file system through a synchronous access handle:
 * in place, with no swap file and no copy per write, which costs a fraction of the CPU of
 * `createWritable()` (and the page's main thread none). Only this worker touches the file
 * while it is open; the page hands it decrypted chunks by transfer, without copying them.
 */
import { freeBuffer } from '../transfer/free-buffer.ts';
import type { WorkerReply, WorkerRequest } from './download-protocol.ts';

interface SyncAccessHandle {
  write(buffer: ArrayBufferView, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

const scope = self as unknown as { onmessage: (event: MessageEvent<WorkerRequest>) => void; postMessage(reply: WorkerReply, transfer?: Transferable[]): void };
let handle: SyncAccessHandle | undefined;

scope.onmessage = async ({ data: request }) => {
  try {
    switch (request.type) {
      case 'open': {
        const root = await navigator.storage.getDirectory();
        const file = await root.getFileHandle(request.name, { create: true });
        handle = await (file as unknown as { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle();
        // A resumed download keeps what it wrote before; chunks land at their own offsets.
        if (!request.keep) handle.truncate(0);
        break;
      }
      case 'write':
        if (!handle) throw new Error('no file is open');
        handle.write(new Uint8Array(request.buffer), { at: request.position });
        // Written (the write is synchronous): freed now. Left to the collector, dead buffers would
        // pile up here to V8's external-memory limit, this worker allocating so little; handed
        // back to the page, they did the same there (transfer/free-buffer.ts).
        freeBuffer(request.buffer);
        break;
      case 'close':
        handle?.flush();
        handle?.close();
        handle = undefined;
        break;
    }
    scope.postMessage({ id: request.id, ok: true });
  } catch (error) {
    scope.postMessage({ id: request.id, ok: false, message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
};
