/**
 * Fragments on shaped links (issue 12's benchmark, its second half): does a download read from
 * k hosts at once take 1/k of the time of a download from one host when each host sits behind a
 * home uplink of its own? On loopback (bench/fragments.ts) every channel shares the two cores,
 * so k channels share one ceiling and the question cannot be asked; here each host is a
 * Chromium in a home of its own on the network lab (tests/support/topology.ts), and every home's
 * uplink is shaped far below the CPU's ceiling divided by k, so that the links, not the cores,
 * set the pace.
 *
 * One lab of 1 + n homes (n = the scheme's fragments: 7 for rs:4+2), cone NATs, coturn from
 * deploy/turnserver.conf as STUN server and relay (ICE chooses, as in the product), every home
 * shaped alike: uplink BENCH_FRAGMENT_UPLINK_MBIT (4 Mbit/s), downlink 100 Mbit/s, and the
 * networks bench's loss and delay (0.2 % of packets lost on the way out, 20 ms added on the way out:
 * 40 ms between two homes; BENCH_FRAGMENT_SHAPED_DELAY_MS changes the delay). Two real trackers
 * (`server/main.ts` over HTTPS, bench/lab-cloud.ts) on the server network: REDUNDANCY=replicate:1
 * with the owner in home 0 and its host in home 1, and REDUNDANCY=rs:K+M
 * (BENCH_FRAGMENT_SCHEME) with the owner in home 0 and a host in each of homes 1…n. Each run
 * uploads then downloads the same file in each cloud (which goes first alternates); the
 * download's clock runs from clicking Download until the browser saved the file, whose SHA-256
 * is checked after the clock stops. Beside the times: what each of the owner's connections
 * received during the download (bench/host-rates.ts), the CPU of each home's processes and
 * the machine's over each transfer.
 *
 * `BENCH_ONLY=fragments-shaped npm run bench` (as root, under the lock) runs only it and rewrites
 * only its section of docs/BENCHMARKS.md; a full `npm run bench` runs it as root unless
 * BENCH_FRAGMENTS_SHAPED=0. BENCH_FRAGMENT_SHAPED_MIB (16) and BENCH_FRAGMENT_SHAPED_RUNS (3) size it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseScheme, schemeName } from '../shared/redundancy.ts';
import { MiB } from '../shared/units.ts';
import { openLab, type Lab } from '../tests/support/lab.ts';
import { startDeployCoturn, type DeployCoturn } from '../tests/support/lab-deploy.ts';
import { homeAddresses, type LinkShape } from '../tests/support/topology.ts';
import { benchFragmentScheme } from './fragments.ts';
import { hostRates, type HostRate } from './host-rates.ts';
import { lendFor, openLabCloud, type CloudPeers, type LabCloud } from './lab-cloud.ts';
import { BENCH_TURN_SECRET, SHAPED_LINK } from './networks.ts';
import { writeRandomFile } from './peer-tabs.ts';
import { CORES, machineCpuSeconds, processTimes } from './process-cpu.ts';
import { machineInfo, median, wholeNumberEnv } from './report.ts';

export const SHAPED_FRAGMENTS_HEADING = '## Fragments on shaped links';

export const SHAPED_FRAGMENTS_HELP =
  'Fragments on shaped links need the network lab, so root (network namespaces, nftables, tc): run ' +
  '`sudo BENCH_ONLY=fragments-shaped flock /tmp/peercloud-e2e.lock npm run bench` on a Debian machine with Chromium ' +
  '(the lab installs iproute2, nftables, conntrack, coturn, python3 with apt if missing). Without root there is ' +
  'no way to measure it; BENCH_FRAGMENTS_SHAPED=0 (or PEERCLOUD_NETLAB=off) leaves it out of a full run.';

export interface ShapedFragmentOptions {
  scheme: string;
  mebibytes: number;
  runs: number;
  /** Every home's link: the networks bench's shaped link with a home broadband's slow uplink. */
  shape: LinkShape;
}

export function shapedFragmentOptions(env: NodeJS.ProcessEnv = process.env): ShapedFragmentOptions {
  const uplinkMbit = Number(env.BENCH_FRAGMENT_UPLINK_MBIT ?? 4);
  if (!(uplinkMbit > 0 && uplinkMbit <= SHAPED_LINK.rateMbit!)) throw new Error(`BENCH_FRAGMENT_UPLINK_MBIT must be above 0 and at most ${SHAPED_LINK.rateMbit} (got "${env.BENCH_FRAGMENT_UPLINK_MBIT}")`);
  return {
    scheme: benchFragmentScheme(env),
    mebibytes: wholeNumberEnv('BENCH_FRAGMENT_SHAPED_MIB', 16),
    runs: wholeNumberEnv('BENCH_FRAGMENT_SHAPED_RUNS', 3),
    shape: { ...SHAPED_LINK, uplinkMbit, delayMs: wholeNumberEnv('BENCH_FRAGMENT_SHAPED_DELAY_MS', SHAPED_LINK.delayMs!, 0) },
  };
}

/** CPU seconds so far of every process in each namespace (the server's first, then each home's). */
function namespaceCpu(namespaces: string[]): number[] {
  return namespaces.map((ns) => {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    return pids.reduce((sum, pid) => sum + (processTimes(pid)?.own ?? 0), 0);
  });
}

export interface ShapedTransfer {
  seconds: number;
  /** File bytes per second (10^6). */
  mbps: number;
  /** The machine's 1-minute load average as it began. */
  load: number;
  /** Share of all the machine's cores busy over the transfer (1 = every core, whoever used them). */
  machineBusy: number;
  /** CPU of every process of each namespace over the transfer, in cores (1 = one core all the time): the server's, then each home's. */
  cpu: { server: number; homes: number[] };
}

export interface ShapedDownload extends ShapedTransfer {
  firstByteMs: number | undefined;
  /** What each of the owner's connections received during the download, by home ("h3") where the address says. */
  links: (HostRate & { home: string })[];
}

export interface ShapedFragmentResults {
  machine: ReturnType<typeof machineInfo>;
  options: ShapedFragmentOptions;
  k: number;
  n: number;
  replicate: { upload: ShapedTransfer[]; download: ShapedDownload[] };
  fragments: { upload: ShapedTransfer[]; download: ShapedDownload[] };
  /** The candidate pairs the downloads' connections used, as the owner's page saw them. */
  paths: string[];
}

/** The home behind a remote candidate's address: its router's, for a direct path; the address itself otherwise (the relay). */
export function homeOf(address: string, homes: number): string {
  for (let index = 0; index < homes; index++) if (homeAddresses(index).wan === address) return `h${index}`;
  return address;
}

async function timed<T extends { mbps: number }>(lab: Lab, work: () => Promise<T>): Promise<{ result: T } & Omit<ShapedTransfer, 'seconds' | 'mbps'>> {
  const namespaces = [lab.net.server.ns, ...lab.net.homes.map((home) => home.ns)];
  const load = loadavg()[0]!;
  const machineBefore = machineCpuSeconds();
  const before = namespaceCpu(namespaces);
  const started = performance.now();
  const result = await work();
  const elapsed = (performance.now() - started) / 1000;
  const after = namespaceCpu(namespaces);
  const machineAfter = machineCpuSeconds();
  const cores = after.map((seconds, index) => (seconds - before[index]!) / elapsed);
  return {
    result,
    load,
    machineBusy: (machineAfter.busy - machineBefore.busy) / Math.max(1e-9, machineAfter.total - machineBefore.total),
    cpu: { server: cores[0]!, homes: cores.slice(1) },
  };
}

async function upload(lab: Lab, peers: CloudPeers, path: string, name: string, bytes: number): Promise<ShapedTransfer> {
  const { result, ...cost } = await timed(lab, () => peers.upload(path, name, bytes));
  return { seconds: bytes / 1e6 / result.mbps, mbps: result.mbps, ...cost };
}

async function download(lab: Lab, peers: CloudPeers, name: string, bytes: number, sha256: string): Promise<{ download: ShapedDownload; path: string }> {
  const startedAt = Date.now();
  const { result, ...cost } = await timed(lab, () => peers.download(name, bytes, sha256));
  const seconds = bytes / 1e6 / result.mbps;
  const paths = await peers.ownerPaths();
  const links = hostRates(paths, { startedAt, endedAt: startedAt + seconds * 1000 }).map((rate) => ({ ...rate, home: homeOf(rate.remoteAddress, lab.net.homes.length) }));
  return { download: { seconds, mbps: result.mbps, firstByteMs: result.firstByteMs, links, ...cost }, path: result.path };
}

export async function measureShapedFragments(options: ShapedFragmentOptions): Promise<ShapedFragmentResults> {
  const scheme = parseScheme(options.scheme)!;
  const bytes = options.mebibytes * MiB;
  const homes = 1 + scheme.n;
  console.log(`Fragments on shaped links: ${homes} homes, uplinks ${options.shape.uplinkMbit} Mbit/s, ${options.mebibytes} MiB × ${options.runs}, replicate:1 against ${options.scheme}…`);
  const lab = await openLab({ homes, nat: 'cone' });
  let coturn: DeployCoturn | undefined;
  const clouds: LabCloud[] = [];
  try {
    coturn = await startDeployCoturn(lab.net, { secret: BENCH_TURN_SECRET });
    const relay = { stunUrl: coturn.stunUrl, turnUrl: coturn.turnUrl, secret: BENCH_TURN_SECRET };
    await Promise.all(lab.net.homes.map((home) => lab.net.shape(home.index, options.shape)));
    // Info: a transfer a peer gave up on is logged, and a failed run prints the trackers' last lines.
    const trackerEnv = { LOG_LEVEL: 'info' };
    const replicateCloud = await openLabCloud(lab, relay, { redundancy: 'replicate:1', port: 3000, ownerHome: 0, hostHomes: [1], trackerEnv });
    clouds.push(replicateCloud);
    const fragmentCloud = await openLabCloud(lab, relay, { redundancy: options.scheme, port: 3001, ownerHome: 0, hostHomes: Array.from({ length: scheme.n }, (_, index) => index + 1), trackerEnv });
    clouds.push(fragmentCloud);
    const lend = lendFor(bytes, options.runs);
    const replicate = await replicateCloud.openPeers(lend);
    const fragments = await fragmentCloud.openPeers(lend);

    const file = join(lab.net.dir, 'fragments-shaped.bin');
    const sha256 = await writeRandomFile(file, bytes);
    const results: ShapedFragmentResults = {
      machine: machineInfo(lab.browsers[0]!.version()),
      options,
      k: scheme.k,
      n: scheme.n,
      replicate: { upload: [], download: [] },
      fragments: { upload: [], download: [] },
      paths: [],
    };
    for (let run = 0; run < options.runs; run++) {
      // Alternating which cloud goes first: the machine's speed drifts within a run too.
      const order = run % 2 === 0 ? [replicate, fragments] : [fragments, replicate];
      for (const peers of order) {
        const isReplicate = peers === replicate;
        const label = isReplicate ? 'replicate:1' : options.scheme;
        const figures = isReplicate ? results.replicate : results.fragments;
        const name = `shaped-${isReplicate ? 1 : scheme.k}-${run}.bin`;
        const up = await upload(lab, peers, file, name, bytes);
        const { download: down, path } = await download(lab, peers, name, bytes, sha256);
        figures.upload.push(up);
        figures.download.push(down);
        results.paths.push(path);
        console.log(
          `  run ${run + 1}/${options.runs}, ${label}: upload ${up.seconds.toFixed(1)} s (${up.mbps.toFixed(2)} MB/s), download ${down.seconds.toFixed(1)} s (${down.mbps.toFixed(2)} MB/s) over ${path}; ` +
            `links ${down.links.map((link) => `${link.home} ${link.streamMBps.toFixed(2)}`).join(', ')} MB/s; machine ${(down.machineBusy * 100).toFixed(0)} % busy, owner's home ${(down.cpu.homes[0]! * 100).toFixed(0)} % of a core; load ${down.load.toFixed(1)}`,
        );
      }
    }
    return results;
  } catch (error) {
    // What the trackers saw is gone with the lab: said now, beside the error.
    for (const cloud of clouds) {
      const lines = readFileSync(cloud.tracker.process.logPath, 'utf8').trimEnd().split('\n');
      console.error(`The ${schemeName(cloud.scheme)} tracker's last log lines (of ${lines.length}):\n${lines.slice(-40).join('\n')}`);
    }
    throw error;
  } finally {
    const steps = await Promise.allSettled(clouds.map((cloud) => cloud.close()));
    await coturn?.stop().catch((error: unknown) => console.warn('coturn did not stop cleanly:', error));
    await lab.close();
    const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
    if (failed) console.warn('a cloud did not close cleanly:', failed.reason);
  }
}

const one = (value: number) => (Number.isFinite(value) ? (Math.round(value * 10) / 10).toString() : 'n/a');
const two = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
const percent = (share: number) => `${Math.round(share * 100)} %`;

/** Median over runs of fragments' figure ÷ replicate's, run by run. */
function ratios(fragments: number[], replicate: number[]): number[] {
  return fragments.map((value, run) => value / replicate[run]!);
}

function cell(transfers: ShapedTransfer[]): string {
  return `${one(median(transfers.map((t) => t.seconds)))} s (${transfers.map((t) => one(t.seconds)).join(' / ')}); ${two(median(transfers.map((t) => t.mbps)))} MB/s`;
}

/** Seconds from the first link's first bytes to the last link's last: the download's time with bytes moving. */
export function movingSeconds(download: Pick<ShapedDownload, 'links'>): number {
  if (download.links.length === 0) return Number.NaN;
  return (Math.max(...download.links.map((link) => link.lastAt)) - Math.min(...download.links.map((link) => link.firstAt))) / 1000;
}

/** Seconds from the first link to finish to the last: what the download waited for its slowest link. */
export function tailSeconds(download: Pick<ShapedDownload, 'links'>): number {
  if (download.links.length === 0) return Number.NaN;
  const ends = download.links.map((link) => link.lastAt);
  return (Math.max(...ends) - Math.min(...ends)) / 1000;
}

/** The sum of a download's links' steady rates. */
const linkSum = (download: ShapedDownload) => download.links.reduce((sum, link) => sum + (Number.isFinite(link.streamMBps) ? link.streamMBps : 0), 0);

/** The "Fragments on shaped links" section of docs/BENCHMARKS.md. */
export function shapedFragmentsSection(results: ShapedFragmentResults): string {
  const { options, k, n, machine } = results;
  const rs = options.scheme;
  const rep = results.replicate;
  const frag = results.fragments;
  const shape = options.shape;
  const uplinkMBps = shape.uplinkMbit! / 8;
  const seconds = (transfers: ShapedTransfer[]) => transfers.map((t) => t.seconds);
  const downRatios = ratios(seconds(frag.download), seconds(rep.download));
  const upRatios = ratios(seconds(frag.upload), seconds(rep.upload));
  const downRatio = median(downRatios);
  const singleRate = median(rep.download.flatMap((d) => d.links.map((link) => link.streamMBps)));
  const fragmentRates = frag.download.flatMap((d) => d.links.map((link) => link.streamMBps));
  const fragmentSum = median(frag.download.map(linkSum));
  const busy = (transfers: ShapedTransfer[]) => percent(median(transfers.map((t) => t.machineBusy)));
  const ownerCpu = (transfers: ShapedTransfer[]) => percent(median(transfers.map((t) => t.cpu.homes[0]!)));
  const hostsCpu = (transfers: ShapedTransfer[]) => percent(median(transfers.map((t) => Math.max(...t.cpu.homes.slice(1)))));
  const firstByte = (downloads: ShapedDownload[]) => `${one(median(downloads.map((d) => d.firstByteMs ?? Number.NaN)))} ms`;

  const rows = [
    `| download | ${cell(rep.download)} | ${cell(frag.download)} | **${two(downRatio)}** (${downRatios.map(two).join(' / ')}) |`,
    `| upload | ${cell(rep.upload)} | ${cell(frag.upload)} | ${two(median(upRatios))} (${upRatios.map(two).join(' / ')}) |`,
    `| download, time to first byte | ${firstByte(rep.download)} | ${firstByte(frag.download)} | |`,
    `| download, each link's steady rate (MB/s on the wire) | ${two(singleRate)} | ${two(median(fragmentRates))} (${two(Math.min(...fragmentRates))}–${two(Math.max(...fragmentRates))}) | |`,
    `| download, the links' rates summed | ${two(median(rep.download.map(linkSum)))} | ${two(fragmentSum)} | |`,
    `| download, each link's bytes on the wire (MB) | ${two(median(rep.download.flatMap((d) => d.links.map((link) => link.bytes / 1e6))))} | ${two(median(frag.download.flatMap((d) => d.links.map((link) => link.bytes / 1e6))))} (${two(Math.min(...frag.download.flatMap((d) => d.links.map((link) => link.bytes / 1e6))))}–${two(Math.max(...frag.download.flatMap((d) => d.links.map((link) => link.bytes / 1e6))))}) | |`,
    `| download, with bytes moving (first link's first to last link's last) | ${one(median(rep.download.map(movingSeconds)))} s | ${one(median(frag.download.map(movingSeconds)))} s | ${two(median(ratios(frag.download.map(movingSeconds), rep.download.map(movingSeconds))))} |`,
    `| download, before and after the bytes moved | ${one(median(rep.download.map((d) => d.seconds - movingSeconds(d))))} s | ${one(median(frag.download.map((d) => d.seconds - movingSeconds(d))))} s | |`,
    `| download, the last link's end after the first link's | | ${one(median(frag.download.map(tailSeconds)))} s (${frag.download.map((d) => one(tailSeconds(d))).join(' / ')}) | |`,
    `| download, machine's cores busy (all work) | ${busy(rep.download)} | ${busy(frag.download)} | |`,
    `| download, the owner's home (its browser, its delay line) | ${ownerCpu(rep.download)} of a core | ${ownerCpu(frag.download)} of a core | |`,
    `| download, the busiest host's home | ${hostsCpu(rep.download)} of a core | ${hostsCpu(frag.download)} of a core | |`,
    `| upload, machine's cores busy (all work) | ${busy(rep.upload)} | ${busy(frag.upload)} | |`,
  ];
  const runRows = rep.download.map((single, run) => {
    const parallel = frag.download[run]!;
    const links = [...parallel.links].sort((a, b) => a.home.localeCompare(b.home)).map((link) => `${link.home} ${two(link.streamMBps)}`).join(', ');
    return `| ${run + 1} | ${one(Math.min(single.load, parallel.load))}–${one(Math.max(single.load, parallel.load))} | ${one(single.seconds)} s, ${single.links.map((link) => `${link.home} ${two(link.streamMBps)}`).join(', ')} | ${one(parallel.seconds)} s, ${links} | ${two(parallel.seconds / single.seconds)} |`;
  });

  // What the figures say, in words: the ideal is 1/k when every host's uplink sets its link's pace.
  const ideal = 1 / k;
  const linksAtUplink = singleRate >= 0.8 * uplinkMBps;
  const parallelKeptUp = median(fragmentRates) >= 0.8 * singleRate;
  const verdict =
    downRatio <= 1.25 * ideal
      ? `the ${k} hosts add up: the download took ${two(downRatio)} × the single host's time (${k} independent links: ${two(ideal)}).`
      : downRatio < 0.75
        ? `the ${k} hosts add up only in part: the download took ${two(downRatio)} × the single host's time, not the ${two(ideal)} that ${k} independent links would give.`
        : `the ${k} hosts do not add up: the download took ${two(downRatio)} × the single host's time, where ${k} independent links would give ${two(ideal)}.`;
  const single = linksAtUplink
    ? `The single host's link moved ${two(singleRate)} MB/s on the wire, ${percent(singleRate / uplinkMBps)} of its ${shape.uplinkMbit} Mbit/s uplink (${two(uplinkMBps)} MB/s): the link, not the CPU, set its pace, as this profile intends.`
    : `The single host's link moved ${two(singleRate)} MB/s on the wire, only ${percent(singleRate / uplinkMBps)} of its ${shape.uplinkMbit} Mbit/s uplink (${two(uplinkMBps)} MB/s): something below the uplink's rate held it (the loss and round trip through SCTP's congestion control, or the CPU; see the CPU rows).`;
  const parallel = parallelKeptUp
    ? `Under ${rs} each of the ${k} links kept close to that (median ${two(median(fragmentRates))} MB/s, ${two(Math.min(...fragmentRates))}–${two(Math.max(...fragmentRates))}), summing to ${two(fragmentSum)} MB/s against the single link's ${two(singleRate)}.`
    : `Under ${rs} each link moved less than the single host's (median ${two(median(fragmentRates))} MB/s, ${two(Math.min(...fragmentRates))}–${two(Math.max(...fragmentRates))}), summing to ${two(fragmentSum)} MB/s against the single link's ${two(singleRate)}: the links did not run at their uplinks' pace side by side (the CPU rows say whether the cores or the owner's page held them).`;
  const fixed = median(frag.download.map((d) => d.seconds - movingSeconds(d)));
  const fixedSingle = median(rep.download.map((d) => d.seconds - movingSeconds(d)));
  const moving = median(ratios(frag.download.map(movingSeconds), rep.download.map(movingSeconds)));
  const linkBytes = (downloads: ShapedDownload[]) => median(downloads.flatMap((d) => d.links.map((link) => link.bytes)));
  const bytesRatio = linkBytes(frag.download) / (linkBytes(rep.download) / k);
  const gap =
    downRatio > 1.1 * ideal && Number.isFinite(moving)
      ? ` Why not ${two(ideal)}: with bytes moving, the ${k} links took ${two(moving)} × the single host's time. The rest is time without bytes moving (locating the file, connecting${shape.delayMs ? ` over ${2 * shape.delayMs} ms round trips` : ''}, the first request; saving the file): ${one(fixed)} s under ${rs} against ${one(fixedSingle)} s for one host, ${percent(fixed / median(seconds(frag.download)))} of a ${one(median(seconds(frag.download)))} s download against ${percent(fixedSingle / median(seconds(rep.download)))} of the single host's. And the download waits for its slowest link (the last ended ${one(median(frag.download.map(tailSeconds)))} s after the first).${Number.isFinite(bytesRatio) ? ` A larger file would weigh the time without bytes moving less, bringing the ratio towards the moving time's ${two(moving)} rather than ${two(ideal)}: each link carried ${two(bytesRatio)} × a quarter of the single host's bytes on the wire, at ${two(Math.min(...fragmentRates))}–${two(Math.max(...fragmentRates))} MB/s, and the download ends with the slowest.` : ''}`
      : '';
  const labCores = median(frag.download.map((d) => d.cpu.server + d.cpu.homes.reduce((sum, cores) => sum + cores, 0)));
  const machineBusy = median(frag.download.map((d) => d.machineBusy));
  const cpu =
    machineBusy < 0.9
      ? `The CPU did not set the pace: during the ${k}-host download the machine's cores were ${percent(machineBusy)} busy (other work included), the lab's processes using ${two(labCores)} of its ${CORES} cores (the owner's home ${two(median(frag.download.map((d) => d.cpu.homes[0]!)))}); uplinks much faster than these, or more hosts read at once, would meet the CPU's ceiling again.`
      : `The machine's cores were ${percent(machineBusy)} busy during the ${k}-host download (other work included; the lab's processes ${two(labCores)} of its ${CORES} cores): the CPU may have held the links here, compare the runs by their load.`;
  const delay = shape.delayMs ? `${2 * shape.delayMs} ms round trip between two homes (a user-space delay line in each of the ${1 + n} homes, \`tests/support/delay-line.py\`)` : 'no added delay (BENCH_FRAGMENT_SHAPED_DELAY_MS=0)';

  return `${SHAPED_FRAGMENTS_HEADING}

Issue 12's other half: a download read from ${k} hosts at once against a download from one host,
each host a Chromium in a home network of its own behind its own NAT router, on the network lab
of the end-to-end tests (\`tests/support/topology.ts\`), produced by \`BENCH_ONLY=fragments-shaped
npm run bench\` (\`bench/fragments-shaped.ts\`, as root; the loopback half is the "Fragments" section).
${1 + n} homes: the owner in home h0 and a host in each of h1…h${n}; every home's link alike: uplink
(what leaves the home) **${shape.uplinkMbit} Mbit/s** (${two(uplinkMBps)} MB/s), downlink ${shape.rateMbit} Mbit/s (tbf on its
router), ${(shape.lossPermille ?? 0) / 10} % of packets lost on their way out, ${delay}. Cone NATs,
coturn from \`deploy/turnserver.conf\` as STUN server and relay, ICE left to choose as in the product.
Two real trackers (\`server/main.ts\` over HTTPS, \`bench/lab-cloud.ts\`, default timings) on the
server network: \`REDUNDANCY=replicate:1\`, the owner and its host in h1; \`REDUNDANCY=${rs}\`, the
owner and the ${n} hosts. Each run uploads and then downloads the same ${options.mebibytes} MiB of random bytes in
each cloud (which goes first alternates). Upload: from choosing the file until the tracker records
every fragment (or the copy) stored and verified. Download: from clicking Download until the
browser saved the file, checked byte-identical (SHA-256) after the clock stopped. Time ratio: ${rs}'s
time ÷ replicate:1's, per run (below 1: fragments faster; ${k} links that add up: ${two(1 / k)}).

Why this uplink: unshaped, a channel between two lab browsers is CPU-bound at about 2.4–2.8 MB/s
on this 2-core machine, and here ${1 + n} Chromiums share those cores; on the networks bench's
shaped link (100 Mbit/s, same loss and delay) one channel is held at 0.7–0.8 MB/s by SCTP's
congestion control (the "Separate networks" section). ${k} links can only show whether they add up
when each is held by its own uplink, under both of those, and their sum stays well under the CPU's
ceiling: each uplink is ${two(uplinkMBps)} MB/s (${k} of them: ${two(k * uplinkMBps)} MB/s). Why ${options.mebibytes} MiB and not the
issue's 256 MiB: at ${two(uplinkMBps)} MB/s a single host's 256 MiB takes ${one((256 * MiB) / 1e6 / uplinkMBps / 60)} minutes, and its
upload as long again (the owner's uplink is shaped too, and ${rs} sends ${one(n / k)} × the bytes);
${options.mebibytes} MiB keeps a run within a few minutes while the ${k}-host download still lasts several
round trips' worth of seconds (time to first byte below).

- Date: ${machine.date}
- Machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.os}; Node ${machine.node}, Chromium ${machine.chromium}
- Candidate pairs of the downloads (owner's side): ${[...new Set(results.paths)].join(' / ')}

| ${options.mebibytes} MiB, ${options.runs === 1 ? 'one run' : `${options.runs} runs`} | replicate:1, one host | ${rs}, ${k} of ${n} hosts read | time ratio |
| --- | --- | --- | ---: |
${rows.join('\n')}

Cells: median seconds (each run); median MB/s of file bytes. A link's steady rate: the bytes the
owner's connection to that host received while the middle 80 % of them moved (\`bench/host-rates.ts\`,
from getStats every 200 ms; packet overhead included, as tbf counts it). CPU: of every process in
the home's network namespace over the transfer (\`/proc\`), and of the whole machine (\`/proc/stat\`:
other engineers' work included).

Each run's download (load average at the transfers' start; each link's steady MB/s by home):

| run | load | replicate:1 | ${rs} | ratio |
| --- | --- | --- | --- | ---: |
${runRows.join('\n')}

- Download from ${k} hosts in parallel: ${verdict} ${single} ${parallel}${gap}
- ${cpu}
- Upload: the owner's own uplink (${shape.uplinkMbit} Mbit/s) carries every byte either way, ${one(n / k)} × the file's under ${rs}: it took ${two(median(upRatios))} × replicate:1's time.
`;
}
