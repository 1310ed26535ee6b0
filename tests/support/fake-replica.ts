/**
 * Replicas for Node test peers: deterministic stand-in bytes for a sealed file of a given size
 * and chunking, its real Merkle root (what owners seal and hosts claim), and real proofs for the
 * tracker's audits, made with the same shared/merkle.ts the browser uses. A test host holding
 * "a replica" can therefore be audited like a browser host, and a lying one caught the same way.
 */
import { createHash } from 'node:crypto';
import { chunkCount, sealedChunkSize } from '../../shared/chunking.ts';
import { toHex } from '../../shared/encoding.ts';
import { merkle } from '../../shared/merkle.ts';
import { MiB } from '../../shared/units.ts';

export const TEST_CHUNK = MiB;

const tree = merkle(async (parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
});

/** The sealed bytes of chunk `index` of a file of this size: a cheap pattern, distinct per chunk and block. */
export function fakeChunk(index: number, size: number, chunkSize = TEST_CHUNK): Uint8Array {
  const bytes = new Uint8Array(sealedChunkSize(index, size, chunkSize));
  const view = new DataView(bytes.buffer);
  for (let at = 0; at + 4 <= bytes.byteLength; at += 4) view.setUint32(at, (Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(at, 0x85ebca6b)) >>> 0);
  return bytes;
}

const digestsCache = new Map<string, Promise<Uint8Array[]>>();

function digests(size: number, chunkSize: number): Promise<Uint8Array[]> {
  const key = `${size}/${chunkSize}`;
  let found = digestsCache.get(key);
  if (!found) {
    found = Promise.all(Array.from({ length: chunkCount(size, chunkSize) }, (_, index) => tree.chunkDigest(fakeChunk(index, size, chunkSize))));
    digestsCache.set(key, found);
  }
  return found;
}

/** The root an owner seals and an honest host claims for a file of this size. */
export async function rootOf(size: number, chunkSize = TEST_CHUNK): Promise<string> {
  return toHex(await tree.fileRoot(await digests(size, chunkSize)));
}

/** An honest host's answer to an audit of such a replica. */
export async function proofFor(challenge: { chunk: number; block: number }, size: number, chunkSize = TEST_CHUNK): Promise<{ block: Uint8Array; blockPath: string[]; chunkPath: string[] }> {
  const proof = await tree.prove(fakeChunk(challenge.chunk, size, chunkSize), challenge.block, challenge.chunk, await digests(size, chunkSize));
  return { block: proof.block, blockPath: proof.blockPath.map(toHex), chunkPath: proof.chunkPath.map(toHex) };
}
