/**
 * The one way a transfer's failure is told: the link is failed (the other peer hears the
 * code), and the tracker hears it from the side that noticed it. What the other peer said it
 * failed ('told') is its to report, and what the tracker ended is known to it already. An
 * integrity failure names the chunk, so the tracker can audit the host on it.
 *
 * A connection that went away ('peer') is reported by the owner's side, which wants the
 * transfer and stands to lose it; a host leaves it to the tracker, which sees an owner gone by
 * itself and then keeps a partial upload for a resume.
 */
import type { TransferErrorCode } from '../../../../shared/protocol.ts';
import type { TrackerClient } from '../net/tracker-client.ts';
import { TransferFailure, type Link } from './link.ts';

export function asFailure(error: unknown, link?: Pick<Link, 'failure'>): TransferFailure {
  if (error instanceof TransferFailure) return error;
  if (link?.failure) return link.failure;
  return new TransferFailure('INTERNAL', error instanceof Error ? error.message : String(error));
}

export async function reportFailure(
  tracker: Pick<TrackerClient, 'request'>,
  transferId: string,
  link: Pick<Link, 'fail' | 'failure'>,
  error: unknown,
  options: { code?: TransferErrorCode; side?: 'owner' | 'host'; onRefused?: (refusal: unknown) => void } = {},
): Promise<TransferFailure> {
  const failure = asFailure(error, link);
  link.fail(failure.code, failure.message);
  if (failure.source === 'self' || (failure.source === 'peer' && options.side !== 'host')) {
    await tracker
      .request('transfer:fail', {
        transferId,
        code: options.code ?? failure.code,
        message: failure.message.slice(0, 500),
        ...(failure.chunk !== undefined ? { chunk: failure.chunk } : {}),
      })
      // The tracker may have ended it first: nothing more to say then.
      .catch((refusal: unknown) => options.onRefused?.(refusal));
  }
  return failure;
}
