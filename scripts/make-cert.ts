/**
 * `npm run cert -- --name peercloud.lan --ip 192.168.1.10 --out ./data/tls`
 *
 * HTTPS for a LAN without a domain: a small local certificate authority, made once and kept,
 * and a server certificate it signs for the given names and addresses, for the tracker's
 * TLS_CERT and TLS_KEY. Each device trusts the CA once; running the command again renews the
 * server certificate (new key, same CA), so devices need not trust anything new.
 *
 * Made with Debian's `openssl` command (or any OpenSSL/LibreSSL): no X.509 written by hand.
 * EC P-256 keys; the server certificate has the names as subjectAltName, the serverAuth
 * extended key usage, and 397 days of validity by default (the longest every browser accepts,
 * Apple's included); the CA lives 10 years and may sign only end certificates (pathlen 0).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const DAY_MS = 86_400_000;
const CA_DAYS = 3650;

const DnsName = z
  .string()
  .regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'not a DNS name')
  .max(253);
const IpAddress = z.string().refine((value) => isIP(value) !== 0, 'not an IP address');

export const CertOptions = z
  .object({
    names: z.array(DnsName),
    ips: z.array(IpAddress),
    out: z.string().min(1),
    /** Validity of the server certificate; browsers on Apple systems refuse more than 825 days. */
    days: z.number().int().min(1).max(825),
    /** Make a new CA even if one exists (every device must then trust the new one). */
    newCa: z.boolean(),
  })
  .refine((options) => options.names.length + options.ips.length > 0, 'give at least one --name or --ip');
export type CertOptions = z.infer<typeof CertOptions>;

export interface CertResult {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
  /** Whether the CA was made by this run (devices must trust it) or kept from an earlier one. */
  caCreated: boolean;
  caValidTo: Date;
  validTo: Date;
  names: string[];
  ips: string[];
}

/** This machine's names and addresses, for a run without --name and --ip. */
export function defaultSubjects(): { names: string[]; ips: string[] } {
  const ips = ['127.0.0.1', '::1'];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      // Link-local IPv6 addresses need a zone (%eth0) that no URL can carry.
      if (!entry.internal && !entry.address.startsWith('fe80:')) ips.push(entry.address);
    }
  }
  const names = [...new Set(['localhost', hostname()])].filter((name) => DnsName.safeParse(name).success);
  return { names, ips: [...new Set(ips)] };
}

/** Command-line arguments → options, or an error in words. `--name`/`--ip` repeat or take commas. */
export function parseCertArguments(argv: string[]): { options: CertOptions } | { help: true } | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        name: { type: 'string', multiple: true },
        ip: { type: 'string', multiple: true },
        out: { type: 'string', default: './data/tls' },
        days: { type: 'string', default: '397' },
        'new-ca': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    return { error: `${(error as Error).message.replace(/\.?$/, '.')} See --help.` };
  }
  if (parsed.help) return { help: true };
  const split = (values: string[] | undefined) => (values ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  let names = split(parsed.name);
  let ips = split(parsed.ip);
  if (names.length === 0 && ips.length === 0) ({ names, ips } = defaultSubjects());
  const result = CertOptions.safeParse({ names, ips, out: parsed.out, days: Number(parsed.days), newCa: parsed['new-ca'] });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path[0] === 'names' ? `--name ${names[issue.path[1] as number]}: ` : issue.path[0] === 'ips' ? `--ip ${ips[issue.path[1] as number]}: ` : issue.path[0] ? `--${String(issue.path[0])}: ` : '';
    return { error: `${where}${issue.message}. See --help.` };
  }
  return { options: result.data };
}

function openssl(args: string[]): Buffer {
  try {
    return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (failure.code === 'ENOENT') throw new Error('`openssl` not found. On Debian/Ubuntu: `sudo apt-get install -y openssl`; on macOS it is preinstalled.');
    throw new Error(`openssl ${args[0]} failed: ${failure.stderr?.toString().trim() ?? failure.message}`);
  }
}

/** A positive 128-bit serial: browsers want serials unique per CA, and random ones need no state file. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return `0x${bytes.toString('hex')}`;
}

function newKey(path: string): void {
  // Written by us with mode 0600 rather than by openssl with the umask's mode.
  writeFileSync(path, openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']), { mode: 0o600 });
}

function configFile(commonName: string, names: string[], ips: string[]): string {
  const alt = [...names.map((name, index) => `DNS.${index + 1} = ${name}`), ...ips.map((ip, index) => `IP.${index + 1} = ${ip}`)];
  return `[req]
distinguished_name = subject
prompt = no
[subject]
O = Peercloud
CN = ${commonName}
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @alt
[alt]
${alt.join('\n')}
`;
}

export function makeCertificates(options: CertOptions): CertResult {
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const paths = { caCert: join(out, 'ca.crt'), caKey: join(out, 'ca.key'), cert: join(out, 'server.crt'), key: join(out, 'server.key') };
  const work = mkdtempSync(join(tmpdir(), 'peercloud-cert-'));
  try {
    let caCreated = false;
    if (options.newCa || !existsSync(paths.caCert) || !existsSync(paths.caKey)) {
      const name = `Peercloud local CA (${hostname()}, ${new Date().toISOString().slice(0, 10)})`;
      writeFileSync(join(work, 'ca.cnf'), configFile(name, [], []));
      newKey(join(work, 'ca.key'));
      openssl(['req', '-x509', '-new', '-config', join(work, 'ca.cnf'), '-extensions', 'ca_ext', '-key', join(work, 'ca.key'), '-sha256', '-days', String(CA_DAYS), '-set_serial', serial(), '-out', join(work, 'ca.crt')]);
      renameSync(join(work, 'ca.key'), paths.caKey);
      renameSync(join(work, 'ca.crt'), paths.caCert);
      caCreated = true;
    }
    const ca = new X509Certificate(readFileSync(paths.caCert));
    if (!ca.ca || !ca.checkPrivateKey(createPrivateKey(readFileSync(paths.caKey)))) throw new Error(`${paths.caCert} and ${paths.caKey} are not a CA and its key: move them away, or run with --new-ca.`);

    const commonName = options.names[0] ?? options.ips[0]!;
    writeFileSync(join(work, 'server.cnf'), configFile(commonName, options.names, options.ips));
    newKey(join(work, 'server.key'));
    openssl(['req', '-new', '-config', join(work, 'server.cnf'), '-key', join(work, 'server.key'), '-out', join(work, 'server.csr')]);
    openssl(['x509', '-req', '-in', join(work, 'server.csr'), '-CA', paths.caCert, '-CAkey', paths.caKey, '-set_serial', serial(), '-days', String(options.days), '-sha256', '-extfile', join(work, 'server.cnf'), '-extensions', 'server_ext', '-out', join(work, 'server.crt')]);
    // Key first: a tracker that reloads when the certificate changes then finds the matching key.
    renameSync(join(work, 'server.key'), paths.key);
    renameSync(join(work, 'server.crt'), paths.cert);
    const cert = new X509Certificate(readFileSync(paths.cert));
    return { ...paths, caCreated, caValidTo: new Date(ca.validTo), validTo: new Date(cert.validTo), names: options.names, ips: options.ips };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function trustInstructions(caCert: string): string {
  return `Each device that opens the page must trust the CA once (copy ca.crt only; ca.key stays here, private):
  - Chrome, Chromium, Edge on Linux:  certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "Peercloud local CA" -i ${caCert}
      (certutil is in libnss3-tools; restart the browser). Firefox keeps its own list: Settings → Privacy &
      Security → Certificates → View Certificates → Authorities → Import, tick "websites".
  - macOS (Safari, Chrome):  sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ca.crt
  - Windows (Chrome, Edge):  certutil -addstore -user Root ca.crt   (or open it → Install Certificate →
      Current User → "Trusted Root Certification Authorities")
  - Android (Chrome):  Settings → Security → Encryption & credentials → Install a certificate → CA certificate.
  - iPhone, iPad:  open ca.crt in Safari, Settings → Profile Downloaded → Install, then Settings → General →
      About → Certificate Trust Settings → turn on full trust for it.
Until a device trusts it, its browser shows a full-page warning instead of the page ("Your connection is
not private", NET::ERR_CERT_AUTHORITY_INVALID, in Chrome; "Warning: Potential Security Risk Ahead" in
Firefox). Going past it (Advanced → Proceed) does open a working page, but marked "Not secure", and the
browser may ask again later: trust the CA instead.`;
}

const HELP = `Usage: npm run cert -- [--name NAME]... [--ip ADDRESS]... [--out DIR] [--days N] [--new-ca]

Makes (once) a local certificate authority and (each time) a server certificate it signs,
for the tracker's TLS_CERT and TLS_KEY.

  --name NAME     a DNS name of the tracker (repeat, or comma-separated): peercloud.lan
  --ip ADDRESS    an IP address of the tracker (repeat, or comma-separated): 192.168.1.10
                  (without --name and --ip: localhost, this machine's name and its addresses)
  --out DIR       where ca.crt, ca.key, server.crt and server.key go (default ./data/tls)
  --days N        validity of the server certificate, at most 825 (default 397)
  --new-ca        make a new CA even if DIR has one (every device must then trust the new one)
`;

function main(): void {
  const parsed = parseCertArguments(process.argv.slice(2));
  if ('help' in parsed) {
    console.log(HELP);
    return;
  }
  if ('error' in parsed) {
    console.error(parsed.error);
    process.exit(2);
  }
  const result = makeCertificates(parsed.options);
  const day = (date: Date) => date.toISOString().slice(0, 10);
  console.log(`Server certificate for ${[...result.names, ...result.ips].join(', ')}, valid until ${day(result.validTo)}:
  TLS_CERT=${result.cert}
  TLS_KEY=${result.key}
${result.caCreated ? 'A new local CA' : 'The local CA (kept from before)'}, valid until ${day(result.caValidTo)}: ${result.caCert}
Run this command again before ${day(result.validTo)} to renew: same CA, nothing new to trust.
`);
  if (result.caValidTo.getTime() < result.validTo.getTime() + 30 * DAY_MS) console.warn(`Warning: the CA expires on ${day(result.caValidTo)}; make a new one with --new-ca before then.\n`);
  console.log(trustInstructions(result.caCert));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
