/**
 * Where a renderer's resident memory goes, by Chromium's own accounting (memory-infra, as
 * chrome://tracing shows it): a detailed memory dump through DevTools' Tracing domain, reduced
 * to the page's renderer process and its allocators (malloc, PartitionAlloc's partitions, V8,
 * Blink's GC heap, WebRTC…). For chasing what the page's resident growth is made of beyond
 * what V8 counts (JS heap + ArrayBuffers); not part of `npm run bench`.
 */
import type { CDPSession } from '@playwright/test';

interface TraceEvent {
  ph: string;
  pid: number;
  name?: string;
  args?: { name?: string; dumps?: { process_totals?: Record<string, string | boolean>; allocators?: Record<string, { attrs?: Record<string, { value: string }> }> } };
}

/** One process's memory by allocator, in bytes: the top-level allocators and a few telling children. */
export interface MemoryDump {
  pid: number;
  /** Private footprint: the process's anonymous memory (resident or swapped). */
  resident: number;
  /** Allocator path ("malloc", "partition_alloc/partitions/buffer", "v8", …) → its `size` attribute. */
  sizes: Map<string, number>;
}

/** Paths worth listing: the top-level allocators and their children (PartitionAlloc's partitions, V8's spaces…). */
const listed = (path: string) => (path.split('/').length <= 2 && !path.startsWith('shared_memory/')) || /^(malloc|partition_alloc)\/partitions\/[^/]+$/.test(path);

/**
 * A detailed memory dump of every process of the session's browser; the renderer processes
 * only (the page's, and any other). Tracing must not already be running on `cdp`.
 */
export async function rendererDumps(cdp: CDPSession): Promise<MemoryDump[]> {
  const events: TraceEvent[] = [];
  const onData = (data: { value: object[] }) => events.push(...(data.value as TraceEvent[]));
  cdp.on('Tracing.dataCollected', onData);
  const complete = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
  await cdp.send('Tracing.start', {
    transferMode: 'ReportEvents',
    // No periodic dumps: only the one asked for below.
    traceConfig: { includedCategories: ['disabled-by-default-memory-infra'], excludedCategories: ['*'], memoryDumpConfig: { triggers: [] } as never },
  });
  const dumped = await cdp.send('Tracing.requestMemoryDump', { deterministic: false, levelOfDetail: 'detailed' });
  await cdp.send('Tracing.end');
  await complete;
  cdp.off('Tracing.dataCollected', onData);
  if (!dumped.success) throw new Error('the memory dump failed');
  const renderers = new Set(events.filter((event) => event.ph === 'M' && event.name === 'process_name' && event.args?.name === 'Renderer').map((event) => event.pid));
  // A process's dump comes as several events: its totals in one, its allocators in another.
  const byPid = new Map<number, MemoryDump>();
  for (const event of events) {
    if (event.ph !== 'v' || !renderers.has(event.pid) || !event.args?.dumps) continue;
    const dump = byPid.get(event.pid) ?? { pid: event.pid, resident: 0, sizes: new Map<string, number>() };
    byPid.set(event.pid, dump);
    const { process_totals: totals, allocators } = event.args.dumps;
    // Linux gives no resident size here: the private footprint (anonymous + swapped) is what grows.
    if (typeof totals?.private_footprint_bytes === "string") dump.resident = parseInt(totals.private_footprint_bytes, 16);
    for (const [path, entry] of Object.entries(allocators ?? {})) {
      if (!listed(path)) continue;
      const size = entry.attrs?.size?.value;
      if (size !== undefined) dump.sizes.set(path, parseInt(size, 16));
      // What is live in an allocator, against what it holds from the system (size).
      const live = entry.attrs?.allocated_objects_size?.value;
      if (live !== undefined) dump.sizes.set(`${path} (live objects)`, parseInt(live, 16));
    }
  }
  return [...byPid.values()];
}

/** The dump of the renderer with the most resident memory (the page's, in a browser with one page). */
export async function pageRendererDump(cdp: CDPSession): Promise<MemoryDump | undefined> {
  const dumps = await rendererDumps(cdp);
  return dumps.sort((a, b) => b.resident - a.resident)[0];
}

/** Two dumps side by side, in MiB, the paths that moved most first. */
export function dumpDifference(before: MemoryDump, after: MemoryDump, minimumMiB = 0.25): string {
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  const paths = new Set([...before.sizes.keys(), ...after.sizes.keys()]);
  const rows = [...paths]
    .map((path) => ({ path, from: before.sizes.get(path) ?? 0, to: after.sizes.get(path) ?? 0 }))
    .filter((row) => Math.abs(row.to - row.from) >= minimumMiB * 1048576 || !row.path.includes('/'))
    .sort((a, b) => Math.abs(b.to - b.from) - Math.abs(a.to - a.from));
  const lines = [`  private footprint ${mib(before.resident)} → ${mib(after.resident)} MiB (${after.resident >= before.resident ? '+' : ''}${mib(after.resident - before.resident)})`];
  for (const row of rows) lines.push(`  ${row.path}: ${mib(row.from)} → ${mib(row.to)} MiB (${row.to >= row.from ? '+' : ''}${mib(row.to - row.from)})`);
  return lines.join('\n');
}
