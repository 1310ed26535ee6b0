/**
 * Commands the test setup needs from Debian packages (nftables, coturn, nginx…). A fresh CI
 * machine may lack them: as root on Debian they are installed with apt, like Chromium in
 * scripts/e2e.ts; anywhere else the setup stops with the exact command to run.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A command and the Debian package that provides it. */
export interface Needed {
  command: string;
  package: string;
}

export const isRoot = process.getuid?.() === 0;

// Root's PATH usually has the sbin directories, a user's often not; ip, nft and tc live there.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function commandPath(command: string): string | undefined {
  const directories = [...(process.env.PATH ?? '').split(delimiter), ...SBIN];
  for (const directory of directories) {
    const path = join(directory, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory: try the next
    }
  }
  return undefined;
}

/**
 * Everything the network lab runs (tests/e2e/networks and the separate-network benchmarks).
 * The lab's specs run inside the private network namespace of scripts/e2e.ts, where apt cannot
 * reach Debian's mirrors: so scripts/e2e.ts installs these before it enters the namespace, as it
 * installs Chromium. Each place that runs one still asks for it here, to say what is missing.
 */
export const LAB_COMMANDS: readonly Needed[] = [
  { command: 'ip', package: 'iproute2' },
  { command: 'tc', package: 'iproute2' },
  { command: 'nft', package: 'nftables' },
  { command: 'conntrack', package: 'conntrack' },
  { command: 'python3', package: 'python3' },
  { command: 'certutil', package: 'libnss3-tools' },
  { command: 'turnserver', package: 'coturn' },
  { command: 'nginx', package: 'nginx' },
  { command: 'caddy', package: 'caddy' },
];

/** The load balancer in front of the integration tests' clusters of trackers (tests/support/haproxy.ts). */
export const HAPROXY: Needed = { command: 'haproxy', package: 'haproxy' };

/** A Debian package to install, and whether apt may add the packages it recommends with it. */
export interface AptPackage {
  package: string;
  recommends: boolean;
}

/**
 * The apt-get runs that install `wanted`: one `update` (a fresh machine's package lists may be
 * missing or old), then one `install` for those that want their recommendations and one for
 * those that don't; nothing when nothing is wanted. Each `apt-get update` costs seconds to
 * tens of seconds and each install its dpkg triggers (man-db's alone takes seconds), so the
 * test setup asks for everything it lacks in one go instead of one tool at a time.
 */
export function aptRuns(wanted: readonly AptPackage[]): string[][] {
  const withRecommends = [...new Set(wanted.filter((entry) => entry.recommends).map((entry) => entry.package))];
  // A package asked for both ways comes with its recommendations (the larger set).
  const without = [...new Set(wanted.filter((entry) => !entry.recommends && !withRecommends.includes(entry.package)).map((entry) => entry.package))];
  if (withRecommends.length === 0 && without.length === 0) return [];
  return [
    ['update', '-qq'],
    ...(withRecommends.length > 0 ? [['install', '-y', '-qq', ...withRecommends]] : []),
    ...(without.length > 0 ? [['install', '-y', '-qq', '--no-install-recommends', ...without]] : []),
  ];
}

/** Whether this process may install Debian packages itself: root on Debian, outside scripts/e2e.ts's namespace (no mirror reachable there). */
export function canApt(): boolean {
  return isRoot && process.env.PEERCLOUD_NETNS !== '1' && existsSync('/etc/debian_version');
}

/** Installs `wanted` with apt (see aptRuns); the caller checks canApt() first. */
export function aptInstall(wanted: readonly AptPackage[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of aptRuns(wanted)) execFileSync('apt-get', args, { stdio: 'inherit', env });
}

/** Each command's path, installing missing ones with apt as root on Debian; otherwise throws what to do. */
export function ensureCommands(needed: readonly Needed[], purpose: string): Record<string, string> {
  let missing = needed.filter(({ command }) => !commandPath(command));
  // Inside scripts/e2e.ts's namespace nothing reaches Debian's mirrors: apt would only fail on DNS.
  const offline = process.env.PEERCLOUD_NETNS === '1';
  if (missing.length > 0 && canApt()) {
    const packages = [...new Set(missing.map((entry) => entry.package))];
    console.log(`${purpose} needs ${packages.join(', ')}: installing (apt-get install -y ${packages.join(' ')})…`);
    aptInstall(packages.map((name) => ({ package: name, recommends: false })));
    missing = needed.filter(({ command }) => !commandPath(command));
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((entry) => entry.package))].join(' ');
    throw new Error(
      `${purpose} needs ${missing.map((entry) => `\`${entry.command}\``).join(', ')}, not found. ` +
        `On Debian/Ubuntu: \`sudo apt-get install -y ${packages}\` (as root on Debian the tests install them themselves` +
        (offline ? ' before they enter their network namespace, from LAB_COMMANDS in tests/support/debian.ts: a command missing there belongs in that list).' : ').'),
    );
  }
  return Object.fromEntries(needed.map(({ command }) => [command, commandPath(command)!]));
}
