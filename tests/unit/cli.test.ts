import { describe, expect, it } from 'vitest';
import { helpText, parseArguments } from '../../server/cli.ts';
import { CONFIG_VARIABLES } from '../../server/config.ts';

describe('command line', () => {
  it('maps flags to the environment variables they mirror', () => {
    expect(parseArguments(['--port', '8080', '--db-path=/tmp/x.db', '--repair-grace', '1m'])).toEqual({
      env: { PORT: '8080', DB_PATH: '/tmp/x.db', REPAIR_GRACE: '1m' },
      help: false,
      version: false,
    });
    expect(parseArguments(['--database-url', 'postgres://localhost/peercloud'])).toMatchObject({ env: { DATABASE_URL: 'postgres://localhost/peercloud' } });
    expect(parseArguments(['--help'])).toMatchObject({ help: true });
  });

  it('refuses unknown options and missing values in words', () => {
    expect(parseArguments(['--prot', '1'])).toEqual({ error: 'Unknown option --prot. See --help.' });
    expect(parseArguments(['--port'])).toEqual({ error: '--port needs a value. See --help.' });
  });

  it('documents every variable', () => {
    const help = helpText();
    for (const variable of CONFIG_VARIABLES) expect(help).toContain(`(${variable}; default:`);
  });
});
