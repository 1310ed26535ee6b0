/**
 * Connections per client address. Checked before the signature (the cheaper refusal first),
 * then checked again and counted in one step once authenticated, so that handshakes passing
 * the first check together cannot all take the last places, and a refused one holds none.
 * The address is the client's own (through trusted proxies, see http/client-address.ts).
 */
import type { ExtendedError } from 'socket.io';
import type { TrackerSocket } from '../sessions.ts';

type Middleware = (socket: TrackerSocket, next: (error?: ExtendedError) => void) => void;

function tooMany(): ExtendedError {
  const error: ExtendedError = new Error('Too many connections from your address.');
  error.data = { code: 'RATE_LIMITED', message: error.message };
  return error;
}

export class AddressLimit {
  readonly #counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  #full(address: string): boolean {
    return (this.#counts.get(address) ?? 0) >= this.max;
  }

  /** Before authentication: refuse early when the address is already full. */
  readonly precheck: Middleware = (socket, next) => next(this.#full(socket.data.address) ? tooMany() : undefined);

  /** After authentication: take a place, released when the socket goes. */
  readonly admit: Middleware = (socket, next) => {
    const address = socket.data.address;
    if (this.#full(address)) return next(tooMany());
    this.#counts.set(address, (this.#counts.get(address) ?? 0) + 1);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      const left = (this.#counts.get(address) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(address);
      else this.#counts.set(address, left);
    };
    socket.once('disconnect', release);
    socket.conn.once('close', release);
    next();
  };
}
