/**
 * Runs the end-to-end tests (or, with --bench, the benchmark) the way they must run here:
 *
 * 1. Finds a Chromium, installing Debian's when we are root on Debian and there is none (with
 *    the network lab's programs, in one apt run).
 * 2. Chromium will not make WebRTC connections over 127.0.0.1, and tests must send nothing
 *    to the machine's real network. So, as root, everything (tracker and browser) runs in
 *    a fresh network namespace with a veth pair and a default route; nothing leaves it.
 *    Elsewhere (a laptop, not root) the tests run directly and peers connect normally.
 * 3. The network lab's specs (tests/e2e/networks) build their own named namespaces from inside
 *    that run (tests/support/topology.ts). They need root: elsewhere they are left out, and
 *    this says so. The programs they run (nftables, coturn, nginx, caddy…) are installed here,
 *    before the namespace, which cannot reach Debian's mirrors. After the run, whatever a
 *    crashed run left of the lab is removed.
 */
import { spawnSync } from 'node:child_process';
import { CHROMIUM_HELP, findChromium } from '../tests/support/chromium.ts';
import { aptInstall, canApt, ensureCommands, LAB_COMMANDS } from '../tests/support/debian.ts';
import { missingForEndToEnd } from '../tests/support/test-packages.ts';
import { cleanLeftovers } from '../tests/support/topology.ts';

const bench = process.argv.includes('--bench');
// --bench-script <file>: another benchmark script in the same namespace (bench/profile-upload.ts).
const scriptAt = process.argv.indexOf('--bench-script');
const benchScript = scriptAt > 0 ? process.argv[scriptAt + 1] : undefined;
const passThrough = process.argv.slice(2).filter((arg, index) => arg !== '--bench' && index + 2 !== scriptAt && index + 2 !== scriptAt + 1);
const isRoot = process.getuid?.() === 0;

function ensureChromium(): string {
  const found = findChromium();
  if (found) return found;
  console.error(CHROMIUM_HELP);
  process.exit(1);
}

function canIsolate(): boolean {
  if (!isRoot || process.env.PEERCLOUD_NETNS === '1' || process.env.PEERCLOUD_NO_NETNS === '1') return false;
  return spawnSync('unshare', ['-n', 'true']).status === 0 && spawnSync('ip', ['-V']).status === 0;
}

const NETNS_SETUP = `
set -e
ip link set lo up
ip link add pc0 type veth peer name pc1
ip addr add 10.77.0.1/24 dev pc0
ip addr add 10.77.0.2/24 dev pc1
ip link set pc0 up
ip link set pc1 up
# Without a default route Chromium gathers no ICE candidates at all.
ip route add default via 10.77.0.2 dev pc0
exec "$@"
`;

// Chromium and the lab's programs in one apt run (one update, one set of dpkg triggers).
const lacking = missingForEndToEnd({ ...process.env, ...(isRoot ? {} : { PEERCLOUD_NETLAB: 'off' }) });
if (canApt() && lacking.length > 0) {
  console.log(`Installing Debian's ${lacking.map((entry) => entry.package).join(', ')} for the end-to-end tests (apt-get install)…`);
  aptInstall(lacking);
}
const chromiumPath = ensureChromium();
const command = bench || benchScript ? ['node', '--import', 'tsx', benchScript ?? 'bench/run.ts', ...passThrough] : ['npx', 'playwright', 'test', ...passThrough];
const env: NodeJS.ProcessEnv = { ...process.env, CHROMIUM_PATH: chromiumPath };
if (!isRoot && env.PEERCLOUD_NETLAB !== 'off') {
  console.log('Leaving out tests/e2e/networks (and the separate-network benchmarks): the network lab needs root.');
  env.PEERCLOUD_NETLAB = 'off';
}
if (isRoot && env.PEERCLOUD_NETLAB !== 'off') {
  try {
    ensureCommands(LAB_COMMANDS, 'The network lab');
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
const isolated = canIsolate();
const result = isolated
  ? spawnSync('unshare', ['-n', 'bash', '-c', NETNS_SETUP, 'bash', ...command], { stdio: 'inherit', env: { ...env, PEERCLOUD_NETNS: '1' } })
  : spawnSync(command[0]!, command.slice(1), { stdio: 'inherit', env });
if (!isolated) console.log('(ran without a private network namespace: not root, or unshare/ip unavailable)');
if (isRoot && env.PEERCLOUD_NETLAB !== 'off' && spawnSync('ip', ['-V']).status === 0) {
  const removed = cleanLeftovers();
  if (removed.length > 0) console.log(`Removed network lab namespaces a crashed run left behind: ${removed.join(', ')}`);
}
process.exit(result.status ?? 1);
