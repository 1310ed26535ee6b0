/**
 * Runs the tracker the way `npm start` and `npx peercloud` do: configuration from the given
 * environment, the database opened and migrated, graceful shutdown on SIGTERM and SIGINT.
 */
import { loadConfig, ConfigError } from './config.ts';
import { migrate, openDatabase } from './db/database.ts';
import { createLogger } from './logger.ts';
import { createTracker } from './tracker.ts';
import { systemClock } from './clock.ts';
import { missingNodeFlags } from './node-flags.ts';

export async function runTracker(env: Record<string, string | undefined>): Promise<void> {
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const database = openDatabase(config, { log });
  const migrated = await migrate(database.db);
  if (migrated.length > 0) log.info({ event: 'migrated', migrations: migrated }, 'database schema brought up to date');
  const tracker = createTracker({ db: database.db, clock: systemClock, config, log });
  const { urls, warnings } = await tracker.listen();
  // Never the database URL itself: it may carry a password.
  const where = config.databaseUrl ? { database: 'postgres', databaseHost: new URL(config.databaseUrl).host } : { database: 'sqlite', dbPath: config.dbPath };
  log.info({ event: 'listening', urls, ...where }, 'tracker listening');
  console.log(['', '  Peercloud is running at:', ...urls.map((url) => `    ${url}`), ''].join('\n'));
  const missing = missingNodeFlags(process.execArgv);
  if (missing.length > 0) log.warn({ event: 'node_flags_missing', missing }, 'node was started without flags the tracker expects');
  const started = missing.length > 0 ? [...warnings, `node was started without ${missing.join(' ')}: start it as \`node ${missing.join(' ')} …\` (npm start does; see server/node-flags.ts for why).`] : warnings;
  for (const warning of started) console.warn(`  Warning: ${warning}\n`);
  // A renewed certificate: new connections get it, peers already connected stay.
  process.on('SIGHUP', () => {
    if (!config.tls) log.warn({ event: 'sighup' }, 'SIGHUP ignored: TLS is not configured');
    else tracker.reloadTls();
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'shutdown', signal }, 'shutting down: no new connections, finishing what is under way');
    await tracker.close();
    await database.close();
    log.info({ event: 'shutdown', signal }, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
