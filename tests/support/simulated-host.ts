/**
 * A host played by Node for the tracker's crash tests: it accepts every store, "writes" it at
 * once and confirms the root it was sent, drops what it is told to, and after every
 * (re)connection reports its capacity and full inventory, as the browser host does.
 */
import { INVENTORY_PAGE } from '../../shared/protocol.ts';
import { GiB } from '../../shared/units.ts';
import { rootOf } from './fake-replica.ts';
import { NodePeer } from './node-peer.ts';

export class SimulatedHost {
  private constructor(
    readonly peer: NodePeer,
    /** fileId → the root it holds complete, or null while partial: its "IndexedDB", which outlives a session. */
    readonly held: Map<string, string | null>,
  ) {
    peer.client.on('transfer:open', (offer) => {
      if (offer.kind === 'fetch') return;
      void (async () => {
        await peer.request('transfer:accept', { transferId: offer.transferId });
        // Like the browser host: written and verified first, then confirmed.
        const root = await rootOf(offer.size, offer.chunkSize);
        this.held.set(offer.fileId, root);
        await peer.request('replica:stored', { transferId: offer.transferId, sha256: root });
      })().catch(() => {
        // The tracker went away mid-way (that is the test): what is held stays as it is.
      });
    });
    peer.client.on('replica:drop', ({ fileIds }) => fileIds.forEach((id) => this.held.delete(id)));
    peer.client.onOnline(() => {
      this.reported = this.report().catch(() => undefined);
    });
  }

  /** The report after the latest (re)connection: once settled, the tracker has reconciled this host's inventory. */
  reported: Promise<void> = Promise.resolve();

  static async start(url: string, options: { keys?: CryptoKeyPair; reconnect?: boolean; held?: Map<string, string | null>; requestTimeoutMs?: number } = {}): Promise<SimulatedHost> {
    const connection = { reconnect: options.reconnect ?? true, ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}) };
    const host = new SimulatedHost(await NodePeer.connect(url, options.keys, connection), options.held ?? new Map());
    await host.report();
    return host;
  }

  async report(): Promise<void> {
    await this.peer.request('peer:report', { capacity: 10 * GiB, used: 0 });
    const all = [...this.held].map(([fileId, root]) => ({ fileId, root }));
    for (let at = 0; at === 0 || at < all.length; at += INVENTORY_PAGE) {
      const { drop } = await this.peer.request('host:inventory', { replicas: all.slice(at, at + INVENTORY_PAGE), last: at + INVENTORY_PAGE >= all.length });
      for (const id of drop) this.held.delete(id);
    }
  }
}
