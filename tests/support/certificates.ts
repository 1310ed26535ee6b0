/**
 * Throw-away certificates for tests, made by Debian's openssl: a self-signed P-256 certificate
 * for the given names and addresses. Tests that need TLS trust exactly this certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  certPath: string;
  keyPath: string;
  /** The PEM itself, to pass as `ca` to a client that must trust it. */
  pem: string;
}

export function makeTestCertificate(options: { dir?: string; name?: string; ips?: string[]; dns?: string[] } = {}): TestCertificate {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'peercloud-cert-'));
  const name = options.name ?? 'server';
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const sans = [...(options.dns ?? ['localhost']).map((dns) => `DNS:${dns}`), ...(options.ips ?? ['127.0.0.1']).map((ip) => `IP:${ip}`)];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=peercloud test ${name}`, '-addext', `subjectAltName=${sans.join(',')}`, '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore' },
  );
  return { certPath, keyPath, pem: readFileSync(certPath, 'utf8') };
}
