/**
 * This peer as a host: how much it offers and what it holds. It admits a receive only if there
 * is room, and hands the transfers themselves to the host-side protocols (hosting/receive.ts,
 * serve.ts, rebuild.ts, audit-answer.ts); it drops what the tracker says is no longer wanted.
 */
import { INVENTORY_PAGE, type RejectReason } from '../../../../shared/protocol.ts';
import { formatBytes, GiB, MiB } from '../../../../shared/units.ts';
import type { StripeCoder } from '../erasure/stripe-coder.ts';
import { answerAudit } from '../hosting/audit-answer.ts';
import type { HostDeps, Room } from '../hosting/host-deps.ts';
import { Rebuilds } from '../hosting/rebuild.ts';
import { receiveFragment } from '../hosting/receive.ts';
import { serveFragment } from '../hosting/serve.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import type { HostedStore, Settings } from '../storage/browser-db.ts';
import { LinkPool } from '../transfer/link-pool.ts';
import type { Notices } from './notices.svelte.ts';
import type { Session } from './session.svelte.ts';

/** Where hosting keeps things: passed in by the page (App.svelte), so that faults and tests can stand in. */
export interface HostingStores {
  hosted: HostedStore;
  settings: { load(): Promise<Settings>; save(changes: Settings): Promise<void> };
  coder: StripeCoder;
  /** Whether to leave the tracker's audits unanswered (a fault the end-to-end tests switch on). */
  silentAudits?: () => boolean;
}

/** What the browser must keep free for everything else, whatever the peer offers. */
const HEADROOM = 64 * MiB;
/** What a new peer lends until its person chooses (the welcome says so). */
export const DEFAULT_OFFER = GiB;
/** Room a receive holds while it runs: offer bytes not yet in a replica record, and bytes not yet written. */
interface Hold {
  unrecorded: number;
  unwritten: number;
}

export class Hosting {
  /** Bytes offered to the cloud. */
  capacity = $state(0);
  /** What the browser lets this origin store at most, and uses now. */
  quota = $state<number | undefined>();
  usage = $state<number | undefined>();
  persisted = $state<boolean | undefined>();
  /** Bytes of other peers' replicas held here (verified or arriving). */
  hostedBytes = $state(0);
  replicaCount = $state(0);
  activeTransfers = $state(0);

  readonly #session: Session;
  readonly #notices: Notices;
  #tracker: TrackerClient | undefined;
  /** Room held by the receives under way, so that two at once can't both take the last space. */
  readonly #holds = new Set<Hold>();
  /** A write hit the browser's quota: the offer is lowered once the receives are over. */
  #overQuota = false;
  #links: LinkPool | undefined;
  readonly #stores: HostingStores;

  constructor(session: Session, notices: Notices, stores: HostingStores) {
    this.#session = session;
    this.#notices = notices;
    this.#stores = stores;
    session.whenPeer((tracker) => this.#start(tracker));
    session.whenStopped(() => this.#stop());
  }

  /** The most that can be offered: what the browser allows, less what is used for other things. */
  get maxCapacity(): number {
    if (this.quota === undefined || this.usage === undefined) return this.capacity;
    return Math.max(0, this.quota - (this.usage - this.hostedBytes) - HEADROOM);
  }

  async load(): Promise<void> {
    await this.#refreshEstimate();
    this.persisted = await navigator.storage.persisted();
    // Replicas left half-written stay: their owner may resume. The tracker's answer to the
    // inventory says which of them (and of the rest) are no longer wanted.
    await this.#refreshHosted();
    const settings = await this.#stores.settings.load();
    this.capacity = Math.min(settings.capacity ?? Math.min(DEFAULT_OFFER, Math.floor(this.maxCapacity / 2)), this.maxCapacity);
  }

  /** The answer to the last request for persistent storage, for the page to say so. */
  persistenceAnswer = $state<'granted' | 'refused' | undefined>();

  async requestPersistence(): Promise<void> {
    this.persisted = await navigator.storage.persist();
    this.persistenceAnswer = this.persisted ? 'granted' : 'refused';
  }

  /** Changes the offer (bounded by what the browser allows) and tells the tracker. */
  async setCapacity(bytes: number): Promise<void> {
    this.capacity = Math.max(0, Math.min(Math.floor(bytes), this.maxCapacity));
    await this.#stores.settings.save({ capacity: this.capacity });
    await this.report();
  }

  /** Reports capacity and use; the answer carries this peer's status and the cloud's settings. */
  async report(): Promise<void> {
    const tracker = this.#tracker;
    if (!tracker || tracker.state !== 'online') return;
    const { peer, config } = await tracker.request('peer:report', { capacity: this.capacity, used: this.hostedBytes });
    this.#session.setReport(peer, config);
  }

  #start(tracker: TrackerClient): void {
    this.#tracker = tracker;
    const links = (this.#links = new LinkPool(tracker, () => this.#session.linkSettings));
    const deps: HostDeps = {
      tracker,
      openLink: links.open,
      store: this.#stores.hosted,
      coder: this.#stores.coder,
      admit: (recordBytes, writeBytes) => this.#admit(recordBytes, writeBytes),
      canServe: () => this.activeTransfers < (this.#session.config?.maxHostTransfers ?? Infinity),
      events: {
        changed: () => this.#refreshHosted(),
        quotaExceeded: () => (this.#overQuota = true),
        serving: (delta) => (this.activeTransfers += delta),
        debug: (context, detail) => this.#notices.debug(context, detail),
      },
    };
    const rebuilds = new Rebuilds(deps);
    tracker.onOnline(() => {
      this.#reconcile().catch((error: unknown) => this.#notices.error('Could not report this peer’s storage to the tracker', error));
    });
    // What fails before a transfer has its own error handling (storage unreadable) is shown, not lost.
    const shown = (work: Promise<void>) => work.catch((error: unknown) => this.#notices.error('A hosting task failed', error));
    tracker.on('transfer:open', (offer) => {
      if (offer.role === 'sender') void shown(serveFragment(offer, false, deps));
      else if (offer.rebuild) void shown(rebuilds.offer(offer));
      else void shown(receiveFragment(offer, deps));
    });
    // A repair: the new host is listening, and this host, holding a live fragment, sends it.
    tracker.on('transfer:ready', (offer) => {
      if (offer.kind === 'repair' && offer.role === 'sender') void shown(serveFragment(offer, true, deps));
    });
    tracker.on('replica:drop', ({ fileIds }) => {
      void shown(this.#drop(fileIds));
    });
    // The tracker asks for proof of what is held here, now and then.
    tracker.on('audit:challenge', (challenge) => {
      if (this.#stores.silentAudits?.()) return;
      void answerAudit(tracker, this.#stores.hosted, challenge).catch((error: unknown) => this.#notices.debug('audit', error));
    });
  }

  #stop(): void {
    this.#links?.failAll('This tab is no longer the peer.');
    this.#links = undefined;
    this.#tracker = undefined;
  }

  /** After each (re)connection: report, then list what is held so the tracker can say what to drop. */
  async #reconcile(): Promise<void> {
    await this.report();
    const tracker = this.#tracker!;
    const held = (await this.#stores.hosted.replicas()).map((replica) => ({ fileId: replica.fileId, root: replica.state === 'stored' ? replica.root : null }));
    // At least one page, even empty: the last one tells the tracker the list is complete.
    for (let at = 0; at === 0 || at < held.length; at += INVENTORY_PAGE) {
      const page = held.slice(at, at + INVENTORY_PAGE);
      const { drop } = await tracker.request('host:inventory', { replicas: page, last: at + INVENTORY_PAGE >= held.length });
      if (drop.length > 0) await this.#drop(drop);
    }
  }

  async #drop(fileIds: string[]): Promise<void> {
    for (const fileId of fileIds) await this.#stores.hosted.remove(fileId);
    await this.#refreshHosted();
    await this.report().catch((error: unknown) => this.#notices.error('Could not report this peer’s storage to the tracker', error));
  }

  /**
   * Takes a receive on if there is room: `recordBytes` new bytes of offer (a replica record
   * not saved yet; saved ones are in `hostedBytes`) and `writeBytes` still to be written to the
   * browser's storage. The room is held before anything is awaited, so that offers arriving
   * together are weighed one after the other. Returns the room, or why not.
   */
  async #admit(recordBytes: number, writeBytes: number): Promise<Room | RejectReason> {
    const config = this.#session.config;
    if (config && this.activeTransfers >= config.maxHostTransfers) return 'busy';
    const held = (key: keyof Hold) => [...this.#holds].reduce((sum, hold) => sum + hold[key], 0);
    if (recordBytes > this.capacity - this.hostedBytes - held('unrecorded')) return 'no_space';
    const hold: Hold = { unrecorded: recordBytes, unwritten: writeBytes };
    this.#holds.add(hold);
    this.activeTransfers++;
    const release = () => {
      if (this.#holds.delete(hold)) this.activeTransfers--;
      if (this.#overQuota && this.#holds.size === 0) void this.#shrinkToHeld();
    };
    // Without a fresh estimate, the last one serves: the hold must not be left behind by a throw.
    await this.#refreshEstimate().catch((error: unknown) => this.#notices.debug('storage estimate', error));
    // The browser itself may have less room than was offered (the disk filled up since).
    if (this.quota !== undefined && this.usage !== undefined && held('unwritten') > this.quota - this.usage - HEADROOM) {
      release();
      return 'no_space';
    }
    return {
      recorded: () => (hold.unrecorded = 0),
      wrote: (bytes) => (hold.unwritten = Math.max(0, hold.unwritten - bytes)),
      release,
    };
  }

  /** A write hit the browser's quota: once the receives are over, the offer is what is really held. */
  async #shrinkToHeld(): Promise<void> {
    this.#overQuota = false;
    await this.#refreshHosted();
    await this.setCapacity(this.hostedBytes).catch((error: unknown) => this.#notices.error('Could not lower the storage offered', error));
    this.#notices.info(`This browser ran out of storage space: the offer is now ${formatBytes(this.capacity)}, what it really holds.`);
  }

  async #refreshHosted(): Promise<void> {
    const replicas = await this.#stores.hosted.replicas();
    this.hostedBytes = replicas.reduce((sum, replica) => sum + replica.bytes, 0);
    this.replicaCount = replicas.filter((replica) => replica.state === 'stored').length;
  }

  async #refreshEstimate(): Promise<void> {
    const estimate = await navigator.storage.estimate();
    this.quota = estimate.quota;
    this.usage = estimate.usage;
  }
}
