/**
 * The page's fragment protocols end to end, in memory: an owner uploads a k-of-n file to n
 * hosts (upload-run.ts → receive.ts), downloads it back from any k of them (download.ts →
 * serve.ts), past a host that serves corrupt pieces, and a new host rebuilds a lost fragment
 * from k others without the owner (rebuild.ts). Whole copies (k = 1) run the same code.
 */
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_SIZE } from '../../shared/chunking.ts';
import type { TransferOffer } from '../../shared/protocol.ts';
import { generateFileKey } from '../../web/src/lib/crypto/chunk-cipher.ts';
import { download } from '../../web/src/lib/download/download.ts';
import { inlineCoder, type StripeCoder } from '../../web/src/lib/erasure/stripe-coder.ts';
import { Rebuilds } from '../../web/src/lib/hosting/rebuild.ts';
import { receiveFragment } from '../../web/src/lib/hosting/receive.ts';
import { serveFragment } from '../../web/src/lib/hosting/serve.ts';
import { withFaults } from '../../web/src/lib/testing/faults.ts';
import { UploadRun } from '../../web/src/lib/upload/upload-run.ts';
import { LinkBoard, memoryHost, offerFor, ScriptedTracker, transferId } from '../support/memory-cloud.ts';

const CHUNK = MIN_CHUNK_SIZE;

function fileOf(size: number): File {
  const bytes = new Uint8Array(size).map((_, at) => (at * 7 + (at >> 9)) & 0xff);
  return new File([bytes], 'photo.jpg');
}

/** Uploads `file` as k-of-n to n memory hosts; resolves with the hosts and the sealed roots. `slowLink`: that fragment's link sends each piece a few milliseconds late. */
async function uploaded(size: number, k: number, n: number, options: { coder?: StripeCoder; slowLink?: number; tracker?: ScriptedTracker } = {}) {
  const tracker = options.tracker ?? new ScriptedTracker();
  const links = new LinkBoard();
  const key = await generateFileKey();
  const file = fileOf(size);
  const spec = { fileId: 'f'.repeat(24), size, chunkSize: CHUNK, k, n };
  const hosts = Array.from({ length: n }, (_, at) => memoryHost(`host${at}`, tracker, links));
  const failures: string[] = [];
  const run = new UploadRun(
    { file, key, fileId: spec.fileId, chunkSize: CHUNK, k, n },
    {
      tracker: tracker.as('owner'),
      openLink: (offer, initiator) => {
        const link = links.open(offer, initiator);
        if (offer.fragment === options.slowLink) {
          const send = link.sendBytes.bind(link);
          link.sendBytes = async (bytes) => {
            await new Promise((resolve) => setTimeout(resolve, 3));
            await send(bytes);
          };
        }
        return link;
      },
      coder: options.coder ?? inlineCoder,
      events: { moved: () => {}, heard: () => {}, failed: (_id, failure) => failures.push(failure.message), debug: () => {} },
    },
  );
  await Promise.all(
    hosts.map(async (host, fragment) => {
      const id = transferId();
      const received = receiveFragment(offerFor(spec, { transferId: id, kind: 'store', role: 'receiver', fragment }), host.deps);
      await run.push(offerFor(spec, { transferId: id, kind: 'store', role: 'sender', fragment }));
      await received;
    }),
  );
  expect(failures).toEqual([]);
  const [seal] = tracker.made('file:seal', 'owner');
  const roots = (seal!.roots as string[] | undefined) ?? [seal!.sha256 as string];
  return { tracker, links, key, file, spec, hosts, roots };
}

/** Downloads from the hosts `serving` (fragment = host index); `locate` answers replacements. */
async function downloaded(cloud: Awaited<ReturnType<typeof uploaded>>, serving: number[], corrupt: number[] = []) {
  const { tracker, links, spec, key } = cloud;
  const offers = new Map<string, TransferOffer>();
  const hosts = cloud.hosts.map((host, fragment) => (corrupt.includes(fragment) ? { ...host, deps: { ...host.deps, store: withFaults(host.store, { corruptServedFrom: 0, quotaBytes: undefined, silentAudits: false, uplinkBytesPerSecond: undefined }) } } : host));
  /** The tracker opens fetches of `fragments`: each host is asked, and serves. */
  const open = (fragments: number[]) =>
    fragments.map((fragment) => {
      const id = transferId();
      const sha256 = cloud.roots[spec.k === 1 ? 0 : fragment]!;
      offers.set(id, offerFor(spec, { transferId: id, kind: 'fetch', role: 'receiver', fragment, sha256 }));
      void serveFragment(offerFor(spec, { transferId: id, kind: 'fetch', role: 'sender', fragment, sha256 }), false, hosts[fragment]!.deps);
      return { transferId: id, fragment };
    });
  let first = true;
  const spare = cloud.hosts.map((_, fragment) => fragment).filter((fragment) => !serving.includes(fragment));
  tracker.handlers.set('file:locate', (payload) => {
    if (first) {
      first = false;
      return { transfers: open(serving) };
    }
    const exclude = (payload.exclude as number[]) ?? [];
    const next = spare.filter((fragment) => !exclude.includes(fragment)).slice(0, 1);
    spare.splice(0, spare.length, ...spare.filter((fragment) => !next.includes(fragment)));
    if (next.length === 0) throw new Error('no host');
    return { transfers: open(next) };
  });
  const out = new Uint8Array(spec.size);
  await download(spec.fileId, key, 0, {
    tracker: tracker.as('owner'),
    openLink: links.open,
    coder: inlineCoder,
    ready: async (id) => offers.get(id)!,
    out: { write: async (offset, bytes) => out.set(bytes, offset) },
    events: { progress: () => {}, firstBytes: () => {}, downloading: () => {}, debug: () => {} },
  });
  return out;
}

async function bytesOf(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

describe('fragments in the page', () => {
  it('uploads rs:4+2 as six fragments, each host holding the root the owner sealed', async () => {
    const cloud = await uploaded(5 * CHUNK + 1234, 4, 6);
    expect(cloud.roots).toHaveLength(6);
    for (const [fragment, host] of cloud.hosts.entries()) {
      const replica = host.store.replicasById.get(cloud.spec.fileId)!;
      expect(replica).toMatchObject({ state: 'stored', k: 4, fragment, root: cloud.roots[fragment] });
      const [claim] = cloud.tracker.made('replica:stored', host.name);
      expect(claim!.sha256).toBe(cloud.roots[fragment]);
    }
    // Each fragment holds a quarter of each sealed chunk, rounded up: 1.5× the file, not 6×.
    const held = cloud.hosts.reduce((sum, host) => sum + host.store.replicasById.get(cloud.spec.fileId)!.bytes, 0);
    expect(held).toBeLessThan(1.6 * cloud.spec.size);
  });

  it('makes each stripe once for all six hosts, one slower than the others, in a few reused buffers', async () => {
    const encoded: ArrayBufferLike[] = [];
    const coder: StripeCoder = {
      ...inlineCoder,
      encodeInto: (slab, layout) => {
        encoded.push(slab.buffer);
        return inlineCoder.encodeInto(slab, layout);
      },
    };
    const stripes = 40;
    const cloud = await uploaded(stripes * CHUNK, 4, 6, { coder, slowLink: 5 });
    // The fast hosts waited for the slow one, within the stripes kept: none was made twice.
    expect(encoded).toHaveLength(stripes);
    // Buffers given back once every host sent its fragment: far fewer than one per stripe.
    expect(new Set(encoded).size).toBeLessThan(stripes / 2);
    expect(await downloaded(cloud, [2, 3, 4, 5])).toEqual(await bytesOf(cloud.file));
    // Forty stripes through six links and the coder: more than the default five seconds on a loaded machine.
  }, 20_000);

  it('downloads a byte-identical file from the data fragments, and from any four with two hosts gone', async () => {
    const cloud = await uploaded(6 * CHUNK + 99, 4, 6);
    const original = await bytesOf(cloud.file);
    expect(await downloaded(cloud, [0, 1, 2, 3])).toEqual(original);
    expect(await downloaded(cloud, [1, 3, 4, 5])).toEqual(original);
  });

  it('skips a host serving a corrupt fragment, names the piece to the tracker, and still decodes', async () => {
    const cloud = await uploaded(4 * CHUNK, 4, 6);
    const original = await bytesOf(cloud.file);
    expect(await downloaded(cloud, [0, 1, 2, 3], [2])).toEqual(original);
    // The owner told the tracker which transfer brought a bad piece, and which piece: the host is audited on it.
    const blamed = cloud.tracker.made('transfer:fail', 'owner');
    expect(blamed).toEqual([expect.objectContaining({ code: 'INTEGRITY', chunk: 0 })]);
    // And asked for one more fragment, neither one it is reading nor the bad one.
    const [, replacement] = cloud.tracker.made('file:locate', 'owner');
    expect(replacement).toMatchObject({ count: 1 });
    expect([...(replacement!.exclude as number[])].sort()).toEqual([0, 1, 2, 3]);
  });

  it('seals the roots once they are known, without waiting for a host to confirm its copy', async () => {
    // This tracker answers a host's claim only after the owner's seal: an owner that sealed
    // after a host's `done` (which follows the answer) would wait forever.
    const tracker = new ScriptedTracker();
    let sealed!: () => void;
    const seal = new Promise<void>((resolve) => (sealed = resolve));
    tracker.handlers.set('file:seal', () => {
      sealed();
      return {};
    });
    tracker.handlers.set('replica:stored', async () => {
      await seal;
      return {};
    });
    const cloud = await uploaded(3 * CHUNK + 5, 1, 1, { tracker });
    expect(tracker.made('file:seal', 'owner')).toHaveLength(1);
    expect(cloud.hosts[0]!.store.replicasById.get(cloud.spec.fileId)).toMatchObject({ state: 'stored', root: cloud.roots[0] });
  });

  it('stores and reads back whole copies through the same code', async () => {
    const cloud = await uploaded(3 * CHUNK + 5, 1, 2);
    expect(cloud.roots).toHaveLength(1);
    for (const host of cloud.hosts) expect(host.store.replicasById.get(cloud.spec.fileId)).toMatchObject({ state: 'stored', root: cloud.roots[0] });
    expect(await downloaded(cloud, [1])).toEqual(await bytesOf(cloud.file));
  });

  it('rebuilds a lost fragment on a new host from four others, to the root the owner sealed, without the owner', async () => {
    const cloud = await uploaded(5 * CHUNK + 77, 4, 6);
    const lost = 1;
    const target = memoryHost('newcomer', cloud.tracker, cloud.links);
    const rebuilds = new Rebuilds(target.deps);
    const group = 'g'.repeat(24);
    const sources = [0, 2, 4, 5];
    await Promise.all(
      sources.map(async (fragment) => {
        const id = transferId();
        const common = { transferId: id, kind: 'repair' as const, fragment, sha256: cloud.roots[fragment]!, rebuild: { group, fragment: lost, sources: 4 } };
        const served = serveFragment(offerFor(cloud.spec, { ...common, role: 'sender' }), true, cloud.hosts[fragment]!.deps);
        await rebuilds.offer(offerFor(cloud.spec, { ...common, role: 'receiver' }));
        await served;
      }),
    );
    expect(target.store.replicasById.get(cloud.spec.fileId)).toMatchObject({ state: 'stored', k: 4, fragment: lost, root: cloud.roots[lost] });
    expect(cloud.tracker.made('replica:stored', 'newcomer')).toEqual([expect.objectContaining({ sha256: cloud.roots[lost] })]);
    expect(cloud.tracker.made('file:seal', 'owner')).toHaveLength(1);
    // The rebuilt fragment serves a download like the original did.
    cloud.hosts[lost] = target;
    expect(await downloaded(cloud, [0, 1, 2, 3])).toEqual(await bytesOf(cloud.file));
  });

  it('gives up a rebuild whose source sends a piece that is not of its fragment, and keeps nothing of it', async () => {
    const cloud = await uploaded(3 * CHUNK, 4, 6);
    const target = memoryHost('newcomer', cloud.tracker, cloud.links);
    const rebuilds = new Rebuilds(target.deps);
    const group = 'h'.repeat(24);
    const sources = [0, 2, 3, 4];
    await Promise.all(
      sources.map(async (fragment) => {
        const id = transferId();
        // Source 3 serves fragment 5's pieces as if they were fragment 3's.
        const store = fragment === 3 ? cloud.hosts[5]!.store : cloud.hosts[fragment]!.store;
        const common = { transferId: id, kind: 'repair' as const, fragment, sha256: cloud.roots[fragment]!, rebuild: { group, fragment: 1, sources: 4 } };
        const host = { ...cloud.hosts[fragment]!.deps, store: { ...store, replica: async () => ({ ...(await store.replica(cloud.spec.fileId))!, fragment: 3 }) } };
        const served = serveFragment(offerFor(cloud.spec, { ...common, role: 'sender' }), true, host);
        await rebuilds.offer(offerFor(cloud.spec, { ...common, role: 'receiver' }));
        await served;
      }),
    );
    expect(target.store.replicasById.size).toBe(0);
    expect(target.store.chunkMap.size).toBe(0);
    expect(cloud.tracker.made('replica:stored', 'newcomer')).toEqual([]);
    expect(cloud.tracker.made('transfer:fail', 'newcomer')).toEqual([expect.objectContaining({ code: 'INTEGRITY', chunk: 0 })]);
  });
});
