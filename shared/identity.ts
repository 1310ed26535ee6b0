/**
 * A peer is its ECDSA P-256 key pair. The id is derived from the public key, so
 * holding the private key is the only way to be that peer: the tracker checks a
 * signature over a fresh nonce at every connection.
 */
import { base32, fromBase64Url, toBase64Url } from './encoding.ts';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNATURE = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Domain separation: a signature made for Peercloud's login can't be replayed elsewhere, nor the reverse. */
const AUTH_CONTEXT = 'peercloud/auth/v1\n';
/** 160 bits of SHA-256: second-preimage resistant, and short enough to show. */
const PEER_ID_BYTES = 20;
export const PEER_ID_LENGTH = Math.ceil((PEER_ID_BYTES * 8) / 5);

/** The private key stays inside WebCrypto unless a caller explicitly asks for an exportable one. */
export function generateIdentity(extractable = false): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, extractable, ['sign', 'verify']);
}

export async function exportPublicKey(key: CryptoKey): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.exportKey('raw', key)));
}

export async function peerIdFromPublicKey(publicKey: string): Promise<string> {
  const raw = fromBase64Url(publicKey);
  if (!raw) throw new TypeError('public key is not base64url');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
  return base32(digest.subarray(0, PEER_ID_BYTES));
}

export async function signChallenge(privateKey: CryptoKey, nonce: string): Promise<string> {
  const data = new TextEncoder().encode(AUTH_CONTEXT + nonce);
  return toBase64Url(new Uint8Array(await crypto.subtle.sign(SIGNATURE, privateKey, data)));
}

/** False for any malformed key or signature, never a throw: the caller only needs yes or no. */
export async function verifyChallenge(publicKey: string, nonce: string, signature: string): Promise<boolean> {
  const raw = fromBase64Url(publicKey);
  const sig = fromBase64Url(signature);
  if (!raw || !sig || raw.length !== 65 || sig.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey('raw', raw, ALGORITHM, true, ['verify']);
    return await crypto.subtle.verify(SIGNATURE, key, sig, new TextEncoder().encode(AUTH_CONTEXT + nonce));
  } catch {
    // importKey rejects points that are not on the curve: that is a failed proof, not an error.
    return false;
  }
}
