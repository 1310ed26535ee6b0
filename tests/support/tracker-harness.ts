/**
 * Starts a real tracker for a test: port 0, a real SQLite file in a temp directory,
 * silent logs and a clock the test controls. `restart()` reopens the same file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../server/config.ts';
import { migrate, openDatabase, type OpenedDatabase } from '../../server/db/database.ts';
import { silentLogger } from '../../server/logger.ts';
import { createTracker, type Tracker } from '../../server/tracker.ts';
import { ManualClock } from './manual-clock.ts';

export interface RunningTracker {
  url: string;
  dir: string;
  dbPath: string;
  config: Config;
  clock: ManualClock;
  tracker: Tracker;
  database: OpenedDatabase;
  /** Stops the tracker and starts a new one on the same database file. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTracker(env: Record<string, string> = {}, overrides: Partial<Config> = {}): Promise<RunningTracker> {
  const dir = mkdtempSync(join(tmpdir(), 'peercloud-test-'));
  const dbPath = join(dir, 'tracker.db');
  const config: Config = {
    ...loadConfig({ DB_PATH: dbPath, WEB_ROOT: join(dir, 'no-web'), LOG_LEVEL: 'silent', SWEEP_INTERVAL: '1h', ...env }),
    ...overrides,
  };
  const clock = new ManualClock();

  const boot = async () => {
    const database = openDatabase(dbPath);
    await migrate(database.db);
    const tracker = createTracker({ db: database.db, clock, config, log: silentLogger });
    const { url } = await tracker.listen(0, '127.0.0.1');
    return { database, tracker, url };
  };

  const running: RunningTracker = {
    dir,
    dbPath,
    config,
    clock,
    ...(await boot()),
    async restart() {
      await running.tracker.close();
      await running.database.close();
      Object.assign(running, await boot());
    },
    async stop() {
      await running.tracker.close();
      await running.database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return running;
}
