import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from './tests/support/chromium.ts';
import { E2E_ADMIN_TOKEN, E2E_PORT } from './tests/e2e/fixtures/settings.ts';

const executablePath = findChromium();
if (!executablePath) throw new Error(CHROMIUM_HELP);

// One database per run. The config is evaluated by every worker too; only the runner starts the server.
const dataDir = process.env.PEERCLOUD_E2E_DIR ?? (process.env.PEERCLOUD_E2E_DIR = mkdtempSync(join(tmpdir(), 'peercloud-e2e-')));

// The network lab's specs need root (network namespaces); scripts/e2e.ts leaves them out elsewhere.
const withoutNetlab = process.env.PEERCLOUD_NETLAB === 'off';

export default defineConfig({
  testDir: 'tests/e2e',
  testIgnore: withoutNetlab ? ['networks/**'] : [],
  // Peers of one test must be the only ones online, and WebRTC is CPU-bound on two cores.
  workers: 1,
  fullyParallel: false,
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
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: 'node --import tsx server/main.ts',
    url: `http://127.0.0.1:${E2E_PORT}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    // E2E_TRACKER_LOGS=1 shows the tracker's own logs next to the test output.
    stdout: process.env.E2E_TRACKER_LOGS ? 'pipe' : 'ignore',
    stderr: 'pipe',
    env: {
      PORT: String(E2E_PORT),
      HOST: '127.0.0.1',
      DB_PATH: join(dataDir, 'tracker.db'),
      ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      // Quick to notice a closed context, so tests wait seconds, not minutes.
      HEARTBEAT_INTERVAL: '1s',
      HEARTBEAT_TIMEOUT: '2s',
      ACCEPT_TIMEOUT: '5s',
      TRANSFER_IDLE_TIMEOUT: '10s',
      SWEEP_INTERVAL: '500ms',
      CHUNK_SIZE: '256KiB',
      // Repairs within a test's time: a host away for 3 s is gone (a reload takes about 1 s).
      REPAIR_GRACE: '3s',
      REPAIR_CONCURRENCY: '2',
      REPAIR_RATE: '120',
      // The tests find files by name through the operator API.
      ADMIN_SHOW_NAMES: 'true',
      // Offers credited in full, as the paper has it: these specs are about placement, transfers
      // and repair. What hosts must earn is tested with the defaults (integration
      // hostile-peers.test.ts, e2e networks and hostile specs with trackers of their own).
      NEWCOMER_SPACE: '64GiB',
    },
  },
});
