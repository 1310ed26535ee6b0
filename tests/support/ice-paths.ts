/**
 * What ICE chose for a page's data channels: an init script that wraps RTCPeerConnection (a
 * test-only observer: the page's own code is unchanged and unaware of it) and samples each
 * connection's selected candidate pair with getStats. Used by the network lab's specs
 * (tests/e2e/fixtures/lab-peers.ts) and its benchmark (bench/networks.ts), which must say which
 * path Peercloud's own transfers took.
 */
import type { BrowserContext, Page } from '@playwright/test';

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

/** One RTCPeerConnection the page made, as ICE left it. */
export interface IcePath {
  /** The configuration the page gave it: its ICE servers' URLs and transport policy. */
  urls: string[];
  policy: RTCIceTransportPolicy;
  /** Every connectionState it went through. */
  states: RTCPeerConnectionState[];
  /** The selected candidate pair at its last sample (while connected, and once more at close). */
  local?: CandidateType;
  remote?: CandidateType;
  remoteAddress?: string;
  /** Bytes over the selected pair, both ways, at the last sample: what went over that path. */
  bytes: number;
  /** The selected pair's round-trip time (STUN consent checks), ms, at the last sample that had one. */
  rttMs?: number;
  /**
   * Every sample while connected (each 200 ms): epoch ms, and bytes sent and received over the
   * selected pair so far. When the bytes moved tells where a transfer's time went (bench/transfer-phases.ts).
   */
  samples: IceSample[];
  /** Epoch ms when the page made it, and when it first reached 'connected'. */
  createdAt: number;
  connectedAt?: number;
}

export interface IceSample {
  at: number;
  sent: number;
  received: number;
}

interface WatchedWindow {
  __icePaths?: IcePath[];
}

/**
 * Installed before any page script runs: every RTCPeerConnection the page makes (simple-peer
 * takes the global constructor when it makes one) is an instance of a subclass that samples
 * its selected candidate pair with getStats while it is connected, and once more when closed.
 * Code run by tsx (the bench) has its inner functions wrapped in a `__name()` the page lacks
 * (DEVELOPERS.md on tsx's keepNames): `watchIcePaths` gives it a do-nothing one.
 */
function watchIce(): void {
  const Native = window.RTCPeerConnection;
  const paths: IcePath[] = [];
  const pathOf = new WeakMap<RTCPeerConnection, IcePath>();
  (window as WatchedWindow).__icePaths = paths;
  const sample = (pc: RTCPeerConnection, path: IcePath) => {
    const asked = performance.timeOrigin + performance.now();
    return pc
      .getStats()
      .then((stats) => {
        const byId = new Map<string, Record<string, unknown>>();
        stats.forEach((entry: Record<string, unknown>) => byId.set(entry.id as string, entry));
        const transport = [...byId.values()].find((entry) => entry.type === 'transport' && entry.selectedCandidatePairId);
        const pair = transport && byId.get(transport.selectedCandidatePairId as string);
        if (!pair) return;
        const local = byId.get(pair.localCandidateId as string);
        const remote = byId.get(pair.remoteCandidateId as string);
        path.local = local?.candidateType as CandidateType;
        path.remote = remote?.candidateType as CandidateType;
        path.remoteAddress = remote?.address as string;
        path.bytes = Math.max(path.bytes, Number(pair.bytesSent ?? 0) + Number(pair.bytesReceived ?? 0));
        if (typeof pair.currentRoundTripTime === 'number') path.rttMs = pair.currentRoundTripTime * 1000;
        // When the counters were read: the report's own timestamp (epoch ms in Chromium), not when a busy page got the answer.
        const at = typeof pair.timestamp === 'number' && pair.timestamp > 1e12 ? pair.timestamp : asked;
        path.samples.push({ at, sent: Number(pair.bytesSent ?? 0), received: Number(pair.bytesReceived ?? 0) });
      })
      .catch(() => undefined);
  };
  class Watched extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      const path: IcePath = {
        urls: (configuration?.iceServers ?? []).flatMap((server) => [server.urls].flat()),
        policy: configuration?.iceTransportPolicy ?? 'all',
        states: [],
        bytes: 0,
        samples: [],
        createdAt: performance.timeOrigin + performance.now(),
      };
      paths.push(path);
      pathOf.set(this, path);
      let timer: ReturnType<typeof setInterval> | undefined;
      this.addEventListener('connectionstatechange', () => {
        path.states.push(this.connectionState);
        if (this.connectionState === 'connected' && timer === undefined) {
          path.connectedAt = performance.timeOrigin + performance.now();
          void sample(this, path);
          timer = setInterval(() => void sample(this, path), 200);
        }
        if (this.connectionState === 'closed' || this.connectionState === 'failed') clearInterval(timer);
      });
    }

    override close(): void {
      // The last figures: asked before the close, answered from what the connection had.
      const path = pathOf.get(this);
      if (path) void sample(this, path);
      super.close();
    }
  }
  window.RTCPeerConnection = Watched;
}

/** Makes every page of `context` record its RTCPeerConnections' paths, from before any page script runs. */
export async function watchIcePaths(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: `(() => { const __name = (target) => target; (${watchIce.toString()})(); })();` });
}

/** Every RTCPeerConnection a watched page made so far, in order. */
export async function icePaths(page: Page): Promise<IcePath[]> {
  return page.evaluate(() => (window as WatchedWindow).__icePaths ?? []);
}
