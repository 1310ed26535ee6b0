/**
 * Reads a File chunk by chunk, in order, from a byte stream: several times cheaper than one
 * `slice().arrayBuffer()` per chunk (each slice is a round trip to the browser process), and
 * on a CPU-bound channel the cycles saved are throughput. Calls may overlap (read-ahead);
 * they are served one after the other.
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

  constructor(file: File, chunkSize: number, from: number) {
    this.#file = file;
    this.#chunkSize = chunkSize;
    this.#next = from;
    this.#asked = from;
  }

  /** The only chunk `read` can be asked for next. */
  get next(): number {
    return this.#asked;
  }

  /** The plaintext of chunk `index`; chunks must be asked for in order. */
  read(index: number): Promise<Uint8Array<ArrayBuffer>> {
    if (index === this.#asked) this.#asked++;
    const result = this.#queue.then(() => this.#read(index));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  cancel(): void {
    this.#reader?.cancel().catch((error: unknown) => console.debug('file reader cancel', error));
  }

  async #read(index: number): Promise<Uint8Array<ArrayBuffer>> {
    if (index !== this.#next) throw new Error(`chunk ${index} asked for out of order (expected ${this.#next})`);
    const { start, end } = chunkRange(index, this.#file.size, this.#chunkSize);
    let buffer = new Uint8Array(end - start);
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
