/**
 * `npm start`: the tracker with its embedded SQLite database, serving the web app and
 * Socket.IO on one origin. Configuration comes from the environment (see README).
 */
import { loadConfig, ConfigError } from './config.ts';
import { migrate, openDatabase } from './db/database.ts';
import { createLogger } from './logger.ts';
import { createTracker } from './tracker.ts';
import { systemClock } from './clock.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const database = openDatabase(config.dbPath);
  await migrate(database.db);
  const tracker = createTracker({ db: database.db, clock: systemClock, config, log });
  const { url } = await tracker.listen();
  log.info({ event: 'listening', url, dbPath: config.dbPath }, 'tracker listening');
  console.log(`\n  Peercloud is running at ${url}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'shutting down');
    await tracker.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
