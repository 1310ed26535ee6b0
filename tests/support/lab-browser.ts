/**
 * Chromium inside a home of the network lab. Playwright launches an `executablePath`; here it
 * is a two-line wrapper that runs the real Chromium through `ip netns exec <home>`. The pipe
 * transport Playwright uses passes through, so one test process drives browsers on several
 * networks at once.
 *
 * Certificates: with `trustCa`, the browser gets a HOME whose NSS database (~/.pki/nssdb, what
 * Chromium on Linux reads for locally trusted roots) trusts that CA, so the test exercises the
 * browser's real certificate checks, as a device whose owner trusted the CA would. Without it,
 * an https page of the lab fails with NET::ERR_CERT_AUTHORITY_INVALID, as it would for them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from './chromium.ts';
import { ensureCommands } from './debian.ts';
import type { Topology } from './topology.ts';

/** Writes (once) the wrapper that starts Chromium inside namespace `ns`. */
export function chromiumWrapper(net: Topology, ns: string): string {
  const chromiumPath = findChromium();
  if (!chromiumPath) throw new Error(CHROMIUM_HELP);
  const path = join(net.dir, `chromium-${ns}`);
  if (!existsSync(path)) writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${ns} ${chromiumPath} "$@"\n`, { mode: 0o755 });
  return path;
}

/** A HOME directory whose NSS database trusts the CA in `caCert` for websites; one per CA per topology. */
export function homeTrusting(net: Topology, caCert: string): string {
  const home = join(net.dir, `home-${createHash('sha256').update(caCert).digest('hex').slice(0, 12)}`);
  const db = join(home, '.pki', 'nssdb');
  if (existsSync(join(db, 'cert9.db'))) return home;
  const { certutil } = ensureCommands([{ command: 'certutil', package: 'libnss3-tools' }], 'Trusting the lab’s test CA in Chromium');
  mkdirSync(db, { recursive: true });
  execFileSync(certutil!, ['-d', `sql:${db}`, '-N', '--empty-password']);
  // "C,,": a CA trusted to issue server certificates (and nothing else).
  execFileSync(certutil!, ['-d', `sql:${db}`, '-A', '-n', 'Peercloud lab CA', '-t', 'C,,', '-i', caCert]);
  return home;
}

export interface LabBrowserOptions {
  /** A CA certificate (PEM file) the browser trusts, as a device whose owner trusted it. */
  trustCa?: string;
  /** More Chromium flags after CHROMIUM_ARGS. */
  args?: string[];
}

/** Launches headless Chromium inside home `homeIndex` of `net`. */
export async function launchBrowserIn(net: Topology, homeIndex: number, options: LabBrowserOptions = {}): Promise<Browser> {
  const home = net.homes[homeIndex];
  if (!home) throw new Error(`no home ${homeIndex} in ${net.id}`);
  const env: Record<string, string | undefined> = { ...process.env };
  if (options.trustCa) env.HOME = homeTrusting(net, options.trustCa);
  return chromium.launch({ executablePath: chromiumWrapper(net, home.ns), args: [...CHROMIUM_ARGS, ...(options.args ?? [])], headless: true, env });
}
