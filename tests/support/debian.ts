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

/** Each command's path, installing missing ones with apt as root on Debian; otherwise throws what to do. */
export function ensureCommands(needed: readonly Needed[], purpose: string): Record<string, string> {
  let missing = needed.filter(({ command }) => !commandPath(command));
  // Inside scripts/e2e.ts's namespace nothing reaches Debian's mirrors: apt would only fail on DNS.
  const offline = process.env.PEERCLOUD_NETNS === '1';
  if (missing.length > 0 && isRoot && !offline && existsSync('/etc/debian_version')) {
    const packages = [...new Set(missing.map((entry) => entry.package))];
    console.log(`${purpose} needs ${packages.join(', ')}: installing (apt-get install -y ${packages.join(' ')})…`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
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
