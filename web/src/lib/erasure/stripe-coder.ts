/**
 * Erasure coding for the page's transfers, behind one interface: in a worker in the browser,
 * inline in tests (and where workers are missing). Whole copies (k = 1) never need the worker.
 */
import { missingDataFragments, type StripeLayout } from '../../../../shared/erasure.ts';
import type { CodingReply, CodingRequest } from './coding-protocol.ts';
import { decodeStripe, encodeStripeInto, rebuildFragment } from './stripes.ts';

export interface StripeCoder {
  /**
   * Fills the parity fragments of a stripe laid out in `slab` (shared/erasure.ts stripeLayout),
   * its data fragments already in place. The slab's buffer may be handed over and back: use
   * the array this resolves to, not `slab`.
   */
  encodeInto(slab: Uint8Array<ArrayBuffer>, layout: StripeLayout): Promise<Uint8Array<ArrayBuffer>>;
  /** The sealed chunk of `length` bytes back from any k fragments (null where missing). */
  decode(fragments: (Uint8Array | null)[], k: number, n: number, length: number): Promise<Uint8Array>;
  /** Fragment `wanted` of a stripe from any k others. */
  rebuild(fragments: (Uint8Array | null)[], k: number, n: number, wanted: number): Promise<Uint8Array>;
}

export const inlineCoder: StripeCoder = {
  encodeInto: async (slab, layout) => {
    encodeStripeInto(slab, layout);
    return slab;
  },
  decode: async (fragments, k, n, length) => decodeStripe(fragments, k, n, length),
  rebuild: async (fragments, k, n, wanted) => rebuildFragment(fragments, k, n, wanted),
};

type Distributive<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A coder whose work runs in a dedicated worker, started on first use. */
export class WorkerCoder implements StripeCoder {
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (fragments: Uint8Array[]) => void; reject: (error: Error) => void }>();

  /**
   * On this thread, not in the worker: a few milliseconds per stripe (rs:4+2 encodes at over
   * 100 MB/s in Chromium), and an upload then starts no worker, whose heap of its own the page
   * would carry for as long as it stays open.
   */
  encodeInto(slab: Uint8Array<ArrayBuffer>, layout: StripeLayout): Promise<Uint8Array<ArrayBuffer>> {
    return inlineCoder.encodeInto(slab, layout);
  }

  async decode(fragments: (Uint8Array | null)[], k: number, n: number, length: number): Promise<Uint8Array> {
    // With every data fragment there the code decodes nothing, it only joins them: done here,
    // that spares a copy of the stripe to the worker and one more buffer back, per stripe.
    if (k === 1 || missingDataFragments(fragments, k).length === 0) return inlineCoder.decode(fragments, k, n, length);
    return (await this.#ask({ op: 'decode', fragments, k, n, length }, []))[0]!;
  }

  async rebuild(fragments: (Uint8Array | null)[], k: number, n: number, wanted: number): Promise<Uint8Array> {
    if (k === 1) return inlineCoder.rebuild(fragments, k, n, wanted);
    return (await this.#ask({ op: 'rebuild', fragments, k, n, wanted }, []))[0]!;
  }

  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const waiter of this.#pending.values()) waiter.reject(new Error('The coding worker was stopped.'));
    this.#pending.clear();
  }

  #ask(request: Distributive<CodingRequest>, transfer: Transferable[]): Promise<Uint8Array[]> {
    if (!this.#worker) {
      this.#worker = new Worker(new URL('./coding-worker.ts', import.meta.url), { type: 'module' });
      this.#worker.onmessage = ({ data: reply }: MessageEvent<CodingReply>) => {
        const waiter = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        if (!waiter) return;
        if (reply.ok) waiter.resolve(reply.fragments);
        else waiter.reject(new Error(reply.message));
      };
      this.#worker.onerror = (event) => {
        for (const waiter of this.#pending.values()) waiter.reject(new Error(`The coding worker failed: ${event.message}`));
        this.#pending.clear();
      };
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker!.postMessage({ ...request, id } as CodingRequest, transfer);
    });
  }
}
