/** Messages between the page and its download-writing worker. */
export type WorkerRequest =
  | { id: number; type: 'open'; name: string; keep: boolean }
  | { id: number; type: 'write'; position: number; buffer: ArrayBuffer }
  | { id: number; type: 'close' };

/** A write's reply hands its buffer back (transferred): dead there, it would wait for a worker that allocates almost nothing to collect it. */
export type WorkerReply = { id: number; ok: true; buffer?: ArrayBuffer } | { id: number; ok: false; message: string };
