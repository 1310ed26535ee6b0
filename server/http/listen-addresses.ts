/**
 * Where the page can be reached, told truthfully at start-up: every address of the machine
 * when the tracker listens on all interfaces, with the scheme it really serves. Browsers give
 * the APIs a peer needs (WebCrypto, storage, Web Locks) only to secure contexts, so a plain
 * http address other than localhost is useless to other devices: that is warned about.
 */
import type { NetworkInterfaceInfo } from 'node:os';

export interface ListenFacts {
  host: string;
  port: number;
  scheme: 'http' | 'https';
  /** `os.networkInterfaces()`, passed in so this stays a pure function. */
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
  trustProxy: boolean;
  publicUrl: string | undefined;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The URLs the page answers on, loopback first. */
export function listenUrls({ host, port, scheme, interfaces }: ListenFacts): string[] {
  if (!WILDCARDS.has(host)) return [`${scheme}://${hostPart(host)}:${port}`];
  const ipv6 = host === '::';
  const addresses = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((info) => info.family === 'IPv4' || ipv6)
    // Link-local IPv6 needs a zone id no browser address bar takes.
    .filter((info) => !(info.family === 'IPv6' && info.address.toLowerCase().startsWith('fe80')));
  const loopbacks = addresses.filter((info) => info.internal);
  const others = addresses.filter((info) => !info.internal);
  return [`${scheme}://localhost:${port}`, ...[...loopbacks, ...others].filter((info) => info.family === 'IPv6' || !info.address.startsWith('127.')).map((info) => `${scheme}://${hostPart(info.address)}:${port}`)];
}

/** Warnings worth a line at start-up, in words an operator can act on. */
export function listenWarnings(facts: ListenFacts): string[] {
  const warnings: string[] = [];
  const beyondLocalhost = !isLoopbackHost(facts.host);
  if (beyondLocalhost && facts.scheme === 'http' && !facts.trustProxy) {
    warnings.push(
      'Listening beyond localhost over plain http: other devices will open the page but cannot use it (browsers allow ' +
        'WebCrypto, storage and Web Locks only on https or localhost). Set TLS_CERT and TLS_KEY (`npm run cert` makes a ' +
        'certificate for a LAN), or put an HTTPS reverse proxy in front and set TRUST_PROXY.',
    );
  }
  if (facts.publicUrl?.startsWith('http://') && !isLoopbackHost(new URL(facts.publicUrl).hostname)) {
    warnings.push(`PUBLIC_URL is ${facts.publicUrl}: other devices need an https address to use the page.`);
  }
  return warnings;
}

/**
 * The address to hand to other devices: PUBLIC_URL, else (serving https itself) the first
 * non-loopback one, else none: a plain http address would only lead them to the explanation
 * of why the page can't work there, and behind a proxy only the operator knows the address.
 */
export function shareableUrl(facts: ListenFacts, urls: string[]): string | undefined {
  if (facts.publicUrl) return facts.publicUrl;
  if (facts.scheme !== 'https') return undefined;
  return urls.find((url) => !isLoopbackHost(new URL(url).hostname.replace(/^\[|\]$/g, '')));
}
