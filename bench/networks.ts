/**
 * Benchmarks between separate networks: two browsers on two homes of the network lab
 * (tests/support/topology.ts), each behind its own NAT router, with coturn on the server
 * network. A profile sets the NAT mode, whether the channel is relayed through coturn, and the
 * shape of each home's link. A shaped link is a tbf rate limit in both directions, random loss of
 * packets leaving each home and a delay on their way out (this kernel has no netem: a user-space
 * delay line, tests/support/delay-line.py), so that two homes are a home broadband round trip apart.
 *
 * Each run of a profile measures a raw data channel from home 0 to home 1, then, on the same
 * link and in the same run, Peercloud's own upload (owner in home 0, its one host in home 1)
 * and download of a file of the same size (bench/lab-cloud.ts), each as a ratio to that run's
 * raw channel. The CPU every process of the lab spent (browsers, coturn, the tracker) is read
 * from /proc over each transfer, because on this machine the CPU, not the link, sets the pace.
 *
 * For bench/run.ts (and whoever compares something else with the raw channel on the same link):
 *   const bench = await openNetworkBench();
 *   const rtc = await bench.use(profile);            // NAT mode, shaping, ICE configuration per side
 *   const raw = await bench.measureChannel(profile, bytes, rtc);
 *   const cloud = await openLabCloud(bench.lab, bench.relay);   // Peercloud on the lab
 *   await bench.close();
 * `npm run bench` measures every profile (unless BENCH_NETWORKS=0); `BENCH_ONLY=networks npm run bench`
 * measures only these and rewrites only the "Separate networks" section of docs/BENCHMARKS.md.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { channelThroughput, closeChannel, openChannel, selectedPair } from '../tests/support/data-channel.ts';
import { openLab, type Lab } from '../tests/support/lab.ts';
import { isRoot } from '../tests/support/debian.ts';
import { startDeployCoturn, type DeployCoturn } from '../tests/support/lab-deploy.ts';
import { turnCredentials } from '../tests/support/lab-services.ts';
import type { LinkShape, NatMode } from '../tests/support/topology.ts';
import { lendFor, openLabCloud, type CloudTransfer, type LabCloud, type LabRelay } from './lab-cloud.ts';
import { writeRandomFile } from './peer-tabs.ts';
import { median } from './report.ts';
import type { NetworkFigure, TransferFigure } from './networks-report.ts';
import { processTimes } from './process-cpu.ts';

export interface NetworkProfile {
  name: string;
  /**
   * `homes` (default): one browser in each home, through both routers. `contexts`: two contexts
   * of the browser in home 0, the main baseline's setup, as a reference measured in the same run.
   */
  between?: 'homes' | 'contexts';
  nat: NatMode;
  /** Both sides relay-only through coturn (`iceTransportPolicy: 'relay'`); otherwise STUN only. */
  relay: boolean;
  /** Applied to every home's link; none: the veth pairs as they are. */
  shape?: LinkShape;
  /** Also measure Peercloud's own upload and download on this link, in every run, after the raw channel. */
  peercloud?: boolean;
}

/**
 * A home broadband link: 100 Mbit/s each way, 0.2 % of packets lost on the way out, 20 ms added
 * on the way out of each home: 40 ms round trip between two homes (direct, or through the relay).
 */
export const SHAPED_LINK: LinkShape = { rateMbit: 100, lossPermille: 2, delayMs: 20 };

export const BENCH_TURN_SECRET = 'bench-turn-secret';

export const NETWORK_PROFILES: NetworkProfile[] = [
  { name: 'reference: two contexts of one browser', between: 'contexts', nat: 'cone', relay: false },
  { name: 'direct', nat: 'cone', relay: false, peercloud: true },
  { name: 'relayed', nat: 'symmetric', relay: true, peercloud: true },
  { name: 'shaped direct', nat: 'cone', relay: false, shape: SHAPED_LINK, peercloud: true },
  { name: 'shaped relayed', nat: 'symmetric', relay: true, shape: SHAPED_LINK, peercloud: true },
];

/** The profiles named in `names` (comma-separated, as BENCH_NETWORK_PROFILES), or all of them. */
export function networkProfiles(names: string | undefined): NetworkProfile[] {
  if (!names?.trim()) return NETWORK_PROFILES;
  return names.split(',').map((name) => {
    const profile = NETWORK_PROFILES.find((candidate) => candidate.name === name.trim());
    if (!profile) throw new Error(`BENCH_NETWORK_PROFILES: no profile "${name.trim()}" (there are: ${NETWORK_PROFILES.map((candidate) => candidate.name).join(', ')})`);
    return profile;
  });
}

/** What the lab spent moving some bytes, read from /proc around the transfer. */
export interface LabCost {
  /** CPU time of every process in the lab (browsers, coturn, the tracker) per MB moved. */
  cpuMsPerMB: number;
  /** That CPU time as a share of all the machine's cores over the transfer (1 = all of them). */
  cpuShare: number;
  /** The machine's load average when the transfer began: how much else was running. */
  load: number;
}

export interface ChannelMeasurement extends LabCost {
  mbps: number;
  /** The selected candidate pair on the sender, "srflx → srflx" or "relay → relay". */
  path: string;
}

export interface NetworkBench {
  lab: Lab;
  /** coturn on the server network (deploy/turnserver.conf): STUN and TURN for the raw channels and Peercloud's tracker. */
  relay: LabRelay;
  /** Sets the lab's NAT mode and every home's link for `profile`; each side's RTCConfiguration for a raw channel. */
  use(profile: NetworkProfile): Promise<RawConfig>;
  /** A raw data channel from home 0 to home 1 (`rtc` from use(profile)): MB/s of `bytes`, the path, the CPU. */
  measureChannel(profile: NetworkProfile, bytes: number, rtc: RawConfig): Promise<ChannelMeasurement>;
  close(): Promise<void>;
}

type RawConfig = { offerer: RTCConfiguration; answerer: RTCConfiguration };

export function networkBenchAvailable(): boolean {
  return isRoot && process.env.PEERCLOUD_NETLAB !== 'off';
}

export function describeLink(profile: NetworkProfile): string {
  if (profile.between === 'contexts') return 'one home, no router crossed; no ICE servers';
  const shape = profile.shape;
  const link = shape?.rateMbit
    ? `${shape.rateMbit} Mbit/s${shape.lossPermille ? `, ${shape.lossPermille / 10} % loss out of each home` : ''}${shape.delayMs ? `, ${2 * shape.delayMs} ms round trip between homes` : ''}`
    : 'unshaped veth';
  return `${profile.nat} NAT, ${profile.relay ? 'TURN relay only' : 'STUN'}; ${link}`;
}

/**
 * CPU milliseconds used so far by these processes (all their threads, not their children: those
 * are in the list too). A process gone counts 0: the time it used is gone with it, and it was not
 * moving our bytes.
 */
function cpuMsOf(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (processTimes(pid)?.own ?? 0) * 1000, 0);
}

/** Runs `work`, which moves `bytes`, and what every process of the lab spent on it. */
export async function metered<T>(lab: Lab, bytes: number, work: () => Promise<T>): Promise<{ result: T } & LabCost> {
  const pids = await lab.net.pids();
  const load = loadavg()[0]!;
  const cpuBefore = cpuMsOf(pids);
  const start = performance.now();
  const result = await work();
  const elapsedMs = performance.now() - start;
  const cpuMs = cpuMsOf(pids) - cpuBefore;
  return { result, cpuMsPerMB: cpuMs / (bytes / 1e6), cpuShare: cpuMs / elapsedMs / cpus().length, load };
}

export async function openNetworkBench(): Promise<NetworkBench> {
  const lab = await openLab({ homes: 2, nat: 'cone' });
  // coturn as docs/DEPLOY.md configures it (deploy/turnserver.conf): it relays only to relay
  // addresses on the server, so two homes meet relay to relay. The lab's own coturn, which relays
  // to any address, let Peercloud's ICE pick relay → prflx pairs that connected and then failed.
  let coturn: DeployCoturn;
  try {
    coturn = await startDeployCoturn(lab.net, { secret: BENCH_TURN_SECRET });
  } catch (error) {
    await lab.close().catch(() => undefined); // the first error is the one worth reporting
    throw error;
  }
  let pages: { homes: [Page, Page]; contexts: [Page, Page] } | undefined;
  const bench: NetworkBench = {
    lab,
    relay: { stunUrl: coturn.stunUrl, turnUrl: coturn.turnUrl, secret: BENCH_TURN_SECRET },
    async use(profile) {
      await lab.net.setNat(profile.nat);
      await Promise.all(lab.net.homes.map((home) => lab.net.shape(home.index, profile.shape ?? {})));
      const config = (id: string): RTCConfiguration =>
        profile.relay
          ? { iceServers: [{ urls: coturn.stunUrl }, { urls: coturn.turnUrl, ...turnCredentials(BENCH_TURN_SECRET, id, 3600) }], iceTransportPolicy: 'relay' }
          : { iceServers: [{ urls: coturn.stunUrl }] };
      return { offerer: config('bench-0'), answerer: config('bench-1') };
    },
    async measureChannel(profile, bytes, rtc) {
      // RTCPeerConnection needs no particular origin: blank pages, nothing else running in them.
      pages ??= {
        homes: [await lab.browsers[0]!.newPage(), await lab.browsers[1]!.newPage()],
        contexts: [await lab.browsers[0]!.newPage(), await (await lab.browsers[0]!.newContext()).newPage()],
      };
      const [sender, receiver] = profile.between === 'contexts' ? pages.contexts : pages.homes;
      try {
        const attempt = await openChannel(sender, receiver, rtc, 15_000);
        if (!attempt.open) throw new Error(`${profile.name}: the channel did not open (${JSON.stringify(attempt)})`);
        const pair = await selectedPair(sender);
        const { result: mbps, ...cost } = await metered(lab, bytes, () => channelThroughput(sender, receiver, bytes));
        return { mbps, path: `${pair.local.type} → ${pair.remote.type}`, ...cost };
      } finally {
        await Promise.all([closeChannel(sender), closeChannel(receiver)]);
      }
    },
    async close() {
      await coturn.stop().catch((error: unknown) => console.warn('coturn did not stop cleanly:', error));
      await lab.close();
    },
  };
  return bench;
}

const NO_ICE_SERVERS: RawConfig = { offerer: { iceServers: [] }, answerer: { iceServers: [] } };

function transferFigure(runs: (CloudTransfer & LabCost)[], raws: ChannelMeasurement[]): TransferFigure {
  const phased = runs.flatMap((run, index) => (run.phases ? [{ phases: run.phases, raw: raws[index]! }] : []));
  const rtts = runs.flatMap((run) => (run.rttMs === undefined ? [] : [run.rttMs]));
  return {
    phases:
      phased.length > 0
        ? {
            beforeMs: median(phased.map(({ phases }) => phases.beforeMs)),
            streamMBps: median(phased.map(({ phases }) => phases.streamMBps)),
            streamRatio: median(phased.map(({ phases, raw }) => phases.streamMBps / raw.mbps)),
            afterMs: median(phased.map(({ phases }) => phases.afterMs)),
            afterLastByteMs: median(phased.map(({ phases }) => phases.afterLastByteMs)),
          }
        : undefined,
    rttMs: rtts.length > 0 ? median(rtts) : undefined,
    mbps: median(runs.map((run) => run.mbps)),
    runs: runs.map((run) => run.mbps),
    ratio: median(runs.map((run, index) => run.mbps / raws[index]!.mbps)),
    ratios: runs.map((run, index) => run.mbps / raws[index]!.mbps),
    cpuMsPerMB: median(runs.map((run) => run.cpuMsPerMB)),
    cpuRatio: median(runs.map((run, index) => run.cpuMsPerMB / raws[index]!.cpuMsPerMB)),
    cpuShare: median(runs.map((run) => run.cpuShare)),
  };
}

const distinct = (paths: string[]) => [...new Set(paths)].join(' / ');

/** Every profile, `runs` times each, `bytes` per run (medians), and the version of the Chromium measured. */
export async function measureNetworkProfiles(options: { bytes: number; runs: number; profiles?: NetworkProfile[] }): Promise<{ figures: NetworkFigure[]; chromium: string }> {
  const bench = await openNetworkBench();
  const chromium = bench.lab.browsers[0]!.version();
  const figures: NetworkFigure[] = [];
  let cloud: LabCloud | undefined;
  try {
    // One file for every Peercloud upload: random bytes, checked on every download.
    const filePath = join(bench.lab.net.dir, 'bench-file.bin');
    const sha256 = await writeRandomFile(filePath, options.bytes);
    for (const profile of options.profiles ?? NETWORK_PROFILES) {
      const rtc = profile.between === 'contexts' ? NO_ICE_SERVERS : await bench.use(profile);
      // New pages after use(): the routers' translations were just flushed.
      const peers = profile.peercloud ? await (cloud ??= await openLabCloud(bench.lab, bench.relay)).openPeers(lendFor(options.bytes, options.runs)) : undefined;
      const raws: ChannelMeasurement[] = [];
      const uploads: (CloudTransfer & LabCost)[] = [];
      const downloads: (CloudTransfer & LabCost)[] = [];
      // A Peercloud transfer that fails is a finding to report beside the figures, not a reason to lose the other profiles.
      let failure: string | undefined;
      try {
        for (let run = 0; run < options.runs; run++) {
          const raw = await bench.measureChannel(profile, options.bytes, rtc);
          raws.push(raw);
          const runName = `  ${profile.name}, run ${run + 1}/${options.runs}`;
          console.log(
            `${runName}: raw ${raw.mbps.toFixed(1)} MB/s over ${raw.path}; ` +
              `lab CPU ${raw.cpuMsPerMB.toFixed(0)} ms/MB, ${(raw.cpuShare * 100).toFixed(0)} % of the cores; load ${raw.load.toFixed(1)}`,
          );
          if (!peers || failure) continue;
          const name = `net-${profile.name.replaceAll(/\W+/g, '-')}-${run + 1}.bin`;
          let step = 'upload';
          try {
            const { result: up, ...upCost } = await metered(bench.lab, options.bytes, () => peers.upload(filePath, name, options.bytes));
            uploads.push({ ...up, ...upCost });
            step = 'download';
            const { result: down, ...downCost } = await metered(bench.lab, options.bytes, () => peers.download(name, options.bytes, sha256));
            downloads.push({ ...down, ...downCost });
          } catch (error) {
            failure = `${step} of run ${run + 1} failed: ${(error as Error).message.split('\n')[0]}`;
            console.error(`${runName}: Peercloud's ${failure}`);
            continue;
          }
          const up = uploads.at(-1)!;
          const down = downloads.at(-1)!;
          const phases = (transfer: CloudTransfer) =>
            transfer.phases
              ? `; ${(transfer.phases.beforeMs / 1000).toFixed(2)} s before the stream, ${transfer.phases.streamMBps.toFixed(1)} MB/s in it, ${(transfer.phases.afterMs / 1000).toFixed(2)} s after (${(transfer.phases.afterLastByteMs / 1000).toFixed(2)} s of it after the last byte)` +
                `${transfer.rttMs === undefined ? '' : `, ICE round trip ${transfer.rttMs.toFixed(0)} ms`}`
              : '';
          console.log(
            `${runName}: Peercloud upload ${up.mbps.toFixed(1)} MB/s (${(up.mbps / raw.mbps).toFixed(2)}×, ${up.cpuMsPerMB.toFixed(0)} ms/MB) over ${up.path}${phases(up)}; ` +
              `download ${down.mbps.toFixed(1)} MB/s (${(down.mbps / raw.mbps).toFixed(2)}×, ${down.cpuMsPerMB.toFixed(0)} ms/MB) over ${down.path}${phases(down)}`,
          );
        }
      } finally {
        await peers?.close();
      }
      figures.push({
        profile: profile.name,
        link: describeLink(profile),
        linkMBps: profile.between !== 'contexts' && profile.shape?.rateMbit ? profile.shape.rateMbit / 8 : undefined,
        path: distinct(raws.map((run) => run.path)),
        mbps: median(raws.map((run) => run.mbps)),
        runs: raws.map((run) => run.mbps),
        cpuMsPerMB: median(raws.map((run) => run.cpuMsPerMB)),
        cpuShare: median(raws.map((run) => run.cpuShare)),
        load: median(raws.map((run) => run.load)),
        peercloud:
          uploads.length > 0 && downloads.length > 0
            ? { upload: transferFigure(uploads, raws), download: transferFigure(downloads, raws), path: distinct([...uploads, ...downloads].map((run) => run.path)) }
            : undefined,
        peercloudFailure: failure,
      });
    }
  } finally {
    const steps = await Promise.allSettled([cloud?.close()]);
    await bench.close();
    const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
    if (failed) throw failed.reason;
  }
  return { figures, chromium };
}
