/**
 * TURN credentials in coturn's shared-secret scheme (the "TURN REST API" draft): the username
 * is `<unix expiry>:<peer id>` and the password is base64(HMAC-SHA1(secret, username)). The
 * relay checks them with the same secret, so the tracker never shares the secret and a leaked
 * credential stops working when it expires; the peer id in the name lets the relay's logs say
 * who used it.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../shared/protocol.ts';

export interface TurnSettings {
  urls: string[];
  secret: string;
  ttlMs: number;
}

export interface IceGrant {
  iceServers: IceServer[];
  /** When the TURN credentials stop working (ms since the epoch); null when there are none. */
  expiresAt: number | null;
}

export function turnCredential(secret: string, peerId: string, expiresAtMs: number): { username: string; credential: string } {
  const username = `${Math.floor(expiresAtMs / 1000)}:${peerId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The ICE servers a peer may use now: the static ones, then the TURN relays with its own credentials. */
export function iceGrant(staticServers: IceServer[], turn: TurnSettings | undefined, peerId: string, now: number): IceGrant {
  if (!turn) return { iceServers: staticServers, expiresAt: null };
  const expiresAt = now + turn.ttlMs;
  return { iceServers: [...staticServers, { urls: turn.urls, ...turnCredential(turn.secret, peerId, expiresAt) }], expiresAt };
}
