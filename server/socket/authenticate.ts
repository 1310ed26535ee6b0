/**
 * Socket.IO middleware: a socket joins only with a signature over a fresh nonce from
 * `GET /api/challenge`. Until then it can do nothing at all: Socket.IO never emits
 * `connection` for it, so no handler ever sees an unauthenticated socket.
 */
import type { ExtendedError } from 'socket.io';
import { peerIdFromPublicKey, verifyChallenge } from '../../shared/identity.ts';
import { describeIssue, HandshakeAuth } from '../../shared/protocol.ts';
import type { ErrorCode } from '../../shared/errors.ts';
import type { Logger } from '../logger.ts';
import type { TrackerSocket } from '../sessions.ts';
import type { Challenges } from './challenges.ts';

function refusal(code: ErrorCode, message: string): ExtendedError {
  const error: ExtendedError = new Error(message);
  error.data = { code, message };
  return error;
}

export function authenticate(challenges: Challenges, log: Logger) {
  return async (socket: TrackerSocket, next: (error?: ExtendedError) => void): Promise<void> => {
    const parsed = HandshakeAuth.safeParse(socket.handshake.auth);
    if (!parsed.success) return next(refusal('INVALID', `handshake auth ${describeIssue(parsed.error)}`));
    const { publicKey, nonce, signature } = parsed.data;
    let fresh: boolean;
    try {
      fresh = await challenges.consume(nonce);
    } catch (error) {
      log.error({ err: error, event: 'auth_error' }, 'could not check a login challenge');
      return next(refusal('INTERNAL', 'The tracker could not check the challenge. Try again.'));
    }
    if (!fresh) return next(refusal('UNAUTHORIZED', 'The challenge is unknown, expired or already used. Ask for a new one.'));
    if (!(await verifyChallenge(publicKey, nonce, signature))) {
      log.warn({ event: 'auth_failed', address: socket.data.address }, 'bad handshake signature');
      return next(refusal('UNAUTHORIZED', 'The signature does not match the public key.'));
    }
    socket.data.peerId = await peerIdFromPublicKey(publicKey);
    socket.data.publicKey = publicKey;
    socket.data.replaced = false;
    // The nonce and signature are spent: not kept for the life of the connection (memory per peer).
    socket.handshake.auth = {};
    next();
  };
}
