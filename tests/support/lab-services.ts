/**
 * Services of the network lab, started inside a namespace of a topology (topology.ts) by the
 * test setup, as Chromium is: any process (the tracker: `startProcess`), Debian's coturn, nginx
 * and caddy, and the lab's own test page server. Each waits until the service answers (a probe
 * run inside the same namespace, tests/support/lab-probe.mjs), never a fixed time; each keeps
 * its output in `<topology dir>/<name>.log`, and a failed start says why with the log's tail.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommands } from './debian.ts';
import type { Topology } from './topology.ts';

const PROBE = fileURLToPath(new URL('./lab-probe.mjs', import.meta.url));
const PAGE_SERVER = fileURLToPath(new URL('./lab-page-server.ts', import.meta.url));

export type ProbeTarget =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'stun'; host: string; port: number }
  /** Any HTTP answer; with `ca`, only over TLS that verifies against that CA file. */
  | { kind: 'http'; url: string; ca?: string };

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface RunningProcess {
  child: ChildProcess;
  /** The log file: everything the process wrote to stdout and stderr. */
  logPath: string;
  /** The last 8 KB of that output, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL if it has not exited after 5 s. Idempotent. */
  stop(): Promise<void>;
}

/** Waits until `target` answers from inside `ns`, or throws the probe's last error. */
export async function probe(net: Topology, ns: string, target: ProbeTarget, timeoutMs = 15_000): Promise<void> {
  await net.run(ns, process.execPath, [PROBE, JSON.stringify({ ...target, timeoutMs })]);
}

/**
 * Starts a command inside a namespace and resolves once `ready` answers. Rejects (and kills
 * the process) if it exits first or never answers.
 */
export async function startProcess(
  net: Topology,
  ns: string,
  command: string,
  args: string[],
  options: { name: string; ready: ProbeTarget; env?: Record<string, string>; cwd?: string; readyTimeoutMs?: number },
): Promise<RunningProcess> {
  const logPath = join(net.dir, `${options.name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = net.exec(ns, command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let recent = '';
  const keep = (data: Buffer) => {
    log.write(data);
    recent = (recent + data.toString()).slice(-8192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopped: Promise<void> | undefined;
  const running: RunningProcess = {
    child,
    logPath,
    tail: () => recent,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(killer);
        }
        await new Promise((resolve) => log.end(resolve));
      })();
      return stopped;
    },
  };
  const failure = (reason: string) => new Error(`${options.name} (${command} in ${ns}) ${reason}. Its output (${logPath}):\n${recent.trim()}`);
  let exitedEarly: Error | undefined;
  try {
    await Promise.race([
      probe(net, ns, options.ready, options.readyTimeoutMs),
      exited.then((code) => {
        throw (exitedEarly = failure(`exited with ${code} before it answered`));
      }),
    ]);
  } catch (error) {
    await running.stop();
    throw error === exitedEarly ? error : failure(`did not answer: ${(error as Error).message}`);
  }
  return running;
}

/**
 * Time-limited TURN credentials in coturn's shared-secret scheme (`--use-auth-secret`): the
 * username is `<expiry unix seconds>:<id>`, the password base64(HMAC-SHA1(secret, username)).
 */
export function turnCredentials(secret: string, id: string, ttlSeconds: number, nowMs = Date.now()): { username: string; credential: string } {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${id}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

export interface Coturn {
  address: string;
  port: number;
  stunUrl: string;
  turnUrl: string;
  /** ICE servers for one peer: STUN, and TURN with fresh credentials for `id`. */
  iceServers(id: string, ttlSeconds?: number): RTCIceServer[];
  process: RunningProcess;
  stop(): Promise<void>;
}

/** Debian's coturn on the server address: STUN and TURN over UDP and TCP, shared-secret auth. */
export async function startCoturn(net: Topology, options: { secret: string; realm?: string; port?: number; relayPorts?: [number, number] }): Promise<Coturn> {
  const { turnserver } = ensureCommands([{ command: 'turnserver', package: 'coturn' }], 'The network lab’s TURN server');
  const address = net.server.address;
  const port = options.port ?? 3478;
  const [minPort, maxPort] = options.relayPorts ?? [49152, 49999];
  const dir = join(net.dir, 'coturn');
  mkdirSync(dir, { recursive: true });
  const args = [
    '-n', // no configuration file: everything is on this line
    `--listening-ip=${address}`,
    `--relay-ip=${address}`,
    `--listening-port=${port}`,
    `--min-port=${minPort}`,
    `--max-port=${maxPort}`,
    '--use-auth-secret',
    `--static-auth-secret=${options.secret}`,
    `--realm=${options.realm ?? 'peercloud.test'}`,
    '--fingerprint',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--no-multicast-peers',
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
  ];
  const service = await startProcess(net, net.server.ns, turnserver!, args, { name: 'coturn', ready: { kind: 'stun', host: address, port } });
  const turnUrl = `turn:${address}:${port}?transport=udp`;
  const stunUrl = `stun:${address}:${port}`;
  return {
    address,
    port,
    stunUrl,
    turnUrl,
    iceServers: (id, ttlSeconds = 3600) => [{ urls: stunUrl }, { urls: turnUrl, ...turnCredentials(options.secret, id, ttlSeconds) }],
    process: service,
    stop: () => service.stop(),
  };
}

export interface Proxy {
  url: string;
  address: string;
  port: number;
  process: RunningProcess;
  stop(): Promise<void>;
}

interface ProxyOptions {
  /** `host:port` of each upstream, plain http. */
  upstreams: string[];
  /** Terminate TLS with these files; without, the proxy speaks plain http. */
  tls?: TlsFiles;
  /** Default 443 (nginx) or 4443 (caddy) with tls, 80 or 4080 without, so both and the lab page server (8080, 8443) can run at once. */
  port?: number;
  /** CA that `tls.cert` verifies against, so readiness is probed over verified TLS. */
  ca?: string;
}

/**
 * Debian's nginx in the server namespace in front of `upstreams`: TLS, WebSocket upgrade, and
 * X-Forwarded-For with the client's address appended (`$proxy_add_x_forwarded_for`, what most
 * guides use: a header the client sent itself is kept in front, so only the last hop is sure).
 */
export async function startNginx(net: Topology, options: ProxyOptions): Promise<Proxy> {
  const { nginx } = ensureCommands([{ command: 'nginx', package: 'nginx' }], 'The network lab’s nginx proxy');
  const address = net.server.address;
  const port = options.port ?? (options.tls ? 443 : 80);
  const dir = join(net.dir, `nginx-${port}`);
  mkdirSync(dir, { recursive: true });
  const scheme = options.tls ? 'https' : 'http';
  const config = `daemon off;
master_process on;
worker_processes 1;
# As root nginx would run its worker as nobody, who cannot write the temp directories below.
user root;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream peercloud {
${options.upstreams.map((upstream) => `    server ${upstream};`).join('\n')}
  }
  server {
    listen ${address}:${port}${options.tls ? ' ssl' : ''};
${options.tls ? `    ssl_certificate ${options.tls.cert};\n    ssl_certificate_key ${options.tls.key};\n` : ''}    client_max_body_size 1m;
    location / {
      proxy_pass http://peercloud;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Socket.IO's WebSocket stays open for hours; nginx would close it after 60 s idle.
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const url = new URL(`${scheme}://${address}:${port}`).origin;
  const service = await startProcess(net, net.server.ns, nginx!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], {
    name: `nginx-${port}`,
    ready: { kind: 'http', url: `${url}/`, ...(options.ca ? { ca: options.ca } : {}) },
  });
  return { url, address, port, process: service, stop: () => service.stop() };
}

/**
 * Debian's caddy in the server namespace in front of `upstreams`, with the given certificate
 * (no ACME in a lab). Caddy passes WebSocket upgrades by itself and sets X-Forwarded-For to the
 * client's address alone: a header the client sent is dropped unless the client is one of
 * caddy's `trusted_proxies`.
 */
export async function startCaddy(net: Topology, options: ProxyOptions): Promise<Proxy> {
  const { caddy } = ensureCommands([{ command: 'caddy', package: 'caddy' }], 'The network lab’s caddy proxy');
  const address = net.server.address;
  const port = options.port ?? (options.tls ? 4443 : 4080);
  const dir = join(net.dir, `caddy-${port}`);
  mkdirSync(dir, { recursive: true });
  const scheme = options.tls ? 'https' : 'http';
  const config = `{
  admin off
  auto_https off
  storage file_system ${dir}/storage
}
${scheme}://${address}:${port} {
  bind ${address}
${options.tls ? `  tls ${options.tls.cert} ${options.tls.key}\n` : ''}  reverse_proxy ${options.upstreams.join(' ')}
}
`;
  writeFileSync(join(dir, 'Caddyfile'), config);
  const url = new URL(`${scheme}://${address}:${port}`).origin;
  const service = await startProcess(net, net.server.ns, caddy!, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    name: `caddy-${port}`,
    // Caddy writes its state under HOME/XDG directories: keep it in the lab's directory.
    env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    ready: { kind: 'http', url: `${url}/`, ...(options.ca ? { ca: options.ca } : {}) },
  });
  return { url, address, port, process: service, stop: () => service.stop() };
}

export interface LabPageServer {
  httpUrl: string;
  httpsUrl: string | undefined;
  /** host:port of the plain http listener, for a proxy's upstream. */
  httpUpstream: string;
  stop(): Promise<void>;
}

/** The lab's own test page (lab-page-server.ts) on the server address: http, and https with `tls`. */
export async function startLabPageServer(net: Topology, options: { tls?: TlsFiles; ca?: string; httpPort?: number; httpsPort?: number } = {}): Promise<LabPageServer> {
  const host = net.server.address;
  const httpPort = options.httpPort ?? 8080;
  const httpsPort = options.tls ? (options.httpsPort ?? 8443) : undefined;
  const config = { host, httpPort, ...(options.tls ? { httpsPort, cert: options.tls.cert, key: options.tls.key } : {}) };
  const httpUrl = `http://${host}:${httpPort}`;
  const httpsUrl = httpsPort ? `https://${host}:${httpsPort}` : undefined;
  const service = await startProcess(net, net.server.ns, process.execPath, ['--import', 'tsx', PAGE_SERVER, JSON.stringify(config)], {
    name: 'lab-page-server',
    ready: httpsUrl ? { kind: 'http', url: `${httpsUrl}/`, ...(options.ca ? { ca: options.ca } : {}) } : { kind: 'http', url: `${httpUrl}/` },
  });
  return { httpUrl, httpsUrl, httpUpstream: `${host}:${httpPort}`, stop: () => service.stop() };
}
