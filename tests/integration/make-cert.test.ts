import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeCertificates, parseCertArguments, type CertOptions } from '../../scripts/make-cert.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const DAY_MS = 86_400_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'peercloud-cert-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function options(overrides: Partial<CertOptions> = {}): CertOptions {
  return { names: ['peercloud.lan'], ips: ['192.168.1.10', 'fd00::7'], out: dir, days: 397, newCa: false, ...overrides };
}

/** Whether a TLS client that trusts only `ca` accepts the server's certificate for `host`. */
async function handshake(paths: { cert: string; key: string; caCert: string }, host: string): Promise<{ authorized: boolean; error?: string }> {
  const server: Server = createServer({ cert: readFileSync(paths.cert), key: readFileSync(paths.key) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      // Connects to 127.0.0.1 but checks the certificate for `host`, as a browser opening https://host would.
      const socket = connect({
        host: '127.0.0.1',
        port,
        ca: readFileSync(paths.caCert),
        servername: isIP(host) ? undefined : host,
        checkServerIdentity: (_, cert) => checkServerIdentity(host, cert),
      });
      socket.once('secureConnect', () => {
        resolve({ authorized: true });
        socket.end();
      });
      socket.once('error', (error) => resolve({ authorized: false, error: error.message }));
    });
  } finally {
    server.close();
  }
}

describe('npm run cert', () => {
  it('makes a CA and a server certificate that verifies against it for exactly the given names and addresses', async () => {
    const result = makeCertificates(options());
    const ca = new X509Certificate(readFileSync(result.caCert));
    const cert = new X509Certificate(readFileSync(result.cert));

    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(result.key)))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);

    expect(cert.checkHost('peercloud.lan')).toBe('peercloud.lan');
    expect(cert.checkHost('other.lan')).toBeUndefined();
    expect(cert.checkIP('192.168.1.10')).toBe('192.168.1.10');
    expect(cert.checkIP('192.168.1.11')).toBeUndefined();
    expect(cert.checkIP('fd00::7')).toBeDefined();

    const days = (new Date(cert.validTo).getTime() - Date.now()) / DAY_MS;
    expect(days).toBeGreaterThan(396);
    expect(days).toBeLessThan(398);
    expect(new Date(ca.validTo).getTime()).toBeGreaterThan(new Date(cert.validTo).getTime());
    for (const key of [result.key, result.caKey]) expect(statSync(key).mode & 0o077).toBe(0);
  });

  it('passes a real TLS handshake for its names and fails it for another', async () => {
    const result = makeCertificates(options());
    expect(await handshake(result, 'peercloud.lan')).toEqual({ authorized: true });
    expect(await handshake(result, '192.168.1.10')).toEqual({ authorized: true });
    expect(await handshake(result, 'elsewhere.lan')).toMatchObject({ authorized: false });
    // A CA nobody trusts: the handshake's own chain check fails.
    const stranger = makeCertificates(options({ out: join(dir, 'stranger') }));
    expect(await handshake({ ...result, caCert: stranger.caCert }, 'peercloud.lan')).toMatchObject({ authorized: false });
  });

  it('renews the server certificate with the same CA, so devices trust the new one without doing anything', () => {
    const first = makeCertificates(options());
    const firstCa = readFileSync(first.caCert, 'utf8');
    const firstCert = new X509Certificate(readFileSync(first.cert));

    const second = makeCertificates(options({ ips: ['192.168.1.20'] }));
    expect(second.caCreated).toBe(false);
    expect(readFileSync(second.caCert, 'utf8')).toBe(firstCa);
    const secondCert = new X509Certificate(readFileSync(second.cert));
    expect(secondCert.serialNumber).not.toBe(firstCert.serialNumber);
    expect(secondCert.publicKey.export({ format: 'der', type: 'spki' })).not.toEqual(firstCert.publicKey.export({ format: 'der', type: 'spki' }));
    expect(secondCert.verify(new X509Certificate(firstCa).publicKey)).toBe(true);
    expect(secondCert.checkIP('192.168.1.20')).toBe('192.168.1.20');
    expect(secondCert.checkIP('192.168.1.10')).toBeUndefined();

    const third = makeCertificates(options({ newCa: true }));
    expect(third.caCreated).toBe(true);
    expect(readFileSync(third.caCert, 'utf8')).not.toBe(firstCa);
  });

  it('reads its arguments, and refuses bad ones in words', () => {
    expect(parseCertArguments(['--name', 'peercloud.lan,nas.local', '--ip', '192.168.1.10', '--ip', '::1', '--out', '/x'])).toEqual({
      options: { names: ['peercloud.lan', 'nas.local'], ips: ['192.168.1.10', '::1'], out: '/x', days: 397, newCa: false },
    });
    expect(parseCertArguments(['--ip', '300.1.1.1'])).toEqual({ error: '--ip 300.1.1.1: not an IP address. See --help.' });
    expect(parseCertArguments(['--name', 'bad_name!'])).toEqual({ error: '--name bad_name!: not a DNS name. See --help.' });
    expect(parseCertArguments(['--ip', '10.0.0.1', '--days', '2000'])).toMatchObject({ error: expect.stringMatching(/^--days: /) });
    expect(parseCertArguments(['--frobnicate'])).toMatchObject({ error: expect.stringContaining("'--frobnicate'") });
    // Nothing given: this machine's own names and loopback addresses.
    const defaults = parseCertArguments([]);
    expect(defaults).toMatchObject({ options: { names: expect.arrayContaining(['localhost']), ips: expect.arrayContaining(['127.0.0.1', '::1']) } });
  });
});
