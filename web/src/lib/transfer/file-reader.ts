/**
 * Reads a File chunk by chunk, in order, from a byte stream: several times cheaper than one
 * `slice().arrayBuffer()` per chunk (each slice is a round trip to the browser process), and
 * on a CPU-bound channel the cycles saved are throughput. Calls may overlap (read-ahead);
 * they are served one after the other.
 *
 * `readWith` lends the chunk to a function and takes the buffer back for the next chunk: one
 * buffer for the whole file instead of a fresh one per chunk. A fresh MiB costs far more than
 * its copy (in Chromium here, allocating and filling 1 MiB took about 8 ms against well under
 * one for refilling a buffer already in use, docs/BENCHMARKS.md), and the owner reads every
 * chunk once per upload.
 */
import { chunkRange } from '../../../../shared/chunking.ts';
import { TransferFailure } from './link.ts';

export class FileChunkReader {
  readonly #file: File;
  readonly #chunkSize: number;
  #reader: ReadableStreamBYOBReader | undefined;
  #next: number;
  /** The chunk after the last one asked for (reads are served one after the other). */
  #asked: number;
  #queue: Promise<unknown> = Promise.resolve();
  /** The buffer the last lent chunk was read into, for the next one of the same size. */
  #spare: ArrayBuffer | undefined;

  constructor(file: File, chunkSize: number, from: number) {
    this.#file = file;
    this.#chunkSize = chunkSize;
    this.#next = from;
    this.#asked = from;
  }

  /** The only chunk `readWith` can be asked for next (chunks are asked for in order). */
  get next(): number {
    return this.#asked;
  }

  /**
   * Chunk `index` handed to `use`, whose result this resolves to. The bytes are lent: `use` must
   * be done with them when it returns (WebCrypto's `encrypt` copies its input when called, so
   * starting a seal is done with them), as the next chunk is read into the same buffer.
   */
  readWith<T>(index: number, use: (plaintext: Uint8Array<ArrayBuffer>) => T): Promise<T> {
    if (index === this.#asked) this.#asked++;
    const result = this.#queue.then(async () => {
      const bytes = await this.#read(index);
      try {
        return use(bytes);
      } finally {
        this.#spare = bytes.buffer;
      }
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  cancel(): void {
    this.#reader?.cancel().catch((error: unknown) => console.debug('file reader cancel', error));
  }

  async #read(index: number): Promise<Uint8Array<ArrayBuffer>> {
    if (index !== this.#next) throw new Error(`chunk ${index} asked for out of order (expected ${this.#next})`);
    const { start, end } = chunkRange(index, this.#file.size, this.#chunkSize);
    const spare = this.#spare?.byteLength === end - start ? this.#spare : undefined;
    this.#spare = undefined;
    let buffer = spare ? new Uint8Array(spare) : new Uint8Array(end - start);
    if (buffer.byteLength === 0) {
      // An empty file's one chunk: nothing to read (a BYOB read needs a non-empty view).
      this.#next++;
      return buffer;
    }
    this.#reader ??= this.#file.slice(start).stream().getReader({ mode: 'byob' });
    let filled = 0;
    try {
      while (filled < buffer.byteLength) {
        const { done, value } = await this.#reader.read(buffer.subarray(filled));
        if (done || !value) throw new Error('the file ended early');
        filled += value.byteLength;
        buffer = new Uint8Array(value.buffer);
      }
    } catch (error) {
      throw new TransferFailure('STORAGE', `The file could not be read (was it changed or moved?): ${error instanceof Error ? error.message : String(error)}`);
    }
    this.#next++;
    return buffer;
  }
}
