/**
 * The network lab assembled for a spec or a benchmark: a topology, a certificate for the
 * server address signed by a test CA (made by `npm run cert`'s own code), coturn if asked, and
 * one Chromium per home that trusts the test CA. close() undoes all of it, each step even if
 * an earlier one fails, and the topology's watchdog covers a crash.
 */
import { join } from 'node:path';
import type { Browser } from '@playwright/test';
import { makeCertificates } from '../../scripts/make-cert.ts';
import { launchBrowserIn } from './lab-browser.ts';
import { startCoturn, type Coturn, type TlsFiles } from './lab-services.ts';
import { createTopology, type NatMode, type Topology } from './topology.ts';

export interface Lab {
  net: Topology;
  /** Certificate and key for the server address, and the CA (PEM file) that signed them. */
  tls: TlsFiles & { ca: string };
  coturn: Coturn | undefined;
  /** One browser per home, in home order. */
  browsers: Browser[];
  close(): Promise<void>;
}

export interface LabOptions {
  homes?: number;
  nat?: NatMode;
  /** Start coturn with this shared secret. */
  turnSecret?: string;
  /** Launch one browser per home (default true), trusting the test CA (default true). */
  browsers?: boolean;
  trustCa?: boolean;
}

export async function openLab(options: LabOptions = {}): Promise<Lab> {
  const net = await createTopology({ homes: options.homes ?? 2, nat: options.nat ?? 'cone' });
  let coturn: Coturn | undefined;
  const browsers: Browser[] = [];
  const close = async () => {
    const steps = await Promise.allSettled([...browsers.map((browser) => browser.close()), coturn?.stop()]);
    await net.destroy();
    const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    const certificate = makeCertificates({ names: [], ips: [net.server.address], out: join(net.dir, 'tls'), days: 7, newCa: false });
    const tls = { cert: certificate.cert, key: certificate.key, ca: certificate.caCert };
    if (options.turnSecret) coturn = await startCoturn(net, { secret: options.turnSecret });
    if (options.browsers ?? true) {
      const trustCa = options.trustCa ?? true;
      browsers.push(...(await Promise.all(net.homes.map((_, index) => launchBrowserIn(net, index, trustCa ? { trustCa: tls.ca } : {})))));
    }
    return { net, tls, coturn, browsers, close };
  } catch (error) {
    await close().catch(() => undefined); // the first error is the one worth reporting
    throw error;
  }
}
