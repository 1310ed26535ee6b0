/**
 * The owner's memory during a fragment upload, build against build, in turns in one session
 * (not part of `npm run bench`): for chasing the upload's peak, where one run of the full
 * Fragments section (bench/fragments.ts) takes a quarter of an hour and the machine's noise
 * moves between runs. Each build gets a cloud of its own (a tracker serving that build, an owner
 * and K+M hosts, each a browser with its profile on disk, as in bench/fragments.ts); then the
 * builds upload a file of their own in turns (A B, B A, …). Per upload: MB/s, the owner's peak
 * growth (JS heap + ArrayBuffers, renderer resident, sampled twice a second as in the Fragments
 * section) and the CPU of the owner's renderer per MB.
 *
 *   npx vite build --outDir ../dist/web-a   # (from the other tree: the build to compare against)
 *   UPMEM_ROOTS=dist/web-a,dist/web flock /tmp/peercloud-e2e.lock timeout 15m \
 *     node --import tsx scripts/e2e.ts --bench-script bench/upload-memory.ts
 *
 * UPMEM_ROOTS (default dist/web), UPMEM_MIB (192), UPMEM_ROUNDS (2), UPMEM_SCHEME (rs:4+2).
 * UPMEM_DUMP=<seconds>: a memory-infra dump of the owner's renderer before each transfer and every
 * that many seconds during it (bench/memory-dump.ts); printed: the largest against the first,
 * allocator by allocator (the dumps cost the page CPU: its MB/s are not comparable then).
 * UPMEM_DOWNLOAD=1: each upload is followed by a download of the same file by the owner
 * (from K hosts), measured the same way (the saved file checked byte-identical).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScheme } from '../shared/redundancy.ts';
import { MiB } from '../shared/units.ts';
import { openCloud, type Cloud } from './fragments.ts';
import { dumpDifference, pageRendererDump, type MemoryDump } from './memory-dump.ts';
import { rendererCpuSeconds, timeDownload, timeUpload, watchHeaps, watchPeerMemory, writeRandomFile } from './peer-tabs.ts';
import { median, wholeNumberEnv } from './report.ts';

const roots = (process.env.UPMEM_ROOTS ?? 'dist/web').split(',').filter(Boolean);
const mebibytes = wholeNumberEnv('UPMEM_MIB', 192);
const rounds = wholeNumberEnv('UPMEM_ROUNDS', 2);
const scheme = process.env.UPMEM_SCHEME ?? 'rs:4+2';
const withDownload = process.env.UPMEM_DOWNLOAD === '1';
const dumpEverySeconds = wholeNumberEnv('UPMEM_DUMP', 0, 0);
const parsed = parseScheme(scheme);
if (!parsed || parsed.k < 2) throw new Error(`UPMEM_SCHEME must be rs:K+M (got "${scheme}")`);

interface Figures {
  mbps: number;
  withBuffers: number | undefined;
  renderer: number | undefined;
  parts: { anon: number; file: number; shmem: number } | undefined;
  cpuMsPerMB: number | undefined;
}

async function measure(cloud: Cloud, transfer: () => Promise<number>): Promise<Figures> {
  const bytes = mebibytes * MiB;
  const stopHeaps = await watchHeaps([cloud.owner]);
  const stopProcesses = watchPeerMemory([cloud.owner]);
  const cpuBefore = rendererCpuSeconds(cloud.owner);
  let dumping: Promise<void> | undefined;
  let done = false;
  if (dumpEverySeconds > 0) {
    const first = await pageRendererDump(cloud.owner.cdp);
    let largest: MemoryDump | undefined;
    dumping = (async () => {
      while (!done) {
        await new Promise((resolve) => setTimeout(resolve, dumpEverySeconds * 1000));
        if (done) break;
        const now = await pageRendererDump(cloud.owner.cdp);
        if (now && (!largest || now.resident > largest.resident)) largest = now;
      }
      if (first && largest) console.log(`owner's renderer, memory-infra, before → largest dump during the transfer:\n${dumpDifference(first, largest)}`);
    })();
  }
  const mbps = await transfer().finally(() => (done = true));
  await dumping;
  const cpuAfter = rendererCpuSeconds(cloud.owner);
  const [heap] = await stopHeaps();
  const [memory] = await stopProcesses();
  return {
    mbps,
    withBuffers: heap?.withBuffers,
    renderer: memory?.renderer,
    parts: memory?.rendererParts,
    cpuMsPerMB: cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1000) / (bytes / 1e6) : undefined,
  };
}

const mib = (bytes: number | undefined) => (bytes === undefined ? '?' : `+${(bytes / MiB).toFixed(1)} MiB`);

const dir = mkdtempSync(join(tmpdir(), 'peercloud-upmem-'));
const clouds: Cloud[] = [];
try {
  for (const root of roots) clouds.push(await openCloud(scheme, Math.ceil(((mebibytes * rounds) / parsed.k) * 1.1) + 64, root));
  const path = join(dir, 'upmem.bin');
  const sha256 = await writeRandomFile(path, mebibytes * MiB);
  const kinds = withDownload ? (['upload', 'download'] as const) : (['upload'] as const);
  const results = kinds.map(() => roots.map(() => [] as Figures[]));
  const line = (figures: Figures) =>
    `${figures.mbps.toFixed(2)} MB/s, owner + ArrayBuffers ${mib(figures.withBuffers)}, renderer ${mib(figures.renderer)} (anon ${mib(figures.parts?.anon)}, file ${mib(figures.parts?.file)}, shmem ${mib(figures.parts?.shmem)}), renderer CPU ${figures.cpuMsPerMB?.toFixed(0) ?? '?'} ms/MB`;
  for (let round = 0; round < rounds; round++) {
    const order = roots.map((_, index) => index);
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const cloud = clouds[index]!;
      const name = `upmem-${round}-${index}.bin`;
      const bytes = mebibytes * MiB;
      const up = await measure(cloud, () => timeUpload(cloud.owner.page, path, name, bytes, async () => (await cloud.storedFragments(name)) >= cloud.scheme.n));
      results[0]![index]!.push(up);
      console.log(`round ${round + 1} ${roots[index]} upload: ${line(up)} (load ${loadavg()[0]!.toFixed(1)})`);
      if (!withDownload) continue;
      const down = await measure(cloud, async () => (await timeDownload(cloud.owner.page, name, bytes, { sha256 })).mbps);
      results[1]![index]!.push(down);
      console.log(`round ${round + 1} ${roots[index]} download: ${line(down)} (load ${loadavg()[0]!.toFixed(1)})`);
    }
  }
  console.log(`\n${mebibytes} MiB under ${scheme}, ${rounds} round(s), medians:`);
  kinds.forEach((kind, at) =>
    roots.forEach((root, index) => {
      const of = (pick: (figures: Figures) => number | undefined) => median(results[at]![index]!.map(pick).filter((value): value is number => value !== undefined));
      console.log(`  ${kind} ${root}: ${of((f) => f.mbps).toFixed(2)} MB/s, owner + ArrayBuffers ${mib(of((f) => f.withBuffers))}, renderer ${mib(of((f) => f.renderer))} (anon ${mib(of((f) => f.parts?.anon))}, file ${mib(of((f) => f.parts?.file))}, shmem ${mib(of((f) => f.parts?.shmem))}), renderer CPU ${of((f) => f.cpuMsPerMB).toFixed(0)} ms/MB`);
    }),
  );
} finally {
  for (const cloud of clouds) await cloud.close();
  rmSync(dir, { recursive: true, force: true });
}
