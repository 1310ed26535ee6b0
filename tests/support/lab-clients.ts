/**
 * Socket.IO peers from inside a home of the network lab, for specs about what the tracker sees of
 * a client's address (limits behind a proxy). Run inside the home's namespace by `connectFrom`:
 *
 *   ip netns exec <home> node --import tsx tests/support/lab-clients.ts '<json>'
 *   json: { "url": "https://10.90.0.1", "clients": [{ "headers": { "X-Forwarded-For": "…" } }, {}] }
 *
 * Connects the clients one after the other (each a new identity, the web app's own TrackerClient)
 * and prints one JSON line per client: `{ "ok": true, "id": "…" }` or `{ "ok": false, "error": "…" }`.
 * The connected ones stay connected until stdin closes. TLS is verified against the CA in
 * NODE_EXTRA_CA_CERTS, as the browsers verify it against their NSS database.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Topology } from './topology.ts';

export interface ClientSpec {
  headers?: Record<string, string>;
}

export type ClientOutcome = { ok: true; id: string } | { ok: false; error: string };

export interface HomeClients {
  outcomes: ClientOutcome[];
  /** Disconnects them (closes the script's stdin) and waits for the script to end. */
  close(): Promise<void>;
}

const SCRIPT = fileURLToPath(import.meta.url);

/** Runs this script in home `homeIndex`: resolves once every client has connected or been refused. */
export async function connectFrom(net: Topology, homeIndex: number, url: string, clients: ClientSpec[], options: { ca?: string } = {}): Promise<HomeClients> {
  const child = net.exec(net.homes[homeIndex]!.ns, process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify({ url, clients })], {
    env: { ...process.env, ...(options.ca ? { NODE_EXTRA_CA_CERTS: options.ca } : {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-4096)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const outcomes: ClientOutcome[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      outcomes.push(JSON.parse(line) as ClientOutcome);
      if (outcomes.length === clients.length) resolve();
    });
    void exited.then((code) => reject(new Error(`lab-clients exited with ${code} after ${outcomes.length} of ${clients.length} clients: ${stderr.trim()}`)));
  });
  return {
    outcomes,
    async close() {
      child.stdin!.end();
      await exited;
    },
  };
}

async function main(): Promise<void> {
  // Imported here, not at the top: the test process only needs connectFrom.
  const { NodePeer } = await import('./node-peer.ts');
  const { url, clients } = JSON.parse(process.argv[2] ?? '{}') as { url: string; clients: ClientSpec[] };
  const connected: { disconnect(): void }[] = [];
  for (const spec of clients) {
    try {
      const peer = await NodePeer.connect(url, undefined, spec.headers ? { headers: spec.headers } : {});
      connected.push(peer);
      console.log(JSON.stringify({ ok: true, id: peer.id } satisfies ClientOutcome));
    } catch (error) {
      console.log(JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) } satisfies ClientOutcome));
    }
  }
  process.stdin.resume();
  process.stdin.once('end', () => {
    for (const peer of connected) peer.disconnect();
    process.exit(0);
  });
}

if (process.argv[1] === SCRIPT) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
