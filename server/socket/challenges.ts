/**
 * Single-use nonces for the login handshake. A nonce is good once, for a short while:
 * a captured handshake can't be replayed, and a wrong signature burns the nonce too.
 */
import { randomId } from '../../shared/encoding.ts';
import type { Challenge } from '../../shared/protocol.ts';
import type { Clock } from '../clock.ts';

export class Challenges {
  readonly #issued = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
    /** Bounds memory when someone asks for nonces and never uses them: the oldest go first. */
    private readonly max = 100_000,
  ) {}

  issue(): Challenge {
    const now = this.clock.now();
    for (const [nonce, expiresAt] of this.#issued) {
      if (expiresAt > now && this.#issued.size < this.max) break;
      this.#issued.delete(nonce);
    }
    const nonce = randomId(24);
    const expiresAt = now + this.ttlMs;
    this.#issued.set(nonce, expiresAt);
    return { nonce, expiresAt };
  }

  /** True once for a nonce this tracker issued and that has not expired. */
  consume(nonce: string): boolean {
    const expiresAt = this.#issued.get(nonce);
    this.#issued.delete(nonce);
    return expiresAt !== undefined && expiresAt > this.clock.now();
  }
}
