/**
 * The page's transfer protocols (upload-run, download, receive, serve, rebuild) wired to each
 * other in memory: links are memory pairs keyed by transfer, each host has a memory store, and
 * a scripted tracker records what each side asks. No browser, no network: what runs is the
 * protocols' own code, so a unit test can drive a whole upload, download or rebuild and look
 * at every message.
 */
import type { TransferOffer } from '../../shared/protocol.ts';
import { chunkCount } from '../../shared/chunking.ts';
import { fragmentBytes } from '../../shared/redundancy.ts';
import { inlineCoder } from '../../web/src/lib/erasure/stripe-coder.ts';
import type { HostDeps, Room } from '../../web/src/lib/hosting/host-deps.ts';
import type { TrackerClient } from '../../web/src/lib/net/tracker-client.ts';
import type { HostedChunk, HostedReplica, HostedStore } from '../../web/src/lib/storage/browser-db.ts';
import type { OpenLink } from '../../web/src/lib/transfer/link-pool.ts';
import { memoryLinkPair, type MemoryLink } from './memory-link.ts';

/** A host's IndexedDB, in memory, with the same shape as hostedStore. */
export function memoryHostedStore(): HostedStore & { replicasById: Map<string, HostedReplica>; chunkMap: Map<string, HostedChunk> } {
  const replicasById = new Map<string, HostedReplica>();
  const chunkMap = new Map<string, HostedChunk>();
  const key = (fileId: string, index: number) => `${fileId}/${index}`;
  return {
    replicasById,
    chunkMap,
    replicas: async () => [...replicasById.values()].map((replica) => ({ ...replica })),
    replica: async (fileId) => {
      const replica = replicasById.get(fileId);
      return replica && { ...replica };
    },
    saveReplica: async (replica) => void replicasById.set(replica.fileId, { ...replica }),
    putChunks: async (fileId, chunks) => {
      for (const { index, chunk } of chunks) chunkMap.set(key(fileId, index), chunk);
    },
    chunk: async (fileId, index) => chunkMap.get(key(fileId, index)),
    chunks: async (fileId, indexes) => indexes.map((index) => chunkMap.get(key(fileId, index))),
    remove: async (fileId) => {
      const replica = replicasById.get(fileId);
      for (let index = 0; index < (replica?.chunkCount ?? 0); index++) chunkMap.delete(key(fileId, index));
      replicasById.delete(fileId);
    },
  };
}

export interface Request {
  from: string;
  name: string;
  payload: Record<string, unknown>;
}

/** A tracker that records every request and answers from handlers a test may replace. */
export class ScriptedTracker {
  readonly requests: Request[] = [];
  readonly handlers = new Map<string, (payload: Record<string, unknown>, from: string) => unknown>();

  /** The request function one side uses, named `from` in the record. */
  as(from: string): Pick<TrackerClient, 'request'> {
    return {
      request: (async (name: string, payload: Record<string, unknown>) => {
        this.requests.push({ from, name, payload });
        const handler = this.handlers.get(name);
        return handler ? handler(payload, from) : {};
      }) as Pick<TrackerClient, 'request'>['request'],
    };
  }

  made(name: string, from?: string): Record<string, unknown>[] {
    return this.requests.filter((request) => request.name === name && (from === undefined || request.from === from)).map((request) => request.payload);
  }
}

/** Memory links by transfer: each side opening a transfer gets its end of the same pair. */
export class LinkBoard {
  readonly #pairs = new Map<string, [MemoryLink, MemoryLink]>();

  /** The opener for one side: the initiator gets the first end, the responder the second. */
  readonly open: OpenLink = (offer, initiator) => this.pair(offer.transferId)[initiator ? 0 : 1];

  pair(transferId: string): [MemoryLink, MemoryLink] {
    let pair = this.#pairs.get(transferId);
    if (!pair) this.#pairs.set(transferId, (pair = memoryLinkPair()));
    return pair;
  }
}

/** A host's dependencies over a memory store, with unlimited room unless told otherwise. */
export function memoryHost(name: string, tracker: ScriptedTracker, links: LinkBoard, store = memoryHostedStore(), refuse?: () => 'no_space' | 'busy' | undefined) {
  const room: Room = { recorded: () => {}, wrote: () => {}, release: () => {} };
  const deps: HostDeps = {
    tracker: tracker.as(name),
    openLink: links.open,
    store,
    coder: inlineCoder,
    admit: async () => refuse?.() ?? room,
    canServe: () => true,
    events: { changed: async () => {}, quotaExceeded: () => {}, serving: () => {}, debug: () => {} },
  };
  return { name, store, deps };
}

let nextId = 1;
export function transferId(): string {
  return `t${String(nextId++).padStart(23, '0')}`;
}

/** An offer for one side of a transfer of fragment `fragment` of a k-of-n file. */
export function offerFor(spec: { fileId: string; size: number; chunkSize: number; k: number; n: number }, over: Partial<TransferOffer> & Pick<TransferOffer, 'kind' | 'role'>): TransferOffer {
  return {
    transferId: over.transferId ?? transferId(),
    fileId: spec.fileId,
    size: spec.size,
    chunkSize: spec.chunkSize,
    bytes: fragmentBytes(spec.size, spec.chunkSize, spec.k),
    sha256: null,
    k: spec.k,
    n: spec.n,
    fragment: 0,
    ...over,
  };
}

export { chunkCount };
