/**
 * Frees a dead buffer's memory now instead of at the collector's next full collection.
 *
 * WebCrypto's outputs, a data channel's messages and buffers handed over from a worker are made
 * by the browser, not by our code, so they cannot come from a BufferPool (buffer-pool.ts); dead,
 * each waits for V8 to collect it, and V8 lets tens of MiB of them pile up first (its
 * external-memory limit). Transferring one through a MessagePort whose other end is closed
 * frees it at once: the HTML standard's "message port post message steps" serialize with
 * transfer (detaching the buffer and taking its bytes) before they check the target, and a
 * message for a closed port is dropped with its bytes. Measured in Chromium 156
 * (bench/buffer-garbage.ts, 150 sealed MiB): the renderer grew +5.3 MiB with this, +52.6 MiB
 * leaving the outputs to the collector. `ArrayBuffer.prototype.transfer(0)` does not do it for
 * such buffers: it detaches V8's object, but Blink's own reference keeps the bytes until the
 * collection all the same, now uncounted (+148.5 MiB).
 *
 * The caller must hold the only use of the buffer: afterwards it is detached (length 0), and a
 * view of it reads as empty. A buffer that cannot be transferred (a Node Buffer's shared pool,
 * in tests) is left to the collector, as before.
 */

let sink: MessagePort | undefined;

/** Frees `bytes`' buffer if the view spans all of it (a view of part of a buffer frees nothing); true if it did. */
export function freeBuffer(bytes: ArrayBuffer | ArrayBufferView): boolean {
  const buffer = ArrayBuffer.isView(bytes) ? bytes.buffer : bytes;
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return false;
  if (ArrayBuffer.isView(bytes) && (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength)) return false;
  if (typeof MessageChannel === 'undefined') return false;
  if (!sink) {
    const channel = new MessageChannel();
    channel.port2.close();
    sink = channel.port1;
  }
  try {
    sink.postMessage(null, [buffer]);
  } catch (error) {
    // DataCloneError: a buffer that may not be transferred; the collector frees it in time.
    if (error instanceof DOMException && error.name === 'DataCloneError') return false;
    throw error;
  }
  if (buffer.byteLength === 0) return true;
  // Not detached (a browser that drops a closed port's messages before serializing them): a
  // fresh port for the next one; this buffer goes to the collector.
  sink = undefined;
  return false;
}
