import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
/** Integration test files at a time (INTEGRATION_WORKERS to change it). */
const INTEGRATION_WORKERS = Number(process.env.INTEGRATION_WORKERS ?? 3);
if (!Number.isInteger(INTEGRATION_WORKERS) || INTEGRATION_WORKERS < 1) {
  throw new Error(`INTEGRATION_WORKERS must be a whole number of at least 1 (it is "${process.env.INTEGRATION_WORKERS}")`);
}

export default defineConfig({
  root: 'web',
  plugins: [svelte({ configFile: false })],
  build: {
    // The peer's page, and the tracker's dashboard (served at /admin).
    rollupOptions: { input: { main: resolve(root, 'web/index.html'), admin: resolve(root, 'web/admin.html') } },
    outDir: '../dist/web',
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    // `vite` in dev: the tracker (npm run dev) answers the API and Socket.IO.
    proxy: {
      '/api': 'http://localhost:3000',
      '/socket.io': { target: 'http://localhost:3000', ws: true },
    },
  },
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          root,
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      // The integration suite runs twice: on SQLite files, and on PostgreSQL (a throw-away cluster
      // started for the run by tests/support/postgres-setup.ts, a fresh database per test).
      {
        test: {
          name: 'integration',
          root,
          // Most of these tests wait on child processes and sockets, not the CPU: three files at a
          // time on two cores (vitest ran them one by one here: its sum of file times was the run's).
          maxWorkers: INTEGRATION_WORKERS,
          // A worker keeps its modules from one file to the next (server, client, Kysely, Socket.IO,
          // zod…): a fresh process per file spent more CPU loading them than most files spend on
          // their tests (six files, one worker: 23.4 CPU-s isolated, 16.2 not). The files share no
          // module state: each makes its own trackers, databases and peers, and closes them.
          isolate: false,
          include: ['tests/integration/**/*.test.ts'],
          // Several trackers need one database they all reach, and races between pooled
          // connections need a pool: PostgreSQL only.
          exclude: ['tests/integration/cluster/**', 'tests/integration/pooled/**'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
          provide: { database: 'sqlite' },
        },
      },
      {
        test: {
          name: 'integration-pg',
          root,
          // Both integration projects run in one vitest command: their worker counts must agree.
          maxWorkers: INTEGRATION_WORKERS,
          isolate: false,
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
          globalSetup: ['tests/support/postgres-setup.ts'],
          provide: { database: 'postgres' },
        },
      },
    ],
  },
});
