/**
 * What the transfer protocols need from a connection between two peers, and nothing more:
 * pull the next message, send a control message or bytes, fail once with a typed reason.
 * `PeerLink` is the WebRTC data channel; tests use an in-memory pair with the same contract,
 * so the sending window, the acks and every failure path run without a browser.
 */
import type { TransferErrorCode } from '../../../../shared/protocol.ts';
import type { WireMessage } from '../../../../shared/wire.ts';

/**
 * Where a failure was noticed: here ('self'); by the other peer, which said so over the
 * channel and reports it to the tracker itself ('told'); by the connection going away, which
 * nobody may have reported yet ('peer'); or by the tracker, which then has already ended the
 * transfer ('tracker'). Each side reports only what it noticed, so that the tracker hears of a
 * failure from the side it happened to, and blames accordingly.
 */
export type FailureSource = 'self' | 'told' | 'peer' | 'tracker';

export class TransferFailure extends Error {
  override name = 'TransferFailure';
  constructor(
    readonly code: TransferErrorCode,
    message: string,
    readonly source: FailureSource = 'self',
    /** The chunk that failed verification, for an INTEGRITY failure: the tracker audits the host on it. */
    readonly chunk?: number,
  ) {
    super(message);
  }
}

export type Incoming = { kind: 'control'; message: WireMessage } | { kind: 'bytes'; bytes: Uint8Array<ArrayBuffer> };

export interface Link {
  /** Resolves once the connection is open; rejects if it never opens. */
  connected(): Promise<void>;
  /** The next message from the other peer; rejects once the link has failed. */
  next(): Promise<Incoming>;
  /** The next control message; bytes out of turn fail the link. */
  nextControl(): Promise<WireMessage>;
  sendControl(message: WireMessage): Promise<void>;
  /** Sends a chunk's bytes, in frames, waiting while the connection's queue is full; once it resolves they are copied, and their buffer may be reused. */
  sendBytes(bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Ends the link with a failure noticed here, once, telling the other peer its code. */
  fail(code: TransferErrorCode, message: string): void;
  /** Ends the link normally. */
  close(): void;
  readonly failure: TransferFailure | undefined;
  /** Resolves once the link is over, however it ended. */
  readonly ended: Promise<void>;
}
