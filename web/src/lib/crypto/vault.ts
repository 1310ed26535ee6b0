/**
 * The profile's vault: one AES-GCM key that never leaves WebCrypto (not extractable, kept in
 * IndexedDB as a CryptoKey). Every key that may have to leave this browser one day, in a
 * recovery kit, is stored only wrapped by it: the identity's private key and each file's key.
 * Day to day, they are unwrapped as non-extractable keys.
 */
import { identityStore, type WrappedKey } from '../storage/browser-db.ts';

const WRAP = (iv: Uint8Array<ArrayBuffer>) => ({ name: 'AES-GCM', iv }) as const;
const FILE_KEY = { name: 'AES-GCM', length: 256 } as const;
const SIGNING_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export class Vault {
  private constructor(private readonly key: CryptoKey) {}

  /** This profile's vault, made the first time (under a lock, so two tabs can't each make one). */
  static async open(): Promise<Vault> {
    return navigator.locks.request('peercloud-vault', async () => {
      let key = await identityStore.loadVault();
      if (!key) {
        key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey']);
        await identityStore.saveVault(key);
      }
      return new Vault(key);
    });
  }

  async wrap(key: CryptoKey, format: 'raw' | 'pkcs8'): Promise<WrappedKey> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    return { iv, data: await crypto.subtle.wrapKey(format, key, this.key, WRAP(iv)) };
  }

  unwrapFileKey(wrapped: WrappedKey, extractable = false): Promise<CryptoKey> {
    return crypto.subtle.unwrapKey('raw', wrapped.data, this.key, WRAP(wrapped.iv), FILE_KEY, extractable, ['encrypt', 'decrypt']);
  }

  unwrapPrivateKey(wrapped: WrappedKey, extractable = false): Promise<CryptoKey> {
    return crypto.subtle.unwrapKey('pkcs8', wrapped.data, this.key, WRAP(wrapped.iv), SIGNING_KEY, extractable, ['sign']);
  }
}
