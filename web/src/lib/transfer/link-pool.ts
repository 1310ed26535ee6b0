/**
 * The open peer-to-peer links of this tab, made the one way they are made (the tracker's ICE
 * servers and connect timeout), and all failed at once when the tab stops being the peer.
 */
import type { TransferOffer } from '../../../../shared/protocol.ts';
import { PeerLink, type PeerLinkOptions } from '../net/peer-link.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import type { Link } from './link.ts';

export type OpenLink = (offer: TransferOffer, initiator: boolean) => Link;

export class LinkPool {
  readonly #links = new Set<Link>();

  constructor(
    private readonly tracker: TrackerClient,
    private readonly settings: () => Pick<PeerLinkOptions, 'iceServers' | 'connectTimeoutMs' | 'uplinkBytesPerSecond'>,
  ) {}

  readonly open: OpenLink = (offer, initiator) => {
    const link = new PeerLink({ transferId: offer.transferId, initiator, tracker: this.tracker, ...this.settings() });
    this.#links.add(link);
    // Forgotten once over, however it ended.
    void link.ended.then(() => this.#links.delete(link));
    return link;
  };

  failAll(reason: string): void {
    for (const link of this.#links) link.fail('CANCELLED', reason);
    this.#links.clear();
  }
}
