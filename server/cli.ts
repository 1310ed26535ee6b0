/**
 * `npx peercloud`: the tracker from the command line. Every environment variable has a flag
 * (PORT → --port, DB_PATH → --db-path); a flag wins over the variable.
 */
import { readFileSync } from 'node:fs';
import { CONFIG_HELP, CONFIG_VARIABLES } from './config.ts';
import { runTracker } from './run.ts';

const flagOf = (variable: string) => `--${variable.toLowerCase().replaceAll('_', '-')}`;

export function parseArguments(argv: readonly string[]): { env: Record<string, string>; help: boolean; version: boolean } | { error: string } {
  const env: Record<string, string> = {};
  const byFlag = new Map(CONFIG_VARIABLES.map((variable) => [flagOf(variable), variable]));
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '--help' || argument === '-h') help = true;
    else if (argument === '--version' || argument === '-v') version = true;
    else {
      const [flag, inline] = argument.split(/=(.*)/s, 2) as [string, string | undefined];
      const variable = byFlag.get(flag);
      if (!variable) return { error: `Unknown option ${flag}. See --help.` };
      const value = inline ?? argv[++i];
      if (value === undefined) return { error: `${flag} needs a value. See --help.` };
      env[variable] = value;
    }
  }
  return { env, help, version };
}

export function helpText(): string {
  const rows = CONFIG_VARIABLES.map((variable) => {
    const { description, fallback } = CONFIG_HELP[variable];
    return `  ${`${flagOf(variable)} <value>`.padEnd(38)}${description} (${variable}; default: ${fallback})`;
  });
  return [
    'Usage: peercloud [options]',
    '',
    'Runs a Peercloud tracker: the web app and Socket.IO on one origin, with its database',
    '(an SQLite file, or PostgreSQL with --database-url).',
    'Every option can also be given as the environment variable in parentheses; an option wins.',
    '',
    'Options:',
    ...rows,
    `  ${'--help'.padEnd(38)}this text`,
    `  ${'--version'.padEnd(38)}the version`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.PEERCLOUD_CLI === '1') {
  const parsed = parseArguments(process.argv.slice(2));
  if ('error' in parsed) {
    console.error(parsed.error);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(helpText());
    process.exit(0);
  }
  if (parsed.version) {
    console.log((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    process.exit(0);
  }
  runTracker({ ...process.env, ...parsed.env }).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
