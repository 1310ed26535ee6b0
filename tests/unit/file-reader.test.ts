import { describe, expect, it } from 'vitest';
import { FileChunkReader } from '../../web/src/lib/transfer/file-reader.ts';

const CHUNK = 64 * 1024;
const fileOf = (size: number) => new File([Uint8Array.from({ length: size }, (_, at) => (at * 7 + (at >> 10)) & 0xff)], 'photo.jpg');

describe('reading a file chunk by chunk', () => {
  it('lends every chunk in order, the last one shorter, and resolves to what the borrower returns', async () => {
    const file = fileOf(3 * CHUNK + 1000);
    const whole = new Uint8Array(await file.arrayBuffer());
    const reader = new FileChunkReader(file, CHUNK, 0);
    // Asked for all at once (the upload reads ahead): served one after the other.
    const copies = await Promise.all([0, 1, 2, 3].map((index) => reader.readWith(index, (bytes) => bytes.slice())));
    expect(copies.map((bytes) => bytes.byteLength)).toEqual([CHUNK, CHUNK, CHUNK, 1000]);
    copies.forEach((bytes, index) => expect(Buffer.from(bytes).equals(whole.subarray(index * CHUNK, index * CHUNK + bytes.byteLength))).toBe(true));
    expect(reader.next).toBe(4);
  });

  it('reads the next chunk into the buffer it lent last: a borrower must be done when it returns', async () => {
    const reader = new FileChunkReader(fileOf(3 * CHUNK), CHUNK, 0);
    const kept: Uint8Array[] = [];
    for (let index = 0; index < 3; index++) await reader.readWith(index, (bytes) => kept.push(bytes));
    // The stream took each lent buffer over for the next read: what was kept is no longer the chunk.
    expect(kept[0]!.byteLength).toBe(0);
    expect(kept[2]!.byteLength).toBe(CHUNK);
  });

  it('starts where it is told, and refuses a chunk asked for out of order', async () => {
    const file = fileOf(3 * CHUNK);
    const reader = new FileChunkReader(file, CHUNK, 1);
    expect(await reader.readWith(1, (bytes) => bytes[0])).toBe(new Uint8Array(await file.arrayBuffer())[CHUNK]);
    await expect(reader.readWith(0, (bytes) => bytes)).rejects.toThrow(/out of order/);
  });
});
