/**
 * The recovery kit: this peer's identity and file keys, sealed with a passphrase, to be
 * imported in another browser profile (a new computer, a cleared browser) to get the files back.
 */
import { fromBase64Url, toBase64Url } from '../../../../shared/encoding.ts';
import { peerIdFromPublicKey } from '../../../../shared/identity.ts';
import { MIN_PASSPHRASE_LENGTH, openKit, RecoveryKitError, sealKit, type RecoveryKitContent } from '../crypto/recovery-kit.ts';
import { Vault } from '../crypto/vault.ts';
import { fileKeyStore, identityStore } from '../storage/browser-db.ts';
import { offerDownload } from '../storage/downloads.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

const SIGNING = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** Session storage key: a kit was just imported, and the page reloaded as its peer. */
const IMPORTED_KEY = 'peercloud-kit-imported';

/** A kit opened and checked, its keys imported, not yet installed. */
interface CheckedKit {
  peerId: string;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  keys: { fileId: string; key: CryptoKey }[];
}

/** What importing a kit of another peer would do, for the person to confirm. */
export interface PendingImport {
  peerId: string;
  files: number;
  currentPeerId: string;
  currentFiles: number;
}

const filesText = (count: number) => `${count} ${count === 1 ? 'file' : 'files'}`;

export class Recovery {
  busy = $state(false);
  /** What the last export or import did, in words. */
  result = $state<{ ok: boolean; text: string } | undefined>();
  /** A kit of another peer, opened and waiting for the person to confirm the replacement. */
  pendingImport = $state<PendingImport | undefined>();
  #pending: CheckedKit | undefined;

  readonly #session: Session;
  readonly #notices: Notices;

  constructor(session: Session, notices: Notices) {
    this.#session = session;
    this.#notices = notices;
    const imported = sessionStorage.getItem(IMPORTED_KEY);
    if (imported) {
      sessionStorage.removeItem(IMPORTED_KEY);
      const { peerId, files } = JSON.parse(imported) as { peerId: string; files: number };
      const text = `Recovery kit imported: this browser is now peer ${peerId.slice(0, 8)}…, with the keys of ${filesText(files)}. Its files appear below as the tracker lists them.`;
      this.#done(true, text);
      notices.info(text, 'kit');
    }
  }

  async exportKit(passphrase: string, repeated: string): Promise<void> {
    if (passphrase.length < MIN_PASSPHRASE_LENGTH) return this.#done(false, `The passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters long.`);
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
      this.#done(true, `Recovery kit saved, with the keys of ${filesText(content.files.length)}. Keep it and its passphrase safe.`);
    });
  }

  /**
   * Opens a kit with its passphrase and checks it. A kit of this very peer only adds its file
   * keys; a kit of another peer would replace this browser's identity, so it waits in
   * `pendingImport` until the person confirms (`confirmImport`) or cancels.
   */
  async importKit(file: File, passphrase: string): Promise<void> {
    this.pendingImport = undefined;
    this.#pending = undefined;
    await this.#run(async () => {
      const kit = await this.#openAndCheck(file, passphrase);
      if (kit.peerId === this.#session.peerId) return this.#install(kit);
      this.#pending = kit;
      this.pendingImport = { peerId: kit.peerId, files: kit.keys.length, currentPeerId: this.#session.peerId ?? '', currentFiles: (await fileKeyStore.all()).length };
    });
  }

  async confirmImport(): Promise<void> {
    const kit = this.#pending;
    if (!kit) return;
    await this.#run(() => this.#install(kit));
  }

  cancelImport(): void {
    this.#pending = undefined;
    this.pendingImport = undefined;
  }

  async #openAndCheck(file: File, passphrase: string): Promise<CheckedKit> {
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
    const keys = await Promise.all(
      content.files.map(async ({ fileId, key }) => {
        const raw = fromBase64Url(key);
        if (!raw) throw new RecoveryKitError('This recovery kit is damaged.');
        return { fileId, key: await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, true, ['encrypt', 'decrypt']) };
      }),
    );
    return { peerId, publicKey, privateKey: exportable, keys };
  }

  /**
   * Makes this browser the peer of the kit: its identity and file keys replace this one's, and
   * the page restarts as that peer, saying so. What this browser hosted for others is released.
   */
  async #install(kit: CheckedKit): Promise<void> {
    const vault = await Vault.open();
    for (const { fileId, key } of kit.keys) await fileKeyStore.put(fileId, await vault.wrap(key, 'raw'));
    if (kit.peerId === this.#session.peerId) {
      this.#done(true, `Recovery kit imported: the keys of ${filesText(kit.keys.length)} were added to this browser.`);
      return;
    }
    const wrappedPrivateKey = await vault.wrap(kit.privateKey, 'pkcs8');
    await navigator.locks.request('peercloud-identity', async () => {
      await identityStore.save({ privateKey: await vault.unwrapPrivateKey(wrappedPrivateKey), publicKey: kit.publicKey, wrappedPrivateKey, createdAt: Date.now() });
    });
    // Said after the reload, by the page that starts as the kit's peer.
    sessionStorage.setItem(IMPORTED_KEY, JSON.stringify({ peerId: kit.peerId, files: kit.keys.length }));
    this.pendingImport = undefined;
    this.#pending = undefined;
    this.#done(true, 'Recovery kit imported. Restarting as that peer…');
    this.#session.stop();
    location.reload();
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
