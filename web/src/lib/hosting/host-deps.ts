/**
 * What the host-side protocols (receive, serve, rebuild) are given by the one that wires them
 * (state/hosting.svelte.ts): the tracker, how links are opened, the storage, and room to
 * receive into. Nothing here is imported at module level by the protocols themselves, so that
 * unit tests hand in memory links and a memory store.
 */
import type { RejectReason } from '../../../../shared/protocol.ts';
import type { StripeCoder } from '../erasure/stripe-coder.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import type { HostedStore } from '../storage/browser-db.ts';
import type { OpenLink } from '../transfer/link-pool.ts';

/**
 * Room held for one receive while it runs. It is taken before anything is awaited (so that
 * offers arriving together are weighed one after the other) and given back when the receive
 * ends, however it ends.
 */
export interface Room {
  /** The replica's record was saved: its bytes count in what is hosted from now on. */
  recorded(): void;
  /** Bytes were written to the browser's storage. */
  wrote(bytes: number): void;
  release(): void;
}

export interface HostDeps {
  tracker: Pick<TrackerClient, 'request'>;
  openLink: OpenLink;
  store: HostedStore;
  coder: StripeCoder;
  /** Room for `recordBytes` of new replica and `writeBytes` still to write, or why not. */
  admit(recordBytes: number, writeBytes: number): Promise<Room | RejectReason>;
  /** Whether another transfer may be served now. */
  canServe(): boolean;
  events: {
    /** What is hosted changed (a replica recorded, stored, removed): counters are refreshed. */
    changed(): Promise<void>;
    /** The browser refused a write for want of space: the offer is lowered afterwards. */
    quotaExceeded(): void;
    /** A transfer starts or stops being served (for the page's count). */
    serving(delta: 1 | -1): void;
    /** For developers: an expected race (the tracker ended a transfer first, say). */
    debug(context: string, detail: unknown): void;
  };
}
