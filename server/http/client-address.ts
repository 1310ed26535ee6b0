/**
 * Who a request comes from. Behind a reverse proxy every connection arrives from the proxy, so
 * per-address limits would lump the whole cloud together; the proxy names the client in
 * `X-Forwarded-For`. That header is believed only when it comes from a proxy the operator
 * trusts (TRUST_PROXY, with Express's meaning), so a client forging it changes nothing.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';
import type { TrustProxy } from '../config.ts';

export type ClientAddress = (request: IncomingMessage) => string;

/** The trust function Express and proxy-addr both take. */
export function trustFunction(trust: TrustProxy | undefined): (address: string, hop: number) => boolean {
  if (!trust) return () => false;
  if ('hops' in trust) return (_address, hop) => hop < trust.hops;
  return proxyAddr.compile(trust.addresses);
}

export function clientAddressOf(trust: TrustProxy | undefined): ClientAddress {
  const trusted = trustFunction(trust);
  return (request) => {
    // proxy-addr reads only the socket's address and X-Forwarded-For, walking from the nearest hop.
    const address = trust ? proxyAddr(request, trusted) : (request.socket.remoteAddress ?? 'unknown');
    return normalizeAddress(address);
  };
}

/** "::ffff:10.0.0.1" (an IPv4 client on a dual-stack socket) → "10.0.0.1": one client, one spelling. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
