import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AUDIT_BLOCK_BYTES, blockCount, blockLength, merkle, type Hash } from '../../shared/merkle.ts';

const hash: Hash = async (parts) => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
};
const tree = merkle(hash);

/** The same trees written out by hand, for known answers. */
const H = (...parts: (number | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const part of parts) h.update(typeof part === 'number' ? Uint8Array.of(part) : part);
  return new Uint8Array(h.digest());
};

/** Distinct bytes everywhere (a periodic pattern would make blocks equal and hide order mistakes). */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0, counter = 0; at < length; at += 32, counter++) out.set(H(seed, Uint8Array.of(counter & 0xff, (counter >> 8) & 0xff, counter >> 16)).subarray(0, Math.min(32, length - at)), at);
  return out;
}

describe('chunk digests and file roots', () => {
  it('hash blocks, then pairs, splitting at the largest power of two', async () => {
    const one = bytes(100, 1);
    expect(await tree.chunkDigest(one)).toEqual(H(0, one));
    const two = bytes(AUDIT_BLOCK_BYTES + 5, 2);
    const [a, b] = [two.subarray(0, AUDIT_BLOCK_BYTES), two.subarray(AUDIT_BLOCK_BYTES)];
    expect(await tree.chunkDigest(two)).toEqual(H(1, H(0, a), H(0, b)));
    const three = bytes(2 * AUDIT_BLOCK_BYTES + 1, 3);
    const [x, y, z] = [0, 1, 2].map((k) => three.subarray(k * AUDIT_BLOCK_BYTES, (k + 1) * AUDIT_BLOCK_BYTES));
    expect(await tree.chunkDigest(three)).toEqual(H(1, H(1, H(0, x!), H(0, y!)), H(0, z!)));

    const d = [bytes(32, 4), bytes(32, 5), bytes(32, 6)];
    expect(await tree.fileRoot(d.slice(0, 1))).toEqual(d[0]);
    expect(await tree.fileRoot(d)).toEqual(H(2, H(2, d[0]!, d[1]!), d[2]!));
  });

  it('gives an empty file’s chunk (its tag alone) one block', () => {
    expect(blockCount(16)).toBe(1);
    expect(blockLength(16, 0)).toBe(16);
    expect(blockCount(AUDIT_BLOCK_BYTES)).toBe(1);
    expect(blockCount(AUDIT_BLOCK_BYTES + 1)).toBe(2);
    expect(blockLength(AUDIT_BLOCK_BYTES + 1, 1)).toBe(1);
  });
});

describe('proving a block is held', () => {
  async function replica(chunkLengths: number[]) {
    const chunks = chunkLengths.map((length, k) => bytes(length, k + 10));
    const digests = await Promise.all(chunks.map((chunk) => tree.chunkDigest(chunk)));
    return { chunks, digests, root: await tree.fileRoot(digests) };
  }

  it.each([
    ['one chunk of one block', [500]],
    ['one chunk of three blocks', [3 * AUDIT_BLOCK_BYTES - 7]],
    ['five chunks, the last one short', [4 * AUDIT_BLOCK_BYTES, 4 * AUDIT_BLOCK_BYTES, 4 * AUDIT_BLOCK_BYTES, 4 * AUDIT_BLOCK_BYTES, 40]],
    ['seven chunks of two blocks', Array.from({ length: 7 }, () => AUDIT_BLOCK_BYTES + 16)],
  ])('every block of %s proves itself against the root', async (_, lengths) => {
    const { chunks, digests, root } = await replica(lengths);
    for (const [c, chunk] of chunks.entries()) {
      for (let b = 0; b < blockCount(chunk.byteLength); b++) {
        const proof = await tree.prove(chunk, b, c, digests);
        const at = { chunk: c, chunks: chunks.length, block: b, blocks: blockCount(chunk.byteLength), blockLength: blockLength(chunk.byteLength, b) };
        expect(await tree.verify(root, at, proof)).toBe(true);
      }
    }
  });

  it('refuses a flipped byte, another block, another chunk, a wrong length or a path of the wrong shape', async () => {
    const { chunks, digests, root } = await replica([2 * AUDIT_BLOCK_BYTES, 2 * AUDIT_BLOCK_BYTES, 2 * AUDIT_BLOCK_BYTES]);
    const at = { chunk: 1, chunks: 3, block: 1, blocks: 2, blockLength: AUDIT_BLOCK_BYTES };
    const proof = await tree.prove(chunks[1]!, 1, 1, digests);
    expect(await tree.verify(root, at, proof)).toBe(true);

    const flipped = { ...proof, block: Uint8Array.from(proof.block, (v, k) => (k === 9 ? v ^ 1 : v)) };
    expect(await tree.verify(root, at, flipped)).toBe(false);
    expect(await tree.verify(root, { ...at, block: 0 }, proof)).toBe(false);
    expect(await tree.verify(root, { ...at, chunk: 2 }, proof)).toBe(false);
    expect(await tree.verify(root, { ...at, blockLength: 100 }, proof)).toBe(false);
    expect(await tree.verify(root, at, { ...proof, chunkPath: proof.chunkPath.slice(1) })).toBe(false);
    expect(await tree.verify(root, at, { ...proof, blockPath: [...proof.blockPath, proof.blockPath[0]!] })).toBe(false);
    // Knowing the digests is not enough: a host without the block has nothing to send.
    expect(await tree.verify(root, at, { ...proof, block: new Uint8Array(AUDIT_BLOCK_BYTES) })).toBe(false);
    // Another replica's root.
    expect(await tree.verify(H(9), at, proof)).toBe(false);
  });
});

describe('paths of every chunk at once', () => {
  it.each([1, 2, 3, 5, 8, 13])('match one path at a time and verify, for %i chunks', async (count) => {
    const digests = Array.from({ length: count }, (_, k) => H(7, Uint8Array.of(k)));
    const root = await tree.fileRoot(digests);
    const paths = await tree.chunkPaths(digests);
    for (let chunk = 0; chunk < count; chunk++) {
      const single = (await tree.prove(new Uint8Array(10), 0, chunk, digests)).chunkPath;
      expect(paths[chunk]).toEqual(single);
      expect(await tree.verifyChunk(root, { chunk, chunks: count }, digests[chunk]!, paths[chunk]!)).toBe(true);
      expect(await tree.verifyChunk(root, { chunk, chunks: count }, H(8), paths[chunk]!)).toBe(false);
    }
  });
});
