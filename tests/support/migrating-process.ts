/**
 * What a tracker does first, in a process of its own, at a signal: opens the database named
 * by DB_PATH or DATABASE_URL and migrates it. Ready once its modules are loaded and the database
 * is open, it prints `ready`, waits for a line on stdin, migrates, and prints the migrations it
 * ran as JSON. Several of them released at once start "together" within a millisecond or so,
 * which tracker processes (a second or more of start-up each) never do.
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../../server/config.ts';
import { migrate, openDatabase } from '../../server/db/database.ts';

const database = openDatabase(loadConfig(process.env));
console.log('ready');
await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
try {
  console.log(JSON.stringify(await migrate(database.db)));
} finally {
  await database.close();
}
process.exit(0);
