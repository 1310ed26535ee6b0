/**
 * Putting stripes together from fragments arriving on several links at once: for a download
 * (the sealed chunk, decoded if a data fragment is missing — shared/erasure.ts is systematic:
 * with all of them nothing is decoded) and for a repair (the fragment the new host rebuilds).
 * Each link deposits its pieces of each stripe; once k distinct fragments of a stripe are there
 * it is assembled and handed on (written). A deposit resolves when its stripe is handed on, so
 * a link's acks follow what is on disk, and a link that runs ahead waits for the others:
 * memory stays bounded by the links' windows.
 */

export interface AssemblerSpec {
  k: number;
  n: number;
  /** Stripes in the file (its chunk count). */
  count: number;
  /** Stripes before this one are on disk already (a resumed download). */
  from: number;
  /** What k or more fragments of stripe `index` make (null where missing): a sealed chunk, or a rebuilt fragment. */
  assemble: (index: number, fragments: (Uint8Array | null)[]) => Promise<Uint8Array>;
  /** Writes what was assembled; a throw fails this attempt at the stripe (for k = 1, the piece that made it). */
  complete: (index: number, assembled: Uint8Array) => Promise<void>;
  /** A deposited piece is no longer needed (its stripe is on disk, or it was not kept): its buffer may be reused. */
  release?: (piece: Uint8Array) => void;
}

interface Pending {
  fragments: (Uint8Array | null)[];
  present: number;
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
  running: boolean;
}

export class StripeAssembler {
  readonly #spec: AssemblerSpec;
  readonly #done: boolean[];
  readonly #pending = new Map<number, Pending>();
  #next: number;
  #failure: unknown;

  constructor(spec: AssemblerSpec) {
    this.#spec = spec;
    this.#done = Array.from({ length: spec.count }, (_, index) => index < spec.from);
    this.#next = spec.from;
  }

  /** The first stripe not on disk yet: where a new link starts. */
  get next(): number {
    return this.#next;
  }

  get finished(): boolean {
    return this.#next >= this.#spec.count;
  }

  /** Why the download stopped, once it has. */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * A link's piece of a stripe. Resolves once the stripe is on disk (at once if it already is);
   * rejects if completing it failed or the whole download did.
   */
  deposit(fragment: number, index: number, bytes: Uint8Array): Promise<void> {
    if (this.#failure) {
      this.#spec.release?.(bytes);
      return Promise.reject(this.#failure);
    }
    if (this.#done[index]) {
      this.#spec.release?.(bytes);
      return Promise.resolve();
    }
    let pending = this.#pending.get(index);
    if (!pending) this.#pending.set(index, (pending = { fragments: Array<Uint8Array | null>(this.#spec.n).fill(null), present: 0, waiters: [], running: false }));
    if (!pending.fragments[fragment]) {
      pending.fragments[fragment] = bytes;
      pending.present++;
    } else {
      this.#spec.release?.(bytes);
    }
    const waited = new Promise<void>((resolve, reject) => pending.waiters.push({ resolve, reject }));
    if (pending.present >= this.#spec.k && !pending.running) void this.#complete(index, pending);
    return waited;
  }

  /** A piece turned out bad (k = 1: its chunk failed authentication): it is forgotten, for another link to bring. */
  discard(fragment: number, index: number): void {
    const pending = this.#pending.get(index);
    const piece = pending?.fragments[fragment];
    if (pending && piece) {
      pending.fragments[fragment] = null;
      pending.present--;
      this.#spec.release?.(piece);
    }
  }

  /** Ends the download: every waiting deposit fails with `error`. */
  fail(error: unknown): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) {
      for (const waiter of pending.waiters.splice(0)) waiter.reject(error);
      // A stripe being assembled still reads its pieces: they are left to the collector.
      if (!pending.running) this.#releaseAll(pending);
    }
    this.#pending.clear();
  }

  #releaseAll(pending: Pending): void {
    for (const piece of pending.fragments) if (piece) this.#spec.release?.(piece);
    pending.fragments.fill(null);
  }

  async #complete(index: number, pending: Pending): Promise<void> {
    pending.running = true;
    const waiters = pending.waiters.splice(0);
    try {
      await this.#spec.complete(index, await this.#spec.assemble(index, pending.fragments));
      this.#done[index] = true;
      this.#pending.delete(index);
      this.#releaseAll(pending);
      while (this.#next < this.#spec.count && this.#done[this.#next]) this.#next++;
      for (const waiter of [...waiters, ...pending.waiters.splice(0)]) waiter.resolve();
    } catch (error) {
      pending.running = false;
      // The deposits that made this attempt hear why; later ones wait for another try.
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}
