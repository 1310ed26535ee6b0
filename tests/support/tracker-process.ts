/**
 * The tracker as its own process (`server/main.ts`, as `npm start` runs it), for the tests
 * that kill it, flood it or measure its memory: a real process on a real database, the test's
 * own (`createTestDatabase(dir).env`: an SQLite file, or PostgreSQL in `integration-pg`).
 *
 * The server is bundled once with esbuild, its dependencies included, and the processes run that:
 * a start costs Node reading one file, not tsx compiling every file again (about 1.4 s less per
 * start on a quiet machine) nor Node resolving and loading a few thousand modules of express,
 * Kysely, zod and Socket.IO (1.45 → 1.0 s to /healthz). The crash tests start a tracker 125
 * times. Native and optional modules stay imports: the bundle lives in
 * node_modules/.cache/peercloud/, where they resolve.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { TRACKER_NODE_FLAGS } from '../../server/node-flags.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = `${ROOT}node_modules/.cache/peercloud`;
let bundled: Promise<string> | undefined;

/** The tracker's bundle, built once per process; named by its content, so concurrent test workers agree. */
export function trackerBundle(): Promise<string> {
  bundled ??= (async () => {
    const result = await build({
      entryPoints: [`${ROOT}server/main.ts`],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // better-sqlite3 loads its native addon from its own directory; the others are optional
      // modules their packages try to require and do without.
      external: ['better-sqlite3', 'pg-native', 'bufferutil', 'utf-8-validate'],
      // Bundled CommonJS packages call require() for Node's own modules.
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      write: false,
      logLevel: 'warning',
    });
    const code = result.outputFiles[0]!.contents;
    const path = `${CACHE}/tracker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`;
    if (!existsSync(path)) {
      mkdirSync(CACHE, { recursive: true });
      const temporary = `${path}.${process.pid}`;
      writeFileSync(temporary, code);
      renameSync(temporary, path);
    }
    return path;
  })();
  return bundled;
}

export interface TrackerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resident memory of the tracker process, in bytes (Linux). */
  rss(): number;
  /** SIGKILL: no chance to finish anything. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `nodeArgs`: options for Node itself, before the bundle (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
export async function startTrackerProcess(env: Record<string, string>, port?: number, options: { nodeArgs?: readonly string[] } = {}): Promise<TrackerProcess> {
  // Never ./data/peercloud.db, nor a database the developer's shell happens to name.
  if (!env.DB_PATH && !env.DATABASE_URL) throw new Error("startTrackerProcess needs the test's database: pass createTestDatabase(dir).env");
  const { DB_PATH: _path, DATABASE_URL: _url, ...inherited } = process.env;
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, [...TRACKER_NODE_FLAGS, ...(options.nodeArgs ?? []), await trackerBundle()], {
    cwd: ROOT,
    env: { ...inherited, HOST: '127.0.0.1', PORT: String(chosen), LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString();
      if (output.includes('is running at')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
    child.once('exit', (code) => reject(new Error(`tracker exited (${code}) before listening:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${chosen}`,
    port: chosen,
    child,
    output: () => output,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
