/**
 * A throw-away PostgreSQL cluster for the integration tests, from Debian's packages: a fresh
 * `initdb` in a temporary directory, a server listening only on 127.0.0.1 (and a unix socket in
 * that directory) on a free port, trust authentication, and no durability (a test database
 * is worth nothing after the run). Same spirit as `chromium.ts`: found where Debian puts it,
 * installed with apt when we are root on Debian, otherwise a message saying what to do.
 *
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system
 * user (`runuser -u postgres`). The server runs under a small shell that stops it and deletes
 * the directory when its stdin closes: when `stop()` closes it, and also when the test run
 * dies without tearing down (the pipe closes with the process).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { aptInstall, canApt } from './debian.ts';
import { freePort } from './tracker-process.ts';

const DEBIAN_ROOT = '/usr/lib/postgresql';
const PROGRAMS = ['initdb', 'pg_ctl', 'postgres'];

export const POSTGRES_HELP = `No PostgreSQL server programs (initdb, pg_ctl, postgres) found for the integration tests on PostgreSQL. Either:
  - on Debian/Ubuntu: \`sudo apt-get install -y postgresql\` (the tests install it themselves when run as root on Debian), or
  - set POSTGRES_BIN to the directory holding initdb, pg_ctl and postgres (PostgreSQL 13 or later).`;

/** The directory of the newest PostgreSQL's server programs: POSTGRES_BIN, else Debian's /usr/lib/postgresql/<version>/bin. */
export function findPostgres(): string | undefined {
  const complete = (dir: string) => PROGRAMS.every((program) => existsSync(join(dir, program)));
  const explicit = process.env.POSTGRES_BIN;
  if (explicit) return complete(explicit) ? explicit : undefined;
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => join(DEBIAN_ROOT, version, 'bin')).find(complete);
}

const isRoot = () => process.getuid?.() === 0;

/** Finds PostgreSQL, installing Debian's as root on Debian; throws POSTGRES_HELP otherwise. */
export function ensurePostgres(): string {
  const found = findPostgres();
  if (found) return found;
  if (canApt() && !process.env.POSTGRES_BIN) {
    console.log('No PostgreSQL found: installing Debian’s (apt-get install -y postgresql)…');
    aptInstall([{ package: 'postgresql', recommends: true }]);
    const installed = findPostgres();
    if (installed) return installed;
  }
  throw new Error(POSTGRES_HELP);
}

export interface PostgresCluster {
  port: number;
  /** A connection URL to one database of the cluster, as its superuser. */
  url(database: string): string;
  /** Stops the server and deletes its directory. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

/** Settings for speed: nothing here must survive a crash of the machine. */
const SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=300', 'shared_buffers=64MB', 'log_min_messages=warning'];

// Runs as the cluster's owner. Its stdin is the lifeline: once it closes, the server is
// stopped (fast shutdown: connections are closed) and the directory removed.
const SUPERVISOR = `
dir=$1; bin=$2; port=$3; shift 3
trap '' INT TERM HUP
"$bin/postgres" -D "$dir/data" -k "$dir" -h 127.0.0.1 -p "$port" "$@" &
server=$!
cat >/dev/null
kill -INT "$server" 2>/dev/null
wait "$server"
rm -rf "$dir"
`;

/**
 * Starts a fresh cluster; `stop()` (or the end of this process) removes it. `settings`: more
 * server settings (`name=value`); `logFile`: where the server's log goes once it is up (dropped
 * otherwise).
 */
export async function startPostgresCluster(options: { settings?: readonly string[]; logFile?: string } = {}): Promise<PostgresCluster> {
  const bin = ensurePostgres();
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-pg-'));
  // As root, the files and the server belong to the `postgres` system user, as Debian's own clusters do.
  const asOwner = (command: string, args: string[]) => (isRoot() ? { command: 'runuser', args: ['-u', SUPERUSER, '--', command, ...args] } : { command, args });
  try {
    if (isRoot()) {
      const id = (flag: string) => Number(execFileSync('id', [flag, SUPERUSER], { encoding: 'utf8' }).trim());
      chownSync(dir, id('-u'), id('-g'));
    }
    const init = asOwner(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', SUPERUSER, '--auth=trust', '--no-locale', '--encoding=UTF8', '--no-sync', '--no-instructions']);
    execFileSync(init.command, init.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed in ${dir}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  // The free port may be taken between our check and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const run = asOwner('sh', ['-c', SUPERVISOR, 'sh', dir, bin, String(port), ...[...SETTINGS, ...(options.settings ?? [])].flatMap((setting) => ['-c', setting])]);
    const child = spawn(run.command, run.args, { stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const started = await ready(child, options.logFile);
    if (started === 'ready') {
      return {
        port,
        url: (database) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`,
        async stop() {
          child.stdin!.end();
          await exited;
        },
      };
    }
    child.stdin!.end();
    await exited;
    if (!/could not bind|already in use/i.test(started.log) || attempt === 3) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`PostgreSQL did not start (${join(bin, 'postgres')} in ${dir}):\n${started.log}`);
    }
  }
}

/** Waits for the server's "ready to accept connections", or its exit with its log. */
function ready(child: ChildProcess, logFile?: string): Promise<'ready' | { log: string }> {
  return new Promise((resolve) => {
    let log = '';
    const onData = (data: Buffer) => {
      log += data.toString();
      if (log.includes('database system is ready to accept connections')) {
        // Keep reading (and dropping) its log: a full pipe would block the server.
        log = '';
        child.stderr!.off('data', onData);
        if (logFile) child.stderr!.pipe(createWriteStream(logFile, { flags: 'a' }));
        else child.stderr!.resume();
        child.off('exit', onExit);
        resolve('ready');
      }
    };
    const onExit = () => resolve({ log });
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Runs statements as the superuser on one database of the cluster, then disconnects. */
export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
