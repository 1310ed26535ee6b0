/**
 * The recovery kit: this peer's identity and file keys, sealed with a passphrase, to be
 * imported in another browser profile (a new computer, a cleared browser) to get the files back.
 */
import { fromBase64Url, toBase64Url } from '../../../../shared/encoding.ts';
import { peerIdFromPublicKey } from '../../../../shared/identity.ts';
import { openKit, RecoveryKitError, sealKit, type RecoveryKitContent } from '../crypto/recovery-kit.ts';
import { Vault } from '../crypto/vault.ts';
import { fileKeyStore, identityStore } from '../storage/browser-db.ts';
import { offerDownload } from '../storage/downloads.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

const SIGNING = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export class Recovery {
  busy = $state(false);
  /** What the last export or import did, in words. */
  result = $state<{ ok: boolean; text: string } | undefined>();

  readonly #session: Session;
  readonly #notices: Notices;

  constructor(session: Session, notices: Notices) {
    this.#session = session;
    this.#notices = notices;
  }

  async exportKit(passphrase: string, repeated: string): Promise<void> {
    if (passphrase !== repeated) return this.#done(false, 'The two passphrases differ.');
    await this.#run(async () => {
      const vault = await Vault.open();
      const identity = await identityStore.load();
      const peerId = this.#session.peerId;
      if (!identity?.wrappedPrivateKey || !peerId) throw new RecoveryKitError('This browser’s identity predates recovery kits and cannot be exported.');
      const privateKey = await vault.unwrapPrivateKey(identity.wrappedPrivateKey, true);
      const content: RecoveryKitContent = {
        publicKey: toBase64Url(new Uint8Array(await crypto.subtle.exportKey('raw', identity.publicKey))),
        privateKey: toBase64Url(new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey))),
        files: await Promise.all(
          (await fileKeyStore.all()).map(async ([fileId, wrapped]) => ({
            fileId,
            key: toBase64Url(new Uint8Array(await crypto.subtle.exportKey('raw', await vault.unwrapFileKey(wrapped, true)))),
          })),
        ),
      };
      const kit = await sealKit(content, peerId, passphrase);
      offerDownload(new Blob([JSON.stringify(kit, null, 2)], { type: 'application/json' }), `peercloud-recovery-kit-${peerId.slice(0, 8)}.json`);
      this.#done(true, `Recovery kit saved, with the keys of ${content.files.length} ${content.files.length === 1 ? 'file' : 'files'}. Keep it and its passphrase safe.`);
    });
  }

  /**
   * Makes this browser the peer of the kit: its identity and file keys replace this one's, and
   * the page restarts as that peer. What this browser hosted for others is released.
   */
  async importKit(file: File, passphrase: string): Promise<void> {
    await this.#run(async () => {
      const { peerId, content } = await openKit(await file.text(), passphrase);
      const publicRaw = fromBase64Url(content.publicKey);
      const privatePkcs8 = fromBase64Url(content.privateKey);
      if (!publicRaw || !privatePkcs8 || (await peerIdFromPublicKey(content.publicKey)) !== peerId) throw new RecoveryKitError('This recovery kit is damaged.');
      const publicKey = await crypto.subtle.importKey('raw', publicRaw, SIGNING, true, ['verify']);
      const exportable = await crypto.subtle.importKey('pkcs8', privatePkcs8, SIGNING, true, ['sign']);
      // The two keys must belong together, or the tracker would refuse every login.
      const probe = new TextEncoder().encode('peercloud recovery kit check');
      const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, exportable, probe);
      if (!(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, probe))) throw new RecoveryKitError('This recovery kit is damaged.');

      const vault = await Vault.open();
      for (const { fileId, key } of content.files) {
        const raw = fromBase64Url(key);
        if (!raw) throw new RecoveryKitError('This recovery kit is damaged.');
        const fileKey = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, true, ['encrypt', 'decrypt']);
        await fileKeyStore.put(fileId, await vault.wrap(fileKey, 'raw'));
      }
      const wrappedPrivateKey = await vault.wrap(exportable, 'pkcs8');
      await navigator.locks.request('peercloud-identity', async () => {
        await identityStore.save({ privateKey: await vault.unwrapPrivateKey(wrappedPrivateKey), publicKey, wrappedPrivateKey, createdAt: Date.now() });
      });
      this.#done(true, 'Recovery kit imported. Restarting as that peer…');
      this.#session.stop();
      location.reload();
    });
  }

  async #run(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.result = undefined;
    try {
      await work();
    } catch (error) {
      if (error instanceof RecoveryKitError) this.#done(false, error.message);
      else this.#notices.error('The recovery kit failed', error);
    } finally {
      this.busy = false;
    }
  }

  #done(ok: boolean, text: string): void {
    this.result = { ok, text };
  }
}
