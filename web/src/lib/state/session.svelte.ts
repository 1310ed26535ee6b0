/**
 * This browser profile as a peer: its identity, whether this tab is the one acting as the
 * peer, and its connection to the tracker.
 *
 * Tabs of one profile share IndexedDB, so exactly one tab may be the peer: the holder of a
 * Web Lock. Another tab waits in line (and becomes the peer when the first one closes) or
 * takes over at once by stealing the lock; the tracker then replaces the old tab's socket
 * with the new one without counting a disconnection.
 */
import { exportPublicKey, generateIdentity, peerIdFromPublicKey } from '../../../../shared/identity.ts';
import type { ClientConfig, IceServer, PeerStatus } from '../../../../shared/protocol.ts';
import { TrackerClient, type ConnectionState } from '../net/tracker-client.ts';
import { Vault } from '../crypto/vault.ts';
import { identityStore } from '../storage/browser-db.ts';

const LOCK_NAME = 'peercloud-peer';
/** TURN credentials are renewed this long before they expire (short-lived ones at 80 % of their life). */
const ICE_RENEW_MARGIN_MS = 5 * 60_000;
/** Before the tracker has said anything: no ICE servers, and the tracker's default connect timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

export type TabRole = 'starting' | 'peer' | 'waiting' | 'unsupported';

/** How this tab's data channels behave beyond what the tracker says (the page's wiring sets it). */
export interface LinkTuning {
  /** At most this many bytes a second on each channel this tab sends on (undefined: as fast as it goes). */
  uplinkBytesPerSecond(): number | undefined;
}

export class Session {
  role = $state<TabRole>('starting');
  connection = $state<ConnectionState>('connecting');
  /** Why the connection is not online, in words. */
  connectionDetail = $state<string | undefined>();
  peerId = $state<string | undefined>();
  status = $state<PeerStatus | undefined>();
  peersOnline = $state(0);
  config = $state<ClientConfig | undefined>();

  #tracker: TrackerClient | undefined;
  #iceTimer: ReturnType<typeof setTimeout> | undefined;
  #releaseLock: (() => void) | undefined;
  readonly #onPeer: ((tracker: TrackerClient) => void)[] = [];
  readonly #onStop: (() => void)[] = [];

  constructor(private readonly tuning: LinkTuning = { uplinkBytesPerSecond: () => undefined }) {}

  /** The tracker connection, once this tab is the peer. */
  get tracker(): TrackerClient | undefined {
    return this.#tracker;
  }

  /** Runs when this tab becomes the peer (the other state classes start their work there). */
  whenPeer(callback: (tracker: TrackerClient) => void): void {
    this.#onPeer.push(callback);
  }

  /** Runs when this tab stops being the peer (another tab took over). */
  whenStopped(callback: () => void): void {
    this.#onStop.push(callback);
  }

  async start(): Promise<void> {
    if (!('locks' in navigator)) {
      this.role = 'unsupported';
      return;
    }
    const identity = await this.#identity();
    this.peerId = await peerIdFromPublicKey(identity.publicKey);
    // Wait in line for the lock: granted now if no other tab holds it, or when that tab closes.
    this.role = 'waiting';
    void this.#holdLock(identity, false);
  }

  /** Makes this tab the peer now, taking over from the tab that is. */
  takeOver(): void {
    void this.#identity().then((identity) => this.#holdLock(identity, true));
  }

  /**
   * This peer was opened in another browser (its recovery kit imported there) and the tracker
   * closed this connection: connecting again makes this browser the peer once more.
   */
  reclaim(): void {
    if (this.connection === 'replaced') this.#tracker?.connect();
  }

  stop(): void {
    clearTimeout(this.#iceTimer);
    this.#tracker?.close();
    this.#releaseLock?.();
  }

  /** What a new peer-to-peer link needs from the tracker's settings. */
  get linkSettings(): { iceServers: IceServer[]; connectTimeoutMs: number; uplinkBytesPerSecond: () => number | undefined } {
    return {
      iceServers: this.config?.iceServers ?? [],
      connectTimeoutMs: this.config?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      uplinkBytesPerSecond: () => this.tuning.uplinkBytesPerSecond(),
    };
  }

  /** Applies what the tracker said of this peer after a report. */
  setReport(status: PeerStatus, config: ClientConfig): void {
    this.status = status;
    this.config = config;
    this.#renewIceBefore(config.iceExpiresAt);
  }

  /**
   * TURN credentials expire: fresh ones are asked for in time, so that a transfer started an
   * hour from now can still use the relay. A failed renewal is tried again a minute later;
   * reconnecting to the tracker brings fresh ones too (with the next report).
   */
  #renewIceBefore(expiresAt: number | null): void {
    clearTimeout(this.#iceTimer);
    if (expiresAt === null) return;
    const life = expiresAt - Date.now();
    const delay = Math.max(1_000, life > 2 * ICE_RENEW_MARGIN_MS ? life - ICE_RENEW_MARGIN_MS : life * 0.8);
    this.#iceTimer = setTimeout(() => {
      const tracker = this.#tracker;
      if (!tracker || tracker.state !== 'online' || !this.config) return this.#renewIceBefore(Date.now() + 60_000 + ICE_RENEW_MARGIN_MS);
      tracker.request('peer:ice', {}).then(
        (grant) => {
          if (this.config) this.config = { ...this.config, iceServers: grant.iceServers, iceExpiresAt: grant.expiresAt };
          this.#renewIceBefore(grant.expiresAt);
        },
        () => this.#renewIceBefore(Date.now() + 60_000 + ICE_RENEW_MARGIN_MS),
      );
    }, delay);
  }

  async #holdLock(identity: { privateKey: CryptoKey; publicKey: string }, steal: boolean): Promise<void> {
    try {
      await navigator.locks.request(LOCK_NAME, steal ? { steal: true } : {}, async () => {
        this.#becomePeer(identity);
        // Hold the lock for as long as this tab lives, or until stop().
        await new Promise<void>((resolve) => (this.#releaseLock = resolve));
      });
    } catch (error) {
      // The lock was stolen: another tab of this profile is the peer now.
      if (error instanceof DOMException && error.name === 'AbortError') return this.#stepDown();
      throw error;
    }
  }

  #becomePeer(identity: { privateKey: CryptoKey; publicKey: string }): void {
    this.role = 'peer';
    const tracker = new TrackerClient({ url: '', privateKey: identity.privateKey, publicKey: identity.publicKey });
    this.#tracker = tracker;
    tracker.onState((state, detail) => {
      // A connection this tab has handed over (see #stepDown) speaks for it no more.
      if (this.#tracker !== tracker) return;
      this.connection = state;
      this.connectionDetail = state === 'online' ? undefined : detail;
    });
    tracker.on('peer:status', (status) => (this.status = status));
    tracker.on('cloud:stats', ({ peersOnline }) => (this.peersOnline = peersOnline));
    for (const callback of this.#onPeer) callback(tracker);
    tracker.connect();
  }

  #stepDown(): void {
    this.role = 'waiting';
    for (const callback of this.#onStop) callback();
    // The tracker closes this tab's socket when the new tab connects; if that never happens, close it ourselves.
    const tracker = this.#tracker;
    this.#tracker = undefined;
    tracker?.mute();
    setTimeout(() => tracker?.close(), 10_000);
    // Queue up again, to become the peer when the other tab closes.
    void this.#identity().then((identity) => this.#holdLock(identity, false));
  }

  #identityPromise: Promise<{ privateKey: CryptoKey; publicKey: string }> | undefined;

  /** The peer's key pair: made once per profile, kept in IndexedDB; the key in use is not extractable. */
  #identity(): Promise<{ privateKey: CryptoKey; publicKey: string }> {
    // Under its own lock, so that two tabs opened at once can't each make a different identity.
    this.#identityPromise ??= navigator.locks.request('peercloud-identity', async () => {
      let stored = await identityStore.load();
      if (!stored) {
        // Made exportable only to be wrapped by the vault (for a recovery kit); the key used day
        // to day is an unwrapped, non-extractable copy.
        const vault = await Vault.open();
        const pair = await generateIdentity(true);
        const wrappedPrivateKey = await vault.wrap(pair.privateKey, 'pkcs8');
        const privateKey = await vault.unwrapPrivateKey(wrappedPrivateKey, false);
        stored = { privateKey, publicKey: pair.publicKey, wrappedPrivateKey, createdAt: Date.now() };
        await identityStore.save(stored);
      }
      return { privateKey: stored.privateKey, publicKey: await exportPublicKey(stored.publicKey) };
    });
    return this.#identityPromise;
  }
}
