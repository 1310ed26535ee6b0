/** Messages between the page and its download-writing worker. */
export type WorkerRequest =
  | { id: number; type: 'open'; name: string; keep: boolean }
  | { id: number; type: 'write'; position: number; buffer: ArrayBuffer }
  | { id: number; type: 'close' };

/** A write's buffer is freed in the worker once written (transfer/free-buffer.ts), not handed back. */
export type WorkerReply = { id: number; ok: true } | { id: number; ok: false; message: string };
