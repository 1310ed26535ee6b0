/**
 * The network lab: separate simulated networks made of named network namespaces, so that
 * browsers on different "homes" reach a tracker, coturn and proxies only through their own NAT
 * router, as between real computers. Facts behind every choice: /work/shared/WEBRTC-NOTES.md,
 * "Separate networks"; how to use and debug it: DEVELOPERS.md, "The network lab".
 *
 *   server ns: bridge br0 10.90.0.1/24 ── tracker, coturn, nginx/caddy, test page server
 *        │ 10.90.0.11            │ 10.90.0.12
 *   router r0 (NAT)          router r1 (NAT)          routers forward, masquerade, and have
 *        │ 192.168.1.1           │ 192.168.2.1        no route beyond these two networks
 *   home h0 192.168.1.10     home h1 192.168.2.10     default route via their router
 *
 * None of these namespaces has a link to the machine's own network, so nothing can leave.
 * Names carry the creating process's pid and a random part (`pcl-<pid>-<hex>-h0`): parallel
 * runs never collide, and a later run (or `node --import tsx scripts/netlab-clean.ts`) can tell
 * the leftovers of a dead run from a live one. Teardown happens in destroy(), and, if the test
 * process dies first, in a small detached watchdog that notices its pipe closing.
 */
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureCommands, isRoot } from './debian.ts';

/**
 * How each home's router translates and filters:
 * - `cone`: masquerade keeps the port per inside socket (endpoint-independent mapping), so
 *   STUN's server-reflexive candidate works for hole punching.
 * - `symmetric`: `masquerade random` picks a new port per destination: hole punching fails,
 *   only a relay (TURN) connects two such homes.
 * - `block`: symmetric, and the router forwards nothing but traffic to and from the server
 *   address (a strict corporate network): only TURN on the server works.
 */
export type NatMode = 'cone' | 'symmetric' | 'block';

/** A home link's shape: tbf rate limit in both directions, random loss of packets leaving the home, added delay. */
export interface LinkShape {
  rateMbit?: number | undefined;
  /**
   * The way out of the home (its uplink) at this rate instead of `rateMbit`: home broadband
   * sends far slower than it receives, and a host's uplink is what a download from it meets.
   */
  uplinkMbit?: number | undefined;
  /** Packets per thousand dropped on their way out of the home (2 = 0.2 %; 1000 cuts the home off). */
  lossPermille?: number | undefined;
  /**
   * Milliseconds every packet leaving the home is held (tests/support/delay-line.py, a user-space
   * delay line: this kernel has no netem). All of it on the way out, so a round trip through
   * this home gains exactly this much; two homes with 20 each are 40 ms apart.
   */
  delayMs?: number | undefined;
}

export interface Router {
  ns: string;
  wanAddress: string;
  lanAddress: string;
}

export interface Home {
  index: number;
  ns: string;
  address: string;
  router: Router;
}

export interface Topology {
  /** `pcl-<pid>-<hex>`: the prefix of every namespace of this run. */
  readonly id: string;
  /** A temp directory of this run (wrappers, configs, logs), removed with the topology. */
  readonly dir: string;
  readonly server: { ns: string; address: string };
  readonly homes: Home[];
  readonly nat: NatMode;
  /** Spawns a command inside a namespace (`ip netns exec`, which execs it: the child's pid is the command's). */
  exec(ns: string, command: string, args?: string[], options?: SpawnOptions): ChildProcess;
  /** Runs a command inside a namespace to its end; its stdout, or a rejection with its stderr. */
  run(ns: string, command: string, args?: string[], input?: string): Promise<string>;
  /** Ids of every process running inside the topology's namespaces (browsers, services). */
  pids(): Promise<number[]>;
  /** Changes every router's NAT mode and forgets existing translations (conntrack flush). */
  setNat(mode: NatMode): Promise<void>;
  /** Shapes one home's link; `{}` removes the shaping. */
  shape(homeIndex: number, shape: LinkShape): Promise<void>;
  /** Kills what runs inside, deletes the namespaces and the temp dir. Idempotent. */
  destroy(): Promise<void>;
}

export const SERVER_ADDRESS = '10.90.0.1';
const NAME_PREFIX = 'pcl';
const MAX_HOMES = 50;

export const LAB_HELP =
  'The network lab (tests/e2e/networks, the separate-network benchmarks) needs root: it creates network ' +
  'namespaces and nftables rules. Run the end-to-end tests as root (`sudo npm run test:e2e`), or leave ' +
  'those specs out with PEERCLOUD_NETLAB=off.';

/**
 * The tbf rate (Mbit/s) of each of a home router's devices, none where unshaped: `wan` carries
 * what leaves the home (its uplink), `lan` what comes into it.
 */
export function linkRates(shape: LinkShape): { wan: number | undefined; lan: number | undefined } {
  const rate = (value: number | undefined) => (value ? value : undefined);
  return { wan: rate(shape.uplinkMbit ?? shape.rateMbit), lan: rate(shape.rateMbit) };
}

export function homeAddresses(index: number): { wan: string; lan: string; home: string } {
  return { wan: `10.90.0.${11 + index}`, lan: `192.168.${index + 1}.1`, home: `192.168.${index + 1}.10` };
}

/**
 * A router's whole ruleset, replaced at once (`flush ruleset` first) whenever its mode or loss changes.
 *
 * The input rule is required in every mode: when a peer's first check arrives at the router
 * before our own packet has made the mapping, conntrack would record it as a new connection to
 * the router itself, and masquerade then has to pick another port for our mapping — a cone NAT
 * turned symmetric. Dropped in the input hook, the packet's conntrack entry is never confirmed.
 */
export function routerRuleset(nat: NatMode, options: { serverAddress: string; lossPermille?: number | undefined }): string {
  const forward: string[] = [];
  const loss = Math.round(options.lossPermille ?? 0);
  // numgen's values are 0…999: "< 1000" is refused, and all of them is a plain drop.
  if (loss >= 1000) forward.push('oifname "wan" drop');
  else if (loss > 0) forward.push(`oifname "wan" numgen random mod 1000 < ${loss} drop`);
  if (nat === 'block') forward.push(`iifname "wan" ip saddr != ${options.serverAddress} drop`, `oifname "wan" ip daddr != ${options.serverAddress} drop`);
  return `flush ruleset
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${nat === 'cone' ? 'masquerade' : 'masquerade random'}
  }
}
table ip filter {
  chain infilter {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain fwfilter {
    type filter hook forward priority filter; policy accept;
${forward.map((rule) => `    ${rule}`).join('\n')}
  }
}
`;
}

/** The namespace names of one run. */
export function namespaceNames(id: string, homes: number): { server: string; routers: string[]; homes: string[] } {
  return {
    server: `${id}-srv`,
    routers: Array.from({ length: homes }, (_, index) => `${id}-r${index}`),
    homes: Array.from({ length: homes }, (_, index) => `${id}-h${index}`),
  };
}

/** Run ids (`pcl-<pid>-<hex>`) among `ip netns list` names whose creating process is gone. */
export function leftoverRuns(names: string[], isAlive: (pid: number) => boolean): string[] {
  const runs = new Map<string, number>();
  for (const name of names) {
    const match = new RegExp(`^(${NAME_PREFIX}-(\\d+)-[0-9a-f]+)-`).exec(name);
    if (match) runs.set(match[1]!, Number(match[2]));
  }
  return [...runs].filter(([, pid]) => !isAlive(pid)).map(([id]) => id);
}

/** A shell script that kills everything inside the run's namespaces, deletes them and its temp dir; safe to run twice. */
function teardownScript(id: string, dir: string): string {
  return `
for ns in $(ip netns list | awk '{print $1}' | grep '^${id}-'); do
  pids=$(ip netns pids "$ns" 2>/dev/null)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  ip netns del "$ns" 2>/dev/null
done
rm -rf '${dir}'
true`;
}

function runDir(id: string): string {
  return join(tmpdir(), `peercloud-netlab-${id}`);
}

function buildScript(names: ReturnType<typeof namespaceNames>, nat: NatMode): string {
  const lines = ['set -e'];
  const all = [names.server, ...names.routers, ...names.homes];
  for (const ns of all) {
    lines.push(`ip netns add ${ns}`);
    // IPv4 only: fewer candidates to reason about, and no IPv6 path around the NAT.
    lines.push(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`);
    lines.push(`ip -n ${ns} link set lo up`);
  }
  lines.push(`ip -n ${names.server} link add br0 type bridge`, `ip -n ${names.server} addr add ${SERVER_ADDRESS}/24 dev br0`, `ip -n ${names.server} link set br0 up`);
  names.routers.forEach((router, index) => {
    const home = names.homes[index]!;
    const addresses = homeAddresses(index);
    // Each veth end is made directly in its namespace: names only need to be unique there.
    lines.push(
      `ip link add wan netns ${router} type veth peer name r${index} netns ${names.server}`,
      `ip -n ${names.server} link set r${index} master br0`,
      `ip -n ${names.server} link set r${index} up`,
      `ip -n ${router} addr add ${addresses.wan}/24 dev wan`,
      `ip -n ${router} link set wan up`,
      `ip link add lan netns ${router} type veth peer name eth0 netns ${home}`,
      `ip -n ${router} addr add ${addresses.lan}/24 dev lan`,
      `ip -n ${router} link set lan up`,
      `ip -n ${home} addr add ${addresses.home}/24 dev eth0`,
      `ip -n ${home} link set eth0 up`,
      // Without a default route Chromium gathers no candidates at all.
      `ip -n ${home} route add default via ${addresses.lan}`,
      // New namespaces do not forward.
      `ip netns exec ${router} sysctl -qw net.ipv4.ip_forward=1`,
      `ip netns exec ${router} nft -f - <<'RULES'\n${routerRuleset(nat, { serverAddress: SERVER_ADDRESS })}RULES`,
    );
  });
  return lines.join('\n');
}

function runCommand(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr!.on('data', (data: Buffer) => (stderr += data.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`))));
    if (input !== undefined) {
      // A command that exits without reading all of it fails by its exit code, not by EPIPE here.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Namespace names of every lab run on this machine. */
export function labNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.startsWith(`${NAME_PREFIX}-`));
}

/** Removes what dead runs left behind (all runs with `all`); returns the run ids removed. */
export function cleanLeftovers(options: { all?: boolean } = {}): string[] {
  const runs = leftoverRuns(labNamespaces(), options.all ? () => false : isAlive);
  for (const id of runs) execFileSync('bash', ['-c', teardownScript(id, runDir(id))], { stdio: 'ignore' });
  return runs;
}

/**
 * The watchdog: a detached shell reading our pipe. A clean destroy() writes "done"; if this
 * process dies first (a crash, a SIGKILL from the test runner), the pipe closes and it tears down.
 */
function startWatchdog(id: string, dir: string): ChildProcess {
  const script = `read -r line; [ "$line" = done ] || { ${teardownScript(id, dir)}; }`;
  const watchdog = spawn('bash', ['-c', script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  // The pipe must not keep this process alive either.
  (watchdog.stdin as unknown as { _handle?: { unref(): void } })._handle?.unref();
  return watchdog;
}

let commandsChecked = false;

export async function createTopology(options: { homes: number; nat: NatMode }): Promise<Topology> {
  if (!isRoot) throw new Error(LAB_HELP);
  if (!Number.isInteger(options.homes) || options.homes < 1 || options.homes > MAX_HOMES) throw new Error(`homes must be 1…${MAX_HOMES}`);
  if (!commandsChecked) {
    ensureCommands(
      [
        { command: 'ip', package: 'iproute2' },
        { command: 'tc', package: 'iproute2' },
        { command: 'nft', package: 'nftables' },
        { command: 'conntrack', package: 'conntrack' },
      ],
      'The network lab',
    );
    commandsChecked = true;
  }
  cleanLeftovers();

  const id = `${NAME_PREFIX}-${process.pid}-${randomBytes(2).toString('hex')}`;
  const dir = runDir(id);
  mkdirSync(dir, { recursive: true });
  const watchdog = startWatchdog(id, dir);
  const names = namespaceNames(id, options.homes);
  try {
    await runCommand('bash', ['-c', buildScript(names, options.nat)]);
  } catch (error) {
    execFileSync('bash', ['-c', teardownScript(id, dir)], { stdio: 'ignore' });
    watchdog.stdin?.end('done\n');
    throw error;
  }

  let nat = options.nat;
  const delayLines = names.homes.map((): { delayMs: number; process: ChildProcess } | undefined => undefined);
  const losses = names.routers.map(() => 0);
  const rateLimited = names.routers.map(() => ({ wan: false, lan: false }));
  const homes: Home[] = names.homes.map((ns, index) => {
    const addresses = homeAddresses(index);
    return { index, ns, address: addresses.home, router: { ns: names.routers[index]!, wanAddress: addresses.wan, lanAddress: addresses.lan } };
  });
  let destroyed = false;

  /** Routes the home's traffic through a delay line holding each packet `delayMs`, or straight to its router again (0). */
  const setDelay = async (home: Home, delayMs: number) => {
    if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 10_000)) throw new Error(`delayMs must be 0…10000, not ${delayMs}`);
    const current = delayLines[home.index];
    if ((current?.delayMs ?? 0) === delayMs) return;
    if (current) {
      await topology.run(home.ns, 'ip', ['route', 'replace', 'default', 'via', home.router.lanAddress, 'dev', 'eth0']);
      // Its TUN device goes with it: a new line may only take the name once it is gone.
      const gone = new Promise((resolve) => current.process.once('exit', resolve));
      current.process.kill('SIGKILL');
      await gone;
      delayLines[home.index] = undefined;
    }
    if (delayMs === 0) return;
    const { python3 } = ensureCommands([{ command: 'python3', package: 'python3' }], 'A delayed link in the network lab');
    const routerMac = (await topology.run(home.router.ns, 'cat', ['/sys/class/net/lan/address'])).trim();
    const script = fileURLToPath(new URL('./delay-line.py', import.meta.url));
    const line = topology.exec(home.ns, python3!, [script, 'delay0', 'eth0', routerMac, String(delayMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    line.stderr!.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-2000)));
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: line.stdout! });
      lines.once('line', () => resolve());
      line.once('exit', (code) => reject(new Error(`the delay line of home ${home.index} exited with ${code}: ${stderr.trim()}`)));
    });
    delayLines[home.index] = { delayMs, process: line };
    // Replies come back through eth0 while the route out is the TUN device: reverse-path filtering would drop them.
    await topology.run(home.ns, 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=0']);
    await topology.run(home.ns, 'ip', ['link', 'set', 'delay0', 'up']);
    await topology.run(home.ns, 'ip', ['route', 'replace', 'default', 'dev', 'delay0', 'src', home.address]);
  };

  const topology: Topology = {
    id,
    dir,
    server: { ns: names.server, address: SERVER_ADDRESS },
    homes,
    get nat() {
      return nat;
    },
    exec(ns, command, args = [], spawnOptions = {}) {
      return spawn('ip', ['netns', 'exec', ns, command, ...args], spawnOptions);
    },
    run(ns, command, args = [], input) {
      return runCommand('ip', ['netns', 'exec', ns, command, ...args], input);
    },
    async pids() {
      const lists = await Promise.all([names.server, ...names.routers, ...names.homes].map((ns) => runCommand('ip', ['netns', 'pids', ns])));
      return lists.flatMap((list) => list.split('\n').filter(Boolean).map(Number));
    },
    async setNat(mode) {
      nat = mode;
      await Promise.all(
        homes.map(async (home, index) => {
          await topology.run(home.router.ns, 'nft', ['-f', '-'], routerRuleset(mode, { serverAddress: SERVER_ADDRESS, lossPermille: losses[index] }));
          // Old translations would otherwise outlive the mode that made them.
          await topology.run(home.router.ns, 'conntrack', ['-F']);
        }),
      );
    },
    async shape(homeIndex, shape) {
      const home = homes[homeIndex];
      if (!home) throw new Error(`no home ${homeIndex}`);
      if (shape.lossPermille !== undefined && !(shape.lossPermille >= 0 && shape.lossPermille <= 1000)) throw new Error(`lossPermille must be 0…1000, not ${shape.lossPermille}`);
      const rates = linkRates(shape);
      for (const device of ['wan', 'lan'] as const) {
        const rateMbit = rates[device];
        if (rateMbit) {
          // tbf needs a bucket of at least one timer tick's worth of bytes (HZ can be as low as 100).
          const burst = Math.max(Math.ceil((rateMbit * 1e6) / 8 / 100), 16_384);
          await topology.run(home.router.ns, 'tc', ['qdisc', 'replace', 'dev', device, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', String(burst), 'latency', '50ms']);
        } else if (rateLimited[homeIndex]![device]) {
          await topology.run(home.router.ns, 'tc', ['qdisc', 'del', 'dev', device, 'root']);
        }
        rateLimited[homeIndex]![device] = Boolean(rateMbit);
      }
      losses[homeIndex] = shape.lossPermille ?? 0;
      await setDelay(home, shape.delayMs ?? 0);
      await topology.run(home.router.ns, 'nft', ['-f', '-'], routerRuleset(nat, { serverAddress: SERVER_ADDRESS, lossPermille: losses[homeIndex] }));
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await runCommand('bash', ['-c', teardownScript(id, dir)]);
      watchdog.stdin?.end('done\n');
    },
  };
  return topology;
}
