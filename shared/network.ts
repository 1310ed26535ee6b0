/**
 * Which network a client address belongs to, for the rules that must not be beaten by many
 * identities on one connection: copies of a file go to distinct networks, and new identities
 * per network are limited. A network is an IPv4 /24 or an IPv6 /48 (what one household or
 * one rented server typically holds), as Storj does.
 *
 * Private, loopback and link-local addresses have no network here (null): a tracker that sees
 * them is on the same LAN as its peers (a home cloud, or the tests), where every device would
 * otherwise share one network and one copy per file would be all it could keep. Behind a
 * reverse proxy, TRUST_PROXY must name it, or every client looks like the proxy's loopback.
 */

export interface NetworkPrefixes {
  v4: number;
  v6: number;
}

export const DEFAULT_PREFIXES: NetworkPrefixes = { v4: 24, v6: 48 };

function parseV4(address: string): number[] | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : NaN));
  return bytes.every((byte) => byte >= 0 && byte <= 255) ? bytes : undefined;
}

/** Eight 16-bit groups, or undefined when the text is not an IPv6 address. */
function parseV6(address: string): number[] | undefined {
  let text = address.split('%')[0]!.toLowerCase();
  // An IPv4 address in the last 32 bits (::ffff:1.2.3.4) becomes two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseV4(dotted[2]!);
    if (!v4) return undefined;
    text = `${dotted[1]}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...left, ...right].some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return undefined;
  const zeros = 8 - left.length - right.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined;
  return [...left, ...Array<string>(halves.length === 2 ? zeros : 0).fill('0'), ...right].map((group) => parseInt(group, 16));
}

function privateV4([a, b]: number[]): boolean {
  return a === 10 || a === 127 || a === 0 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b! >= 64 && b! <= 127);
}

function privateV6(groups: number[]): boolean {
  const first = groups[0]!;
  const allZeroButLast = groups.slice(0, 7).every((g) => g === 0);
  return (allZeroButLast && (groups[7] === 0 || groups[7] === 1)) || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}

/** "203.0.113.7" → "203.0.113.0/24"; private or unknown addresses → null. */
export function networkOf(address: string, prefixes: NetworkPrefixes = DEFAULT_PREFIXES): string | null {
  const v4 = parseV4(address);
  if (v4) {
    if (privateV4(v4)) return null;
    const bits = (((v4[0]! << 24) | (v4[1]! << 16) | (v4[2]! << 8) | v4[3]!) >>> 0) & (prefixes.v4 === 0 ? 0 : (~0 << (32 - prefixes.v4)) >>> 0);
    return `${[bits >>> 24, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255].join('.')}/${prefixes.v4}`;
  }
  const v6 = parseV6(address);
  if (!v6) return null;
  // An IPv4 client on a dual-stack socket is an IPv4 client.
  if (v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff) return networkOf(`${v6[6]! >> 8}.${v6[6]! & 255}.${v6[7]! >> 8}.${v6[7]! & 255}`, prefixes);
  if (privateV6(v6)) return null;
  const masked = v6.map((group, index) => {
    const keep = Math.max(0, Math.min(16, prefixes.v6 - index * 16));
    return keep === 0 ? 0 : group & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${prefixes.v6}`;
}
