/**
 * The configurations of `deploy/` (what docs/DEPLOY.md tells operators to use), started on the
 * network lab's server network as they are: only names, addresses, paths and the secret are
 * substituted, each substitution an exact piece of the file (a file that no longer has it
 * fails here, so these specs follow the files rather than drift from them). What wraps them is
 * what the package's own main configuration provides on a real server (nginx.conf's http block,
 * the daemon's pid file), kept in the lab's directory.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommands } from './debian.ts';
import { startProcess, type Proxy, type TlsFiles } from './lab-services.ts';
import type { Topology } from './topology.ts';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** `file` with each [from, to] replaced (every occurrence); throws if a `from` is not in it. */
export function substitute(file: string, replacements: [string, string][]): string {
  let text = readFileSync(join(DEPLOY, file), 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`deploy/${file} no longer contains ${JSON.stringify(from)}: update tests/support/lab-deploy.ts`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** deploy/nginx-peercloud.conf in front of the tracker on the server's loopback (port `upstreamPort`). */
export async function startDeployNginx(net: Topology, options: { tls: TlsFiles; ca: string; upstreamPort?: number }): Promise<Proxy> {
  const { nginx } = ensureCommands([{ command: 'nginx', package: 'nginx' }], 'The network lab’s nginx proxy');
  const address = net.server.address;
  const dir = join(net.dir, 'deploy-nginx');
  mkdirSync(dir, { recursive: true });
  const site = substitute('nginx-peercloud.conf', [
    ['server_name peercloud.example;', `server_name ${address};`],
    ['listen 443 ssl http2;', `listen ${address}:443 ssl http2;`],
    ['listen 80;', `listen ${address}:80;`],
    // The lab is IPv4 only (IPv6 is off in its namespaces).
    ['    listen [::]:443 ssl http2;\n', ''],
    ['    listen [::]:80;\n', ''],
    ['/etc/letsencrypt/live/peercloud.example/fullchain.pem', options.tls.cert],
    ['/etc/letsencrypt/live/peercloud.example/privkey.pem', options.tls.key],
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${options.upstreamPort ?? 3000};`],
  ]);
  writeFileSync(join(dir, 'peercloud.conf'), site);
  // Debian's /etc/nginx/nginx.conf, reduced to what the site needs, with its state in the lab's directory.
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
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
  include ${dir}/peercloud.conf;
}
`,
  );
  const url = `https://${address}`;
  const service = await startProcess(net, net.server.ns, nginx!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], {
    name: 'deploy-nginx',
    ready: { kind: 'http', url: `${url}/healthz`, ca: options.ca },
  });
  return { url, address, port: 443, process: service, stop: () => service.stop() };
}

/** deploy/Caddyfile with the lab's certificate (`tls <cert> <key>`, as its comment says for a LAN), in front of the tracker. */
export async function startDeployCaddy(net: Topology, options: { tls: TlsFiles; ca: string }): Promise<Proxy> {
  const { caddy } = ensureCommands([{ command: 'caddy', package: 'caddy' }], 'The network lab’s caddy proxy');
  const address = net.server.address;
  const dir = join(net.dir, 'deploy-caddy');
  mkdirSync(dir, { recursive: true });
  const caddyfile = substitute('Caddyfile', [['peercloud.example {\n', `${address} {\n\ttls ${options.tls.cert} ${options.tls.key}\n`]]);
  writeFileSync(join(dir, 'Caddyfile'), caddyfile);
  const url = `https://${address}`;
  const service = await startProcess(net, net.server.ns, caddy!, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    name: 'deploy-caddy',
    // Where Debian's caddy service keeps its state (/var/lib/caddy), here in the lab's directory.
    env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    ready: { kind: 'http', url: `${url}/healthz`, ca: options.ca },
  });
  return { url, address, port: 443, process: service, stop: () => service.stop() };
}

export interface DeployCoturn {
  /** For the tracker's TURN_URLS. */
  turnUrl: string;
  /** For the tracker's ICE_SERVERS: coturn answers STUN on the same port. */
  stunUrl: string;
  stop(): Promise<void>;
}

/**
 * deploy/turnserver.conf on the server address with `secret` (the tracker's TURN_SECRET). Its
 * `allowed-peer-ip` line is enabled for the server's own address, as the file says for a LAN
 * relay: the lab's networks are all private, and relay-to-relay is how two homes meet through it.
 */
export async function startDeployCoturn(net: Topology, options: { secret: string; realm?: string }): Promise<DeployCoturn> {
  const { turnserver } = ensureCommands([{ command: 'turnserver', package: 'coturn' }], 'The network lab’s TURN server');
  const address = net.server.address;
  const dir = join(net.dir, 'deploy-coturn');
  mkdirSync(dir, { recursive: true });
  const config = substitute('turnserver.conf', [
    ['listening-ip=0.0.0.0', `listening-ip=${address}`],
    ['relay-ip=0.0.0.0', `relay-ip=${address}`],
    ['static-auth-secret=CHANGE-ME-to-the-TURN_SECRET-of-the-tracker', `static-auth-secret=${options.secret}`],
    ['realm=peercloud.example', `realm=${options.realm ?? 'peercloud.test'}`],
    ['# allowed-peer-ip=192.168.1.10', `allowed-peer-ip=${address}`],
  ]);
  const path = join(dir, 'turnserver.conf');
  writeFileSync(path, config);
  const service = await startProcess(net, net.server.ns, turnserver!, ['-c', path, `--pidfile=${join(dir, 'turnserver.pid')}`], {
    name: 'deploy-coturn',
    ready: { kind: 'stun', host: address, port: 3478 },
  });
  return { turnUrl: `turn:${address}:3478`, stunUrl: `stun:${address}:3478`, stop: () => service.stop() };
}
