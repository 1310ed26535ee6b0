import { describe, expect, it } from 'vitest';
import { exportPublicKey, generateIdentity, PEER_ID_LENGTH, peerIdFromPublicKey, signChallenge, verifyChallenge } from '../../shared/identity.ts';
import { PeerId } from '../../shared/protocol.ts';

describe('identity', () => {
  it('derives a stable base32 id from the public key', async () => {
    const keys = await generateIdentity();
    const publicKey = await exportPublicKey(keys.publicKey);
    const id = await peerIdFromPublicKey(publicKey);
    expect(id).toHaveLength(PEER_ID_LENGTH);
    expect(PeerId.safeParse(id).success).toBe(true);
    expect(await peerIdFromPublicKey(publicKey)).toBe(id);
    const other = await exportPublicKey((await generateIdentity()).publicKey);
    expect(await peerIdFromPublicKey(other)).not.toBe(id);
  });

  it('keeps the private key inside WebCrypto by default', async () => {
    const keys = await generateIdentity();
    expect(keys.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', keys.privateKey)).rejects.toThrow();
  });

  it('verifies a signature over the nonce, and only that', async () => {
    const keys = await generateIdentity();
    const publicKey = await exportPublicKey(keys.publicKey);
    const signature = await signChallenge(keys.privateKey, 'nonce-1');
    expect(await verifyChallenge(publicKey, 'nonce-1', signature)).toBe(true);
    expect(await verifyChallenge(publicKey, 'nonce-2', signature)).toBe(false);
    const stranger = await exportPublicKey((await generateIdentity()).publicKey);
    expect(await verifyChallenge(stranger, 'nonce-1', signature)).toBe(false);
  });

  it('answers false, never throws, for garbage keys and signatures', async () => {
    const keys = await generateIdentity();
    const publicKey = await exportPublicKey(keys.publicKey);
    const signature = await signChallenge(keys.privateKey, 'n');
    expect(await verifyChallenge('not base64!', 'n', signature)).toBe(false);
    expect(await verifyChallenge(publicKey, 'n', 'AAAA')).toBe(false);
    // 65 bytes that are not a point on the curve.
    expect(await verifyChallenge('BA' + 'A'.repeat(85), 'n', signature)).toBe(false);
  });
});
