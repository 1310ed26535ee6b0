/**
 * Benchmarks between separate networks: two browsers on two homes of the network lab
 * (tests/support/topology.ts), each behind its own NAT router, with coturn on the server
 * network. A profile sets the NAT mode, whether the channel is relayed through coturn, and the
 * shape of each home's link. This kernel has no netem, so no added delay: a shaped link is a
 * tbf rate limit in both directions and random loss of packets leaving each home.
 *
 * For bench/run.ts (and whoever compares Peercloud with the raw channel on the same link):
 *   const bench = await openNetworkBench();
 *   const rtc = await bench.use(profile);            // NAT mode, shaping, ICE configuration per side
 *   const raw = await bench.measureChannel(profile, bytes);
 *   … start the tracker with bench.lab.net.exec / startProcess, open pages in bench.lab.browsers …
 *   await bench.close();
 * `npm run bench` measures every profile (unless BENCH_NETWORKS=0); `BENCH_ONLY=networks npm run bench`
 * measures only these and rewrites only the "Separate networks" section of docs/BENCHMARKS.md.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Page } from '@playwright/test';
import { MiB } from '../shared/units.ts';
import { channelThroughput, closeChannel, openChannel, selectedPair } from '../tests/support/data-channel.ts';
import { openLab, type Lab } from '../tests/support/lab.ts';
import { isRoot } from '../tests/support/debian.ts';
import type { LinkShape, NatMode } from '../tests/support/topology.ts';
import { median } from './report.ts';

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
}

/** A home broadband link: 100 Mbit/s each way, 0.2 % of packets lost on the way out. */
export const SHAPED_LINK: LinkShape = { rateMbit: 100, lossPermille: 2 };

export const NETWORK_PROFILES: NetworkProfile[] = [
  { name: 'reference: one browser, two contexts', between: 'contexts', nat: 'cone', relay: false },
  { name: 'direct', nat: 'cone', relay: false },
  { name: 'relayed', nat: 'block', relay: true },
  { name: 'shaped direct', nat: 'cone', relay: false, shape: SHAPED_LINK },
  { name: 'shaped relayed', nat: 'block', relay: true, shape: SHAPED_LINK },
];

export interface ChannelMeasurement {
  mbps: number;
  /** The selected candidate pair on the sender, "srflx → srflx" or "relay → relay". */
  path: string;
  /** CPU time of every process in the lab (both browsers, coturn) per MB moved, from /proc. */
  cpuMsPerMB: number;
  /** That CPU time as a share of all the machine's cores over the transfer (1 = all of them). */
  cpuShare: number;
  /** The machine's load average when the transfer began: how much else was running. */
  load: number;
}

export interface NetworkBench {
  lab: Lab;
  /** Sets the lab's NAT mode and every home's link for `profile`; each side's RTCConfiguration for a raw channel. */
  use(profile: NetworkProfile): Promise<{ offerer: RTCConfiguration; answerer: RTCConfiguration }>;
  /** A raw data channel from home 0 to home 1 under `profile`: MB/s of `bytes`, the path, the CPU. */
  measureChannel(profile: NetworkProfile, bytes: number): Promise<ChannelMeasurement>;
  close(): Promise<void>;
}

export interface NetworkFigure {
  profile: string;
  link: string;
  path: string;
  mbps: number;
  runs: number[];
  cpuMsPerMB: number;
  cpuShare: number;
  load: number;
}

export function networkBenchAvailable(): boolean {
  return isRoot && process.env.PEERCLOUD_NETLAB !== 'off';
}

export function describeLink(profile: NetworkProfile): string {
  if (profile.between === 'contexts') return 'one home, no router crossed; no ICE servers';
  const shape = profile.shape;
  const link = shape?.rateMbit ? `${shape.rateMbit} Mbit/s${shape.lossPermille ? `, ${shape.lossPermille / 10} % loss out of each home` : ''}` : 'unshaped veth';
  return `${profile.nat} NAT, ${profile.relay ? 'TURN relay only' : 'STUN'}; ${link}`;
}

/** USER_HZ: /proc counts CPU time in ticks of 10 ms on Linux. */
const TICK_MS = 10;

/** CPU milliseconds used so far by these processes (all their threads; a process gone counts 0). */
function cpuMsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
    } catch {
      // the process ended: the time it used is gone with it, and it was not moving our bytes
    }
  }
  return ticks * TICK_MS;
}

export async function openNetworkBench(): Promise<NetworkBench> {
  const lab = await openLab({ homes: 2, nat: 'cone', turnSecret: 'bench-turn-secret', trustCa: false });
  let pages: { homes: [Page, Page]; contexts: [Page, Page] } | undefined;
  const bench: NetworkBench = {
    lab,
    async use(profile) {
      await lab.net.setNat(profile.nat);
      await Promise.all(lab.net.homes.map((home) => lab.net.shape(home.index, profile.shape ?? {})));
      const coturn = lab.coturn!;
      const config = (id: string): RTCConfiguration => (profile.relay ? { iceServers: coturn.iceServers(id), iceTransportPolicy: 'relay' } : { iceServers: [{ urls: coturn.stunUrl }] });
      return { offerer: config('bench-0'), answerer: config('bench-1') };
    },
    async measureChannel(profile, bytes) {
      // RTCPeerConnection needs no particular origin: blank pages, nothing else running in them.
      pages ??= {
        homes: [await lab.browsers[0]!.newPage(), await lab.browsers[1]!.newPage()],
        contexts: [await lab.browsers[0]!.newPage(), await (await lab.browsers[0]!.newContext()).newPage()],
      };
      const [sender, receiver] = profile.between === 'contexts' ? pages.contexts : pages.homes;
      const rtc = profile.between === 'contexts' ? { offerer: { iceServers: [] }, answerer: { iceServers: [] } } : await bench.use(profile);
      try {
        const attempt = await openChannel(sender, receiver, rtc, 15_000);
        if (!attempt.open) throw new Error(`${profile.name}: the channel did not open (${JSON.stringify(attempt)})`);
        const pair = await selectedPair(sender);
        const pids = await lab.net.pids();
        const load = loadavg()[0]!;
        const cpuBefore = cpuMsOf(pids);
        const start = performance.now();
        const mbps = await channelThroughput(sender, receiver, bytes);
        const elapsedMs = performance.now() - start;
        const cpuMs = cpuMsOf(pids) - cpuBefore;
        return { mbps, path: `${pair.local.type} → ${pair.remote.type}`, cpuMsPerMB: cpuMs / (bytes / 1e6), cpuShare: cpuMs / elapsedMs / cpus().length, load };
      } finally {
        await Promise.all([closeChannel(sender), closeChannel(receiver)]);
      }
    },
    close: () => lab.close(),
  };
  return bench;
}

/** Every profile, `runs` times each, `bytes` per run (medians), and the version of the Chromium measured. */
export async function measureNetworkProfiles(options: { bytes: number; runs: number; profiles?: NetworkProfile[] }): Promise<{ figures: NetworkFigure[]; chromium: string }> {
  const bench = await openNetworkBench();
  const chromium = bench.lab.browsers[0]!.version();
  const figures: NetworkFigure[] = [];
  try {
    for (const profile of options.profiles ?? NETWORK_PROFILES) {
      const runs: ChannelMeasurement[] = [];
      for (let run = 0; run < options.runs; run++) {
        const measured = await bench.measureChannel(profile, options.bytes);
        console.log(
          `  ${profile.name}, run ${run + 1}/${options.runs}: ${measured.mbps.toFixed(1)} MB/s over ${measured.path}; ` +
            `lab CPU ${measured.cpuMsPerMB.toFixed(0)} ms/MB, ${(measured.cpuShare * 100).toFixed(0)} % of the cores; load ${measured.load.toFixed(1)}`,
        );
        runs.push(measured);
      }
      const paths = [...new Set(runs.map((run) => run.path))];
      figures.push({
        profile: profile.name,
        link: describeLink(profile),
        path: paths.join(' / '),
        mbps: median(runs.map((run) => run.mbps)),
        runs: runs.map((run) => run.mbps),
        cpuMsPerMB: median(runs.map((run) => run.cpuMsPerMB)),
        cpuShare: median(runs.map((run) => run.cpuShare)),
        load: median(runs.map((run) => run.load)),
      });
    }
  } finally {
    await bench.close();
  }
  return { figures, chromium };
}

/** The "Separate networks" section of docs/BENCHMARKS.md. */
export function networksSection(figures: NetworkFigure[], meta: { date: string; machine: string; chromium: string; mebibytes: number; runs: number }): string {
  const round = (value: number) => Math.round(value * 10) / 10;
  const rows = figures.map(
    (figure) =>
      `| ${figure.profile} | ${figure.link} | ${figure.path} | ${round(figure.mbps)} | ${figure.runs.map(round).join(' / ')} | ${Math.round(figure.cpuMsPerMB)} | ${Math.round(figure.cpuShare * 100)} % | ${round(figure.load)} |`,
  );
  return `## Separate networks

Two Chromiums, each in its own home network behind its own NAT router, one raw RTCDataChannel
from one to the other (the same message size and backpressure policy as the baseline above), on
the network lab of the end-to-end tests (\`tests/support/topology.ts\`, DEVELOPERS.md). Direct: STUN
from coturn, hole punching through cone NATs. Relayed: routers that forward nothing but traffic to
the server, both sides relay-only through coturn (Debian's, on the server network). Shaped: tbf at
100 Mbit/s both ways on each home's router and 0.2 % of packets dropped on their way out of each
home (\`nft … numgen random\`); this kernel has no netem, so no delay is added.
${meta.mebibytes} MiB per run, median of ${meta.runs} runs; MB/s = 10^6 bytes per second.

- Date: ${meta.date}
- Machine: ${meta.machine}; Chromium ${meta.chromium}

| profile | link | selected pair | MB/s | runs | lab CPU ms/MB | lab CPU, share of the cores | load average |
| --- | --- | --- | ---: | --- | ---: | ---: | ---: |
${rows.join('\n')}

How to read it. A 100 Mbit/s link carries 12.5 MB/s; on this machine no profile comes near that,
shaped or not, because the CPU sets the pace, not the link. "lab CPU ms/MB" is the CPU time of
every process in the lab (both browsers, coturn; the kernel's forwarding counts only where it
runs in their time) per MB moved. Compare it with the reference row, two contexts of one browser
as in the main baseline: two browsers cost more per MB (each browser's network service handles
every packet of its side on its IO thread, the largest item in a per-thread breakdown), while a
relay or a shaped link changes it by no more than the runs of one row differ. "share of the
cores" is how much of the 2 cores the lab's processes got; on this shared machine the rest went
to other work (the load average column), which is why the absolute figures are low and move from
run to run. Compare rows of one run, not runs of different days.
`;
}
