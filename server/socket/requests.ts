/**
 * The one place where client requests enter the tracker. Each payload is parsed by its
 * schema from the shared protocol; a handler only ever receives parsed data and returns
 * data, and this turns its outcome into an Ack. A malformed message gets INVALID naming
 * the field, and nothing else happens.
 */
import { fail, ok, PeercloudError, type Ack } from '../../shared/errors.ts';
import { clientRequests, describeIssue, type ClientRequestName, type ClientResponse, type ParsedClientRequest } from '../../shared/protocol.ts';
import { fullBucket, take } from '../../shared/token-bucket.ts';
import type { Logger } from '../logger.ts';
import { closeForGood, type TrackerSocket } from '../sessions.ts';

/**
 * Work a handler leaves for after its answer is sent (a placement's offers to its hosts): the
 * requester is not kept waiting for it, and a graceful shutdown still lets it finish. It is
 * started once the answer is on its way, so whatever it causes reaches the requester after the
 * answer; a failure is logged.
 */
export type AfterAnswer = (work: () => Promise<void>) => void;

export type RequestHandlers = {
  [K in ClientRequestName]: (peerId: string, request: ParsedClientRequest<K>, afterAnswer: AfterAnswer) => Promise<ClientResponse<K>>;
};

const REQUEST_NAMES = new Set<string>(Object.keys(clientRequests));

export interface RequestLimits {
  rate: number;
  burst: number;
  now: () => number;
}

export function bindRequests(
  socket: TrackerSocket,
  handlers: RequestHandlers,
  options: { ready: Promise<void>; log: Logger; limits: RequestLimits; inflight: Set<Promise<unknown>>; timed?: (request: ClientRequestName, seconds: number) => void },
): void {
  const { ready, log, limits, inflight, timed } = options;
  const bucket = fullBucket(limits.burst, limits.now());
  let refusedSince = 0;

  async function handle<K extends ClientRequestName>(name: K, payload: unknown, afterAnswer: AfterAnswer): Promise<Ack<ClientResponse<K>>> {
    const parsed = clientRequests[name].safeParse(payload);
    if (!parsed.success) return fail('INVALID', `${name}: ${describeIssue(parsed.error)}`);
    try {
      await ready;
      return ok(await handlers[name](socket.data.peerId, parsed.data as ParsedClientRequest<K>, afterAnswer));
    } catch (error) {
      if (error instanceof PeercloudError) return fail(error.code, error.message);
      log.error({ err: error, event: 'handler_error', request: name, peerId: socket.data.peerId }, 'request failed');
      return fail('INTERNAL', 'The tracker could not handle this request. It has been logged.');
    }
  }

  // onAny sees every event, known or not, with the ack (if any) as its last argument.
  socket.onAny((event: unknown, ...args: unknown[]) => {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as (result: Ack<unknown>) => void) : undefined;
    // Before any parsing: a flood costs the tracker as little as possible.
    if (!take(bucket, limits.now(), limits.rate, limits.burst)) {
      if (refusedSince++ === 0) log.warn({ event: 'rate_limited', peerId: socket.data.peerId }, 'connection rate-limited');
      // A client that goes on after a burst's worth of refusals is flooding: answering it would
      // cost the others their share of the tracker, so it is disconnected instead.
      if (refusedSince > limits.burst) {
        log.warn({ event: 'flood', peerId: socket.data.peerId, address: socket.data.address }, 'disconnected a flooding connection');
        socket.data.forced = true;
        closeForGood(socket, 'flooding');
        return;
      }
      ack?.(fail('RATE_LIMITED', `Too many requests: at most ${limits.rate} a second. Slow down and retry.`));
      return;
    }
    refusedSince = 0;
    if (typeof event !== 'string' || !REQUEST_NAMES.has(event)) {
      ack?.(fail('INVALID', `unknown event "${String(event).slice(0, 64)}"`));
      return;
    }
    // Tracked, so that a graceful shutdown finishes the database writes under way.
    const began = performance.now();
    const later: (() => Promise<void>)[] = [];
    const handled = handle(event as ClientRequestName, args[0], (work) => void later.push(work)).then(async (result) => {
      ack?.(result);
      timed?.(event as ClientRequestName, (performance.now() - began) / 1_000);
      // The answer is written to the socket above, before any of this work can emit a thing.
      for (const work of later) {
        await work().catch((error: unknown) => log.error({ err: error, event: 'after_answer_error', request: event, peerId: socket.data.peerId }, 'work after a request failed'));
      }
    });
    inflight.add(handled);
    void handled.finally(() => inflight.delete(handled));
  });
}
