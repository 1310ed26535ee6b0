/**
 * Starts a real tracker for a test: port 0, a fresh database of its own (an SQLite file in a
 * temp directory, or a PostgreSQL database in the `integration-pg` project), silent logs and a
 * clock the test controls. `restart()` reopens the same database.
 */
import type { KyselyPlugin } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../server/config.ts';
import { migrate, openDatabase, type OpenedDatabase } from '../../server/db/database.ts';
import { silentLogger } from '../../server/logger.ts';
import { createTracker, type Tracker } from '../../server/tracker.ts';
import { ManualClock } from './manual-clock.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export interface RunningTracker {
  url: string;
  dir: string;
  config: Config;
  clock: ManualClock;
  tracker: Tracker;
  /** The test's database, for its location and dialect. */
  testDatabase: TestDatabase;
  /** The tracker's own connection: `database.db` for queries in the test. */
  database: OpenedDatabase;
  /** Stops the tracker and starts a new one on the same database. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `plugins` go between the tracker and its database (Kysely plugins: the test's own connection,
 * `database.db`, goes without them), to hold back a result as a slow connection would.
 */
export async function startTracker(env: Record<string, string> = {}, overrides: Partial<Config> = {}, options: { plugins?: KyselyPlugin[] } = {}): Promise<RunningTracker> {
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-test-'));
  const testDatabase = await createTestDatabase(dir);
  const config: Config = {
    ...loadConfig({ ...testDatabase.env, WEB_ROOT: join(dir, 'no-web'), LOG_LEVEL: 'silent', SWEEP_INTERVAL: '1h', ...env }),
    ...overrides,
  };
  const clock = new ManualClock();

  const boot = async () => {
    const database = openDatabase(config);
    await migrate(database.db);
    const db = (options.plugins ?? []).reduce((withPlugins, plugin) => withPlugins.withPlugin(plugin), database.db);
    const tracker = createTracker({ db, clock, config, log: silentLogger });
    const { url } = await tracker.listen(0, '127.0.0.1');
    return { database, tracker, url };
  };

  const running: RunningTracker = {
    dir,
    config,
    clock,
    testDatabase,
    ...(await boot()),
    async restart() {
      await running.tracker.close();
      await running.database.close();
      Object.assign(running, await boot());
    },
    async stop() {
      await running.tracker.close();
      await running.database.close();
      await testDatabase.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return running;
}
