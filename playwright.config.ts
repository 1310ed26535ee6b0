import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_HELP, findChromium } from './tests/support/chromium.ts';
import { E2E_PORT, E2E_TRACKER_ENV } from './tests/e2e/fixtures/settings.ts';

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
      ...E2E_TRACKER_ENV,
    },
  },
});
