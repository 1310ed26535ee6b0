/**
 * A recovery kit: this peer's identity and its file keys in one file, sealed with a passphrase
 * (PBKDF2-SHA-256 → AES-GCM-256). Whoever has the file and the passphrase is this peer and can
 * read its files, so the kit is only ever made at the person's request.
 */
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../../../../shared/encoding.ts';
import { ObjectId } from '../../../../shared/protocol.ts';

export const KIT_ITERATIONS = 600_000;
export const MIN_PASSPHRASE_LENGTH = 10;

const Base64Url = z.string().regex(/^[A-Za-z0-9_-]*$/, 'must be base64url').max(4_000_000);

/** The kit file as stored: what it says about itself is parsed before anything is trusted. */
export const RecoveryKitFile = z.strictObject({
  format: z.literal('peercloud-recovery-kit'),
  version: z.literal(1),
  createdAt: z.string().max(40),
  peerId: z.string().max(64),
  kdf: z.strictObject({ name: z.literal('PBKDF2'), hash: z.literal('SHA-256'), iterations: z.number().int().min(100_000).max(10_000_000), salt: Base64Url }),
  cipher: z.strictObject({ name: z.literal('AES-GCM'), iv: Base64Url }),
  ciphertext: Base64Url,
});
export type RecoveryKitFile = z.infer<typeof RecoveryKitFile>;

export const RecoveryKitContent = z.strictObject({
  publicKey: Base64Url,
  privateKey: Base64Url,
  files: z.array(z.strictObject({ fileId: ObjectId, key: Base64Url })).max(1_000_000),
});
export type RecoveryKitContent = z.infer<typeof RecoveryKitContent>;

export class RecoveryKitError extends Error {
  override name = 'RecoveryKitError';
}

async function passphraseKey(passphrase: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

export async function sealKit(content: RecoveryKitContent, peerId: string, passphrase: string, iterations = KIT_ITERATIONS): Promise<RecoveryKitFile> {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new RecoveryKitError(`The passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters long.`);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await passphraseKey(passphrase, salt, iterations);
  const plaintext = new TextEncoder().encode(JSON.stringify(content));
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(peerId) }, key, plaintext));
  return {
    format: 'peercloud-recovery-kit',
    version: 1,
    createdAt: new Date().toISOString(),
    peerId,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: toBase64Url(salt) },
    cipher: { name: 'AES-GCM', iv: toBase64Url(iv) },
    ciphertext: toBase64Url(ciphertext),
  };
}

/** Opens a kit from its text; a wrong passphrase or any tampering is one clear error. */
export async function openKit(text: string, passphrase: string): Promise<{ peerId: string; content: RecoveryKitContent }> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RecoveryKitError('This file is not a Peercloud recovery kit.');
  }
  const file = RecoveryKitFile.safeParse(json);
  if (!file.success) throw new RecoveryKitError('This file is not a Peercloud recovery kit (or a damaged one).');
  const { kdf, cipher, ciphertext, peerId } = file.data;
  const salt = fromBase64Url(kdf.salt);
  const iv = fromBase64Url(cipher.iv);
  const sealed = fromBase64Url(ciphertext);
  if (!salt || !iv || !sealed || iv.length !== 12) throw new RecoveryKitError('This recovery kit is damaged.');
  const key = await passphraseKey(passphrase, salt, kdf.iterations);
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(peerId) }, key, sealed);
  } catch {
    throw new RecoveryKitError('The passphrase is wrong, or the kit was changed.');
  }
  const content = RecoveryKitContent.safeParse(JSON.parse(new TextDecoder().decode(plaintext)));
  if (!content.success) throw new RecoveryKitError('This recovery kit is damaged.');
  return { peerId, content: content.data };
}
