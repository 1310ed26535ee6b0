/**
 * What a stored replica commits to, so that anyone holding only its root can check any small
 * piece of it: a Merkle tree in two levels.
 *
 * - A sealed chunk is cut into AUDIT_BLOCK_BYTES blocks; its digest is the Merkle tree hash of
 *   its blocks. Transfers announce and check these digests chunk by chunk.
 * - The replica's root is the Merkle tree hash of its chunk digests. The owner seals it; the
 *   tracker keeps only that.
 *
 * To prove it still holds chunk c, a host sends one block of it with the sibling hashes up to
 * the chunk digest and from there up to the root. The tracker recomputes the root from those
 * 32 KiB and a few hundred bytes: it never needs the file, and the host cannot answer without
 * the block itself. The trees are those of RFC 6962 (split at the largest power of two below
 * n, no duplicated nodes), with a one-byte domain per kind of node, so that a leaf can never
 * pass for an inner node nor a chunk digest for a file-level node.
 *
 * The hash function is passed in: WebCrypto in the browser (asynchronous), node:crypto on the
 * tracker. Everything here is pure.
 */

/** Block size of the audit tree: one block plus its proof fits in a tracker message (64 KiB). */
export const AUDIT_BLOCK_BYTES = 32 * 1024;

/** SHA-256 of the concatenation of `parts`. */
export type Hash = (parts: readonly Uint8Array[]) => Promise<Uint8Array>;

const BLOCK_LEAF = Uint8Array.of(0x00);
const BLOCK_NODE = Uint8Array.of(0x01);
const FILE_NODE = Uint8Array.of(0x02);

/** The largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

async function treeHash(leaves: readonly Uint8Array[], node: (left: Uint8Array, right: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> {
  if (leaves.length === 0) throw new Error('a Merkle tree needs at least one leaf');
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  const [left, right] = await Promise.all([treeHash(leaves.slice(0, k), node), treeHash(leaves.slice(k), node)]);
  return node(left, right);
}

/** Sibling hashes from leaf `index` up to the root, nearest first. */
async function treePath(leaves: readonly Uint8Array[], index: number, node: (left: Uint8Array, right: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array[]> {
  if (index < 0 || index >= leaves.length) throw new Error(`leaf ${index} is outside a tree of ${leaves.length}`);
  if (leaves.length === 1) return [];
  const k = split(leaves.length);
  if (index < k) return [...(await treePath(leaves.slice(0, k), index, node)), await treeHash(leaves.slice(k), node)];
  return [...(await treePath(leaves.slice(k), index - k, node)), await treeHash(leaves.slice(0, k), node)];
}

/** The root a leaf and its path lead to, for a tree of `count` leaves; undefined when the path has the wrong length. */
async function rootFromPath(
  leaf: Uint8Array,
  index: number,
  count: number,
  path: readonly Uint8Array[],
  node: (left: Uint8Array, right: Uint8Array) => Promise<Uint8Array>,
): Promise<Uint8Array | undefined> {
  if (index < 0 || index >= count) return undefined;
  if (count === 1) return path.length === 0 ? leaf : undefined;
  if (path.length === 0) return undefined;
  const k = split(count);
  const sibling = path.at(-1)!;
  const rest = path.slice(0, -1);
  if (index < k) {
    const left = await rootFromPath(leaf, index, k, rest, node);
    return left && node(left, sibling);
  }
  const right = await rootFromPath(leaf, index - k, count - k, rest, node);
  return right && node(sibling, right);
}

/** How many audit blocks a sealed chunk of `length` bytes has (at least one: an empty file's chunk is its 16-byte tag). */
export function blockCount(length: number): number {
  return Math.max(1, Math.ceil(length / AUDIT_BLOCK_BYTES));
}

/** The blocks of a sealed chunk, as views (no copies). */
export function blocksOf(chunk: Uint8Array): Uint8Array[] {
  return Array.from({ length: blockCount(chunk.byteLength) }, (_, k) => chunk.subarray(k * AUDIT_BLOCK_BYTES, Math.min(chunk.byteLength, (k + 1) * AUDIT_BLOCK_BYTES)));
}

export function merkle(hash: Hash) {
  const blockNode = (left: Uint8Array, right: Uint8Array) => hash([BLOCK_NODE, left, right]);
  const fileNode = (left: Uint8Array, right: Uint8Array) => hash([FILE_NODE, left, right]);
  const blockLeaves = (chunk: Uint8Array) => Promise.all(blocksOf(chunk).map((block) => hash([BLOCK_LEAF, block])));

  return {
    /** The digest of one sealed chunk: the tree of its blocks. */
    async chunkDigest(chunk: Uint8Array): Promise<Uint8Array> {
      return treeHash(await blockLeaves(chunk), blockNode);
    },

    /** The same, from the chunk's blocks already cut (every block but the last AUDIT_BLOCK_BYTES long). */
    async chunkDigestOfBlocks(blocks: readonly Uint8Array[]): Promise<Uint8Array> {
      return treeHash(await Promise.all(blocks.map((block) => hash([BLOCK_LEAF, block]))), blockNode);
    },

    /** The replica's root: the tree of its chunk digests, in order. */
    fileRoot(digests: readonly Uint8Array[]): Promise<Uint8Array> {
      return treeHash(digests, fileNode);
    },

    /** What a host sends to prove it holds block `block` of chunk `chunk`: the block and both paths. */
    async prove(chunkBytes: Uint8Array, block: number, chunk: number, digests: readonly Uint8Array[]): Promise<BlockProof> {
      const leaves = await blockLeaves(chunkBytes);
      return {
        block: blocksOf(chunkBytes)[block]!,
        blockPath: await treePath(leaves, block, blockNode),
        chunkPath: await treePath(digests, chunk, fileNode),
      };
    },

    /**
     * Every chunk's path up to the root at once (one pass over the tree, not one per chunk): a
     * host serving a fragment sends each chunk's path with it, so the reader can check every
     * piece against the fragment's root as it arrives.
     */
    async chunkPaths(digests: readonly Uint8Array[]): Promise<Uint8Array[][]> {
      const paths: Uint8Array[][] = digests.map(() => []);
      // Subtree hashes over [from, to), computed once each, siblings appended on the way down.
      const walk = async (from: number, to: number): Promise<Uint8Array> => {
        if (to - from === 1) return digests[from]!;
        const middle = from + split(to - from);
        const [left, right] = await Promise.all([walk(from, middle), walk(middle, to)]);
        for (let index = from; index < middle; index++) paths[index]!.push(right);
        for (let index = middle; index < to; index++) paths[index]!.push(left);
        return fileNode(left, right);
      };
      if (digests.length > 0) await walk(0, digests.length);
      return paths;
    },

    /** Whether a chunk's digest and its path lead to the root (chunk `chunk` of `chunks`). */
    async verifyChunk(root: Uint8Array, at: { chunk: number; chunks: number }, digest: Uint8Array, path: readonly Uint8Array[]): Promise<boolean> {
      const found = await rootFromPath(digest, at.chunk, at.chunks, path, fileNode);
      return found !== undefined && equalBytes(found, root);
    },

    /**
     * Whether a proof leads to `root` for block `block` (of `blocks`) of chunk `chunk` (of
     * `chunks`), with the block's expected length. Any other shape of answer is a failure.
     */
    async verify(root: Uint8Array, at: { chunk: number; chunks: number; block: number; blocks: number; blockLength: number }, proof: BlockProof): Promise<boolean> {
      if (proof.block.byteLength !== at.blockLength) return false;
      const leaf = await hash([BLOCK_LEAF, proof.block]);
      const digest = await rootFromPath(leaf, at.block, at.blocks, proof.blockPath, blockNode);
      if (!digest) return false;
      const found = await rootFromPath(digest, at.chunk, at.chunks, proof.chunkPath, fileNode);
      return found !== undefined && equalBytes(found, root);
    },
  };
}

export interface BlockProof {
  block: Uint8Array;
  /** Sibling hashes from the block up to its chunk's digest. */
  blockPath: Uint8Array[];
  /** Sibling hashes from the chunk's digest up to the root. */
  chunkPath: Uint8Array[];
}

/** Length of block `block` in a sealed chunk of `length` bytes. */
export function blockLength(length: number, block: number): number {
  return Math.max(0, Math.min(AUDIT_BLOCK_BYTES, length - block * AUDIT_BLOCK_BYTES));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
