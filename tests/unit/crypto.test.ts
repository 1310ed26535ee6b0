import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { AUDIT_BLOCK_BYTES } from '../../shared/merkle.ts';
import { generateFileKey, IntegrityError, openChunk, sealChunk, sha256 } from '../../web/src/lib/crypto/chunk-cipher.ts';
import { chunkDigest, hashParts, partsDigest, RootHash } from '../../web/src/lib/crypto/digests.ts';
import { openKit, RecoveryKitError, sealKit, type RecoveryKitContent } from '../../web/src/lib/crypto/recovery-kit.ts';
import { SEAL_OVERHEAD } from '../../shared/chunking.ts';
import { toHex } from '../../shared/encoding.ts';

const FILE = 'abcdefghijklmnopqrstuvwxyz';
const bytes = (text: string) => new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;

describe('chunk sealing', () => {
  it('round-trips, adding only the tag', async () => {
    const key = await generateFileKey();
    const sealed = await sealChunk(key, FILE, 3, 10, bytes('hello'));
    expect(sealed.byteLength).toBe(5 + SEAL_OVERHEAD);
    expect(new TextDecoder().decode(await openChunk(key, FILE, 3, 10, sealed))).toBe('hello');
  });

  it('hides the plaintext, and is deterministic per key, file and index (so a resumed upload re-seals identically)', async () => {
    const key = await generateFileKey();
    const a = await sealChunk(key, FILE, 0, 1, bytes('secret secret secret'));
    expect(new TextDecoder('latin1').decode(a)).not.toContain('secret');
    expect(toHex(await sealChunk(key, FILE, 0, 1, bytes('secret secret secret')))).toBe(toHex(a));
    expect(toHex(await sealChunk(key, FILE, 1, 2, bytes('secret secret secret')))).not.toBe(toHex(a));
  });

  it('takes its copy of the plaintext when called: the buffer may be refilled at once (the upload lends one buffer to every seal)', async () => {
    const key = await generateFileKey();
    const plaintext = bytes('first chunk, then the next one is read over it');
    const expected = toHex(await sealChunk(key, FILE, 0, 2, plaintext.slice()));
    const sealing = sealChunk(key, FILE, 0, 2, plaintext);
    plaintext.fill(0);
    expect(toHex(await sealing)).toBe(expected);
  });

  it.each([
    ['another index (reordered)', FILE, 4, 10],
    ['another count (truncated)', FILE, 3, 4],
    ['another file (swapped)', 'zyxwvutsrqponmlkjihgfedcba', 3, 10],
  ])('refuses a chunk presented under %s', async (_, fileId, index, count) => {
    const key = await generateFileKey();
    const sealed = await sealChunk(key, FILE, 3, 10, bytes('payload'));
    await expect(openChunk(key, fileId, index, count, sealed)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('refuses a flipped bit and a foreign key', async () => {
    const key = await generateFileKey();
    const sealed = await sealChunk(key, FILE, 0, 1, bytes('payload'));
    const flipped = sealed.slice();
    flipped[2]! ^= 1;
    await expect(openChunk(key, FILE, 0, 1, flipped)).rejects.toBeInstanceOf(IntegrityError);
    await expect(openChunk(await generateFileKey(), FILE, 0, 1, sealed)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('computes the root over chunk digests in order (shared/merkle.ts with WebCrypto), and only once all are known', async () => {
    const digests = await Promise.all(['a', 'b', 'c'].map((text) => sha256(bytes(text))));
    const root = new RootHash(3);
    root.set(2, digests[2]!);
    root.set(0, digests[0]!);
    await expect(root.hex()).rejects.toThrow(/chunk 1/);
    root.set(1, digests[1]!);
    const H = (...parts: Uint8Array[]) => new Uint8Array(parts.reduce((h, part) => h.update(part), createHash('sha256')).digest());
    expect(await root.hex()).toBe(toHex(H(Uint8Array.of(2), H(Uint8Array.of(2), digests[0]!, digests[1]!), digests[2]!)));
  });

  it('hashes parts through one reused input buffer, many at once, each as SHA-256 of its own parts joined', async () => {
    const H = (...parts: Uint8Array[]) => toHex(new Uint8Array(parts.reduce((h, part) => h.update(part), createHash('sha256')).digest()));
    // Started together, so that each is pending while the next overwrites the shared buffer;
    // the last is larger than the buffer (it grows) and later ones are smaller again.
    const cases = [
      ...Array.from({ length: 40 }, (_, k) => [Uint8Array.of(k & 3), Uint8Array.from({ length: AUDIT_BLOCK_BYTES - k * 7 }, (_, at) => (at * 13 + k) & 0xff)]),
      [Uint8Array.of(1), new Uint8Array(32).fill(7), new Uint8Array(32).fill(9)],
      [new Uint8Array(AUDIT_BLOCK_BYTES).fill(5), new Uint8Array(AUDIT_BLOCK_BYTES + 3).fill(6)],
      [Uint8Array.of(2), new Uint8Array(32).fill(8), new Uint8Array(32)],
      [bytes('only part')],
    ];
    const hashes = await Promise.all(cases.map((parts) => hashParts(parts)));
    expect(hashes.map(toHex)).toEqual(cases.map((parts) => H(...parts)));
  });

  it('digests a chunk arriving in frames as if it were whole, aligned or not', async () => {
    const chunk = Uint8Array.from({ length: 5 * AUDIT_BLOCK_BYTES + 123 }, (_, k) => (k * 31 + (k >> 9)) & 0xff);
    const whole = toHex(await chunkDigest(chunk));
    const frames = (size: number) => Array.from({ length: Math.ceil(chunk.length / size) }, (_, k) => chunk.subarray(k * size, (k + 1) * size));
    expect(toHex(await partsDigest(frames(2 * AUDIT_BLOCK_BYTES), chunk.length))).toBe(whole);
    expect(toHex(await partsDigest(frames(1000), chunk.length))).toBe(whole);
    expect(toHex(await partsDigest([chunk], chunk.length))).toBe(whole);
  });
});

describe('recovery kit', () => {
  const content: RecoveryKitContent = { publicKey: 'AAAA', privateKey: 'BBBB', files: [{ fileId: FILE, key: 'CCCC' }] };

  it('opens with the right passphrase only', async () => {
    const kit = await sealKit(content, 'peer-id', 'a long passphrase', 100_000);
    const text = JSON.stringify(kit);
    expect(text).not.toContain('BBBB');
    expect(await openKit(text, 'a long passphrase')).toEqual({ peerId: 'peer-id', content });
    await expect(openKit(text, 'another passphrase')).rejects.toThrow(/passphrase is wrong/);
  });

  it('refuses short passphrases, foreign files and tampering, always as a RecoveryKitError', async () => {
    await expect(sealKit(content, 'peer-id', 'short')).rejects.toBeInstanceOf(RecoveryKitError);
    await expect(openKit('not json', 'x')).rejects.toThrow(/not a Peercloud recovery kit/);
    await expect(openKit('{"format":"something-else"}', 'x')).rejects.toBeInstanceOf(RecoveryKitError);
    const kit = await sealKit(content, 'peer-id', 'a long passphrase', 100_000);
    // The peer id is authenticated too: claiming the kit belongs to another peer breaks it.
    await expect(openKit(JSON.stringify({ ...kit, peerId: 'someone-else' }), 'a long passphrase')).rejects.toBeInstanceOf(RecoveryKitError);
  });
});
