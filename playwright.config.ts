import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { TRACKER_NODE_FLAGS } from './server/node-flags.ts';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from './tests/support/chromium.ts';
import { E2E_PORT, E2E_TRACKER_ENV, E2E_WORKERS, trackerDbName, trackerPort } from './tests/e2e/fixtures/settings.ts';

const executablePath = findChromium();
if (!executablePath) throw new Error(CHROMIUM_HELP);

// One database per run. The config is evaluated by every worker too; only the runner starts the server.
const dataDir = process.env.PEERCLOUD_E2E_DIR ?? (process.env.PEERCLOUD_E2E_DIR = mkdtempSync(join(tmpdir(), 'peercloud-e2e-')));

// The network lab's specs need root (network namespaces); scripts/e2e.ts leaves them out elsewhere.
const withoutNetlab = process.env.PEERCLOUD_NETLAB === 'off';
// The lab's specs run in a worker of their own beside the peers' ones: they spend most of their
// time on namespaces, NATs and timeouts, and each starts its own tracker inside the lab, so the
// two never share a tracker, a port or a namespace.
const workers = E2E_WORKERS + (withoutNetlab ? 0 : 1);

export default defineConfig({
  testDir: 'tests/e2e',
  // Each worker has its own tracker (below), so a test's peers are the only ones it knows.
  workers,
  fullyParallel: false,
  projects: [
    { name: 'peers', testIgnore: ['networks/**'], workers: E2E_WORKERS },
    // The lab's namespaces and addresses are one set per machine: one spec at a time.
    ...(withoutNetlab ? [] : [{ name: 'networks', testMatch: ['networks/**/*.spec.ts'], workers: 1 }]),
  ],
  forbidOnly: true,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${E2E_PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath, args: CHROMIUM_ARGS },
    // Recording a trace costs every test: Playwright snapshots the DOM at each action and the
    // browser streams it, whether or not the test fails. Measured here on 13 specs, two runs each:
    // 3.3 and 2.6 min with 'retain-on-failure', 2.4 and 2.5 without; the CPU of the run's
    // processes 202-245 s with, 166-177 s without (the GPU process's 29-34 s down to 10-11).
    // A failure still leaves its screenshot and error context; E2E_TRACE=1 records traces again.
    trace: process.env.E2E_TRACE ? 'retain-on-failure' : 'off',
    screenshot: 'only-on-failure',
  },
  // One tracker per worker, each with its own database.
  // (A worker runs either project's specs, so each one has its tracker.)
  webServer: Array.from({ length: workers }, (_, index) => ({
    command: `node ${TRACKER_NODE_FLAGS.join(' ')} --import tsx server/main.ts`,
    url: `http://127.0.0.1:${trackerPort(index)}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    // E2E_TRACKER_LOGS=1 shows the trackers' own logs next to the test output.
    stdout: process.env.E2E_TRACKER_LOGS ? ('pipe' as const) : ('ignore' as const),
    stderr: 'pipe' as const,
    env: {
      PORT: String(trackerPort(index)),
      HOST: '127.0.0.1',
      DB_PATH: join(dataDir, trackerDbName(index)),
      ...E2E_TRACKER_ENV,
    },
  })),
});
