/**
 * Every Debian package the test suite may need and this machine lacks: PostgreSQL and HAProxy
 * for the integration run, Chromium and the network lab's programs for the end-to-end run.
 * `npm test` installs them all at once before it starts (scripts/test-packages.ts), with one
 * `apt-get update` and one dpkg run per recommends mode, instead of each part installing its own
 * when it reaches it (four updates and four sets of dpkg triggers on a fresh machine, HAProxy's
 * inside a test's own time). Each part still checks for itself and installs what is missing, so
 * that `npm run test:e2e` or one integration file alone works the same.
 */
import { findChromium } from './chromium.ts';
import { commandPath, HAPROXY, LAB_COMMANDS, type AptPackage, type Needed } from './debian.ts';
import { findPostgres } from './postgres.ts';

const missingCommands = (needed: readonly Needed[]): AptPackage[] =>
  needed.filter(({ command }) => !commandPath(command)).map((entry) => ({ package: entry.package, recommends: false }));

/** What the integration run lacks: PostgreSQL's server programs (unless POSTGRES_BIN names others) and HAProxy. */
export function missingForIntegration(): AptPackage[] {
  const postgres = !findPostgres() && !process.env.POSTGRES_BIN ? [{ package: 'postgresql', recommends: true }] : [];
  return [...postgres, ...missingCommands([HAPROXY])];
}

/** What the end-to-end run lacks: a Chromium, and the network lab's programs unless the lab is off. */
export function missingForEndToEnd(env: NodeJS.ProcessEnv = process.env): AptPackage[] {
  // Debian's chromium with what it recommends (fonts among them: the screenshots are text).
  const chromium = findChromium() ? [] : [{ package: 'chromium', recommends: true }];
  return [...chromium, ...(env.PEERCLOUD_NETLAB === 'off' ? [] : missingCommands(LAB_COMMANDS))];
}
