/**
 * Chunks are sealed in the owner's browser before they leave it: AES-GCM-256 with a fresh
 * key per file, a nonce unique per chunk (the chunk index, under a key used for one file
 * only), and the file id, chunk index and chunk count bound as additional data, so a host
 * can neither read a chunk nor swap, reorder, drop or truncate chunks undetected.
 */
import { toHex } from '../../../../shared/encoding.ts';

const AAD_PREFIX = 'peercloud/chunk/v1';

export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

/** A fresh key for one file. Extractable only so that the vault can wrap it; then it is dropped. */
export function generateFileKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
}

function nonce(index: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setBigUint64(4, BigInt(index));
  return iv;
}

function additionalData(fileId: string, index: number, count: number): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${AAD_PREFIX}|${fileId}|${index}|${count}`);
}

/** The plaintext is copied when this is called (WebCrypto's encrypt, step 2): its buffer may be reused at once. */
export async function sealChunk(key: CryptoKey, fileId: string, index: number, count: number, plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(index), additionalData: additionalData(fileId, index, count) }, key, plaintext);
  return new Uint8Array(sealed);
}

export async function openChunk(key: CryptoKey, fileId: string, index: number, count: number, sealed: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce(index), additionalData: additionalData(fileId, index, count) }, key, sealed);
    return new Uint8Array(plain);
  } catch (error) {
    // WebCrypto reports a failed tag check as an OperationError: that is tampering or corruption.
    throw new IntegrityError(`chunk ${index} of ${fileId} failed authentication`, { cause: error });
  }
}

export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(await sha256(bytes));
}
