/**
 * Debian's HAProxy in front of several trackers, with deploy/haproxy-peercloud.cfg as it is:
 * only its three `bind` lines (loopback ports of the test's own, the page's without TLS: the
 * test peers are Node programs) and its `server` lines (the test's trackers) are replaced. Ready
 * once HAProxy's own statistics say every tracker is UP. Installed with apt as root on Debian
 * when missing (tests/support/debian.ts), otherwise the setup says what to do.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCommands, HAPROXY } from './debian.ts';
import { freePort } from './tracker-process.ts';

export interface Haproxy {
  /** The page's address through HAProxy. */
  url: string;
  /** Each tracker's state as HAProxy sees it: name → UP, DOWN, … */
  states(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export const HAPROXY_CONFIG = new URL('../../deploy/haproxy-peercloud.cfg', import.meta.url);

/** The deployment file with the test's addresses: `trackers` maps a server name to its port. */
export function testConfig(template: string, ports: { page: number; redirect: number; stats: number }, trackers: Record<string, number>): string {
  const binds = [`127.0.0.1:${ports.page}`, `127.0.0.1:${ports.redirect}`, `127.0.0.1:${ports.stats}`];
  let bind = 0;
  let serversWritten = false;
  const lines = template.split('\n').flatMap((line) => {
    if (/^\s*bind\s/.test(line)) return [`    bind ${binds[bind++]}`];
    if (/^\s*server\s/.test(line)) {
      if (serversWritten) return [];
      serversWritten = true;
      return Object.entries(trackers).map(([name, port]) => `    server ${name} 127.0.0.1:${port} check`);
    }
    return [line];
  });
  if (bind !== 3 || !serversWritten) throw new Error('deploy/haproxy-peercloud.cfg no longer has its three bind lines and its server lines: update tests/support/haproxy.ts');
  return lines.join('\n');
}

export async function startHaproxy(dir: string, trackers: Record<string, number>): Promise<Haproxy> {
  const haproxy = ensureCommands([HAPROXY], 'The tests of several trackers').haproxy!;
  const ports = { page: await freePort(), redirect: await freePort(), stats: await freePort() };
  const path = join(dir, 'haproxy.cfg');
  writeFileSync(path, testConfig(readFileSync(HAPROXY_CONFIG, 'utf8'), ports, trackers));
  // -db: in the foreground, logs to stdout (the file's `log stdout`).
  const child = spawn(haproxy, ['-f', path, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output = (output + data.toString()).slice(-8000)));
  child.stderr!.on('data', (data: Buffer) => (output = (output + data.toString()).slice(-8000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const states = async (): Promise<Record<string, string>> => {
    const response = await fetch(`http://127.0.0.1:${ports.stats}/haproxy;csv`);
    const rows = (await response.text()).split('\n').map((line) => line.split(','));
    // CSV columns: pxname, svname, …, status is the 18th.
    return Object.fromEntries(rows.filter((row) => row[0] === 'trackers' && row[1] !== 'BACKEND').map((row) => [row[1]!, row[17]!]));
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}):\n${output}`);
    const up = await states().catch(() => ({}) as Record<string, string>);
    if (Object.keys(trackers).every((name) => up[name] === 'UP')) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not see every tracker UP within 15 s (${JSON.stringify(up)}):\n${output}`);
    // Polling HAProxy's own view until it has checked each tracker (its checks run every second).
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${ports.page}`,
    states,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
