/**
 * The Peercloud tracker as its own process on the network lab's server network: the real
 * `server/main.ts`, configured by environment variables as an operator would. Peers and the
 * operator API on the lab: tests/e2e/fixtures/lab-peers.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TRACKER_NODE_FLAGS } from '../../server/node-flags.ts';
import type { Lab } from './lab.ts';
import { startProcess, type RunningProcess } from './lab-services.ts';
import { QUICK_TRACKER_TIMINGS } from '../e2e/fixtures/settings.ts';

export const LAB_TRACKER_PORT = 3000;
export const LAB_ADMIN_TOKEN = 'lab-operator-token-0123456789';

/** Everything but the timings is the tracker's own default (NEWCOMER_SPACE included: the specs move files far smaller than it). */
const LAB_SETTINGS = {
  ADMIN_SHOW_NAMES: 'true',
  LOG_LEVEL: 'info',
};

export interface LabTracker {
  /** Where it answers: `https://10.90.0.1:3000` with TLS, else `http://…`; on the server's loopback behind a proxy. */
  url: string;
  process: RunningProcess;
  stop(): Promise<void>;
}

/**
 * Starts `server/main.ts` in the lab's server namespace. `tls` (default true) serves https
 * with the lab's certificate for the server address; `env` adds or overrides variables.
 * `timings`: `quick` (default) to notice a closed page in seconds, as in the e2e config;
 * `defaults` for the tracker's own (the benchmark: Peercloud as an operator runs it).
 */
export async function startLabTracker(
  lab: Lab,
  options: { tls?: boolean; host?: string; port?: number; env?: Record<string, string>; timings?: 'quick' | 'defaults' } = {},
): Promise<LabTracker> {
  const tls = options.tls ?? true;
  const port = options.port ?? LAB_TRACKER_PORT;
  const host = options.host ?? lab.net.server.address;
  // Where it answers: the server's address when it listens on all of them, else the one it listens on.
  const url = `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? lab.net.server.address : host}:${port}`;
  const name = `tracker-${randomBytes(3).toString('hex')}`;
  const tracker = await startProcess(lab.net, lab.net.server.ns, process.execPath, [...TRACKER_NODE_FLAGS, '--import', 'tsx', 'server/main.ts'], {
    name,
    env: {
      ...(options.timings === 'defaults' ? {} : QUICK_TRACKER_TIMINGS),
      ...LAB_SETTINGS,
      HOST: host,
      PORT: String(port),
      DB_PATH: join(lab.net.dir, `${name}.db`),
      ADMIN_TOKEN: LAB_ADMIN_TOKEN,
      ...(tls ? { TLS_CERT: lab.tls.cert, TLS_KEY: lab.tls.key } : {}),
      ...options.env,
    },
    ready: tls ? { kind: 'http', url: `${url}/healthz`, ca: lab.tls.ca } : { kind: 'http', url: `${url}/healthz` },
    readyTimeoutMs: 30_000,
  });
  return { url, process: tracker, stop: () => tracker.stop() };
}
