/**
 * The browser's side of shared/merkle.ts: chunk digests and replica roots with WebCrypto. A
 * chunk's digest is what transfers announce and check; a replica's root is what the owner
 * seals, and what every audit of a host is checked against.
 */
import { fromHex, toHex } from '../../../../shared/encoding.ts';
import { AUDIT_BLOCK_BYTES, merkle, type BlockProof } from '../../../../shared/merkle.ts';

/**
 * The input of every hash made of parts (a block with its one-byte domain, two child hashes):
 * one buffer, written again for each. WebCrypto copies its input when `digest` is called
 * (the Web Cryptography API's digest(), step 2), before it returns, so the next hash may
 * overwrite it at once, even while earlier digests are pending. A fresh buffer per block cost
 * more than the hashing itself: a 1 MiB chunk has 32 blocks and 31 inner nodes, and allocating
 * their joined copies took about five times the CPU of the 32 digests (measured in Chromium,
 * docs/BENCHMARKS.md).
 */
let scratch = new Uint8Array(AUDIT_BLOCK_BYTES + 1);

/** SHA-256 of the concatenation of `parts`, through WebCrypto. */
export function hashParts(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  if (parts.length === 1) return digest(parts[0]!);
  let length = 0;
  for (const part of parts) length += part.byteLength;
  if (scratch.byteLength < length) scratch = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    scratch.set(part, at);
    at += part.byteLength;
  }
  // Called now, before anything else can write to the scratch buffer.
  return digest(scratch.subarray(0, length));
}

async function digest(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

const tree = merkle(hashParts);

/** The digest of one sealed chunk, hex. */
export async function chunkDigest(chunk: Uint8Array): Promise<Uint8Array> {
  return tree.chunkDigest(chunk);
}

export async function chunkDigestHex(chunk: Uint8Array): Promise<string> {
  return toHex(await tree.chunkDigest(chunk));
}

/**
 * The digest of a chunk that arrived in frames. Frames that keep to block boundaries (every
 * frame but the last a multiple of the block size, as our senders send them) are hashed where
 * they lie; others are joined first.
 */
export async function partsDigest(parts: readonly Uint8Array[], length: number): Promise<Uint8Array> {
  const aligned = parts.every((part, index) => index === parts.length - 1 || part.byteLength % AUDIT_BLOCK_BYTES === 0);
  if (parts.length === 1 || !aligned) {
    if (parts.length === 1) return tree.chunkDigest(parts[0]!);
    const joined = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.byteLength;
    }
    return tree.chunkDigest(joined);
  }
  // Hashing each frame's blocks in place: the digest of the whole is the same tree over the same blocks.
  return tree.chunkDigestOfBlocks(parts.flatMap((part) => Array.from({ length: Math.max(1, Math.ceil(part.byteLength / AUDIT_BLOCK_BYTES)) }, (_, k) => part.subarray(k * AUDIT_BLOCK_BYTES, Math.min(part.byteLength, (k + 1) * AUDIT_BLOCK_BYTES)))));
}

/**
 * The replica's root over its chunk digests, filled as chunks come (in any order). Hosts
 * compute it from what they stored and the owner from what it sent.
 */
export class RootHash {
  readonly #digests: Uint8Array[] = [];

  constructor(readonly count: number) {}

  set(index: number, digest: Uint8Array): void {
    this.#digests[index] = digest;
  }

  async hex(): Promise<string> {
    const digests = Array.from({ length: this.count }, (_, index) => {
      const digest = this.#digests[index];
      if (!digest) throw new Error(`chunk ${index} has no digest yet`);
      return digest;
    });
    return toHex(await tree.fileRoot(digests));
  }
}

/** Whether a piece's digest and its path (hex) lead to the fragment's root. */
export function verifyChunkPath(root: Uint8Array, at: { chunk: number; chunks: number }, digest: string, path: readonly string[]): Promise<boolean> {
  try {
    return tree.verifyChunk(root, at, fromHex(digest), path.map(fromHex));
  } catch {
    return Promise.resolve(false);
  }
}

/** Every chunk's path up to the root at once, hex: what a host sends along with each piece it serves. */
export async function chunkPathsHex(digests: readonly Uint8Array[]): Promise<string[][]> {
  return (await tree.chunkPaths(digests)).map((path) => path.map(toHex));
}

/** A host's answer to an audit: the block asked for, with the hashes up to the replica's root. */
export function proveBlock(chunk: Uint8Array, block: number, index: number, digests: readonly Uint8Array[]): Promise<BlockProof> {
  return tree.prove(chunk, block, index, digests);
}
