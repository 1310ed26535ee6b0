/**
 * Buffers of one length, given back when their bytes are spent and taken again for the next
 * ones. A transfer that allocated a fresh buffer per stripe and dropped it once sent left the
 * collector a dead MiB per stripe; V8 lets dead ArrayBuffers pile up to about 64 MiB above its
 * last full collection before it looks (its external memory limit), per page and per worker:
 * the owner's memory of an upload or a download was mostly buffers waiting to be collected
 * (docs/BENCHMARKS.md, "Fragments"). Reused, they are neither garbage nor allocated again.
 */
export class BufferPool {
  readonly #spare: ArrayBuffer[] = [];

  /** Buffers of `bytes` each; at most `keep` are kept aside between uses. */
  constructor(
    readonly bytes: number,
    private readonly keep: number,
  ) {}

  /** A buffer of `bytes` (the pool's length, or another: then a fresh one); its old contents are left in it. */
  take(bytes = this.bytes): Uint8Array<ArrayBuffer> {
    const spare = bytes === this.bytes ? this.#spare.pop() : undefined;
    return new Uint8Array(spare ?? new ArrayBuffer(bytes));
  }

  /** Gives a buffer back; the caller must not use it afterwards. Other lengths (and detached buffers) are left to the collector. */
  give(bytes: Uint8Array<ArrayBuffer>): void {
    const buffer = bytes.buffer;
    if (buffer.byteLength !== this.bytes || this.#spare.length >= this.keep || this.#spare.includes(buffer)) return;
    this.#spare.push(buffer);
  }

  /** Buffers kept aside now (for tests). */
  get spare(): number {
    return this.#spare.length;
  }
}
