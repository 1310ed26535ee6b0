/**
 * How a file is cut. A file of `size` bytes is `chunkCount` chunks of `chunkSize`
 * plaintext bytes (the last one shorter). Each chunk is sealed on its own with AES-GCM,
 * which adds a 16-byte tag, so what a host stores is a little larger than the file.
 * An empty file still has one (empty) chunk, so that its emptiness is authenticated too.
 */
export const SEAL_OVERHEAD = 16;

export const MIN_CHUNK_SIZE = 16 * 1024;
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;

export function chunkCount(size: number, chunkSize: number): number {
  return size === 0 ? 1 : Math.ceil(size / chunkSize);
}

/** The plaintext byte range [start, end) of one chunk. */
export function chunkRange(index: number, size: number, chunkSize: number): { start: number; end: number } {
  const start = index * chunkSize;
  return { start, end: Math.min(size, start + chunkSize) };
}

export function sealedChunkSize(index: number, size: number, chunkSize: number): number {
  const { start, end } = chunkRange(index, size, chunkSize);
  return end - start + SEAL_OVERHEAD;
}

/** Bytes one replica of the file occupies on a host. */
export function storedSize(size: number, chunkSize: number): number {
  return size + chunkCount(size, chunkSize) * SEAL_OVERHEAD;
}
