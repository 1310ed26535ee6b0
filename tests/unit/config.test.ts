import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONFIG_HELP, CONFIG_VARIABLES, ConfigError, loadConfig } from '../../server/config.ts';
import { DEFAULT_THRESHOLDS } from '../../shared/reliability.ts';
import { GiB, MiB } from '../../shared/units.ts';

describe('configuration from the environment', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, host: 'localhost', dbPath: './data/peercloud.db', databaseUrl: undefined, redundancy: [{ k: 4, n: 8 }, { k: 1, n: 2 }], chunkSize: MiB, iceServers: [], adminToken: undefined });
    expect(config.thresholds).toEqual(DEFAULT_THRESHOLDS);
  });

  it('reads sizes, durations, lists and JSON', () => {
    const config = loadConfig({
      PORT: '8080',
      CHUNK_SIZE: '256KiB',
      HEARTBEAT_TIMEOUT: '2s',
      TRUST_THRESHOLDS: '8GiB, 2GiB, 512MiB, 128MiB',
      DYNAMISM_THRESHOLDS: '0,2,4,8',
      ICE_SERVERS: '[{"urls":"stun:stun.example.org:3478"}]',
      ADMIN_TOKEN: 'a-long-enough-token',
    });
    expect(config).toMatchObject({ port: 8080, chunkSize: 256 * 1024, heartbeatTimeoutMs: 2000, iceServers: [{ urls: 'stun:stun.example.org:3478' }] });
    expect(config.thresholds.trust).toEqual([8 * GiB, 2 * GiB, 512 * MiB, 128 * MiB]);
    expect(config.thresholds.dynamism).toEqual([0, 2, 4, 8]);
  });

  it('takes PostgreSQL from DATABASE_URL in either scheme', () => {
    for (const url of ['postgres://peercloud:secret@db.example:5432/peercloud', 'postgresql:///peercloud?host=/var/run/postgresql']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REPLICAS: '0' }, 'REPLICAS'],
    [{ CHUNK_SIZE: '1byte' }, 'CHUNK_SIZE'],
    [{ CHUNK_SIZE: '1KiB' }, 'CHUNK_SIZE'],
    [{ HEARTBEAT_INTERVAL: 'often' }, 'HEARTBEAT_INTERVAL'],
    [{ ICE_SERVERS: '{not json' }, 'ICE_SERVERS'],
    [{ ICE_SERVERS: '[{"url":"x"}]' }, 'ICE_SERVERS'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ TRUST_THRESHOLDS: '1GiB,4GiB,256MiB,64MiB' }, 'TRUST_THRESHOLDS'],
    [{ DYNAMISM_THRESHOLDS: '0,1,3' }, 'DYNAMISM_THRESHOLDS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ DATABASE_URL: 'mysql://localhost/peercloud' }, 'DATABASE_URL'],
    [{ DATABASE_URL: './data/peercloud.db' }, 'DATABASE_URL'],
  ])('stops on %j with a message naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`\\b${variable}\\b`));
  });
});

describe('redundancy', () => {
  it('reads schemes in order of preference, REPLICAS alone as whole copies, and the repair threshold', () => {
    expect(loadConfig({ REDUNDANCY: 'rs:6+3, replicate:3' }).redundancy).toEqual([
      { k: 6, n: 9 },
      { k: 1, n: 3 },
    ]);
    expect(loadConfig({ REPLICAS: '3' }).redundancy).toEqual([{ k: 1, n: 3 }]);
    expect(loadConfig({}).repairThreshold).toBe('k+1');
    expect(loadConfig({ REPAIR_THRESHOLD: 'n-1' }).repairThreshold).toBe('n-1');
    expect(loadConfig({ REPAIR_THRESHOLD: '6' }).repairThreshold).toBe(6);
  });

  it.each([
    [{ REDUNDANCY: 'rs:1+2' }, /REDUNDANCY: must be schemes such as/],
    [{ REDUNDANCY: 'raid5' }, /REDUNDANCY: must be schemes such as/],
    [{ REDUNDANCY: 'rs:40+40' }, /REDUNDANCY: must be schemes/],
    [{ REPAIR_THRESHOLD: 'soon' }, /REPAIR_THRESHOLD: must be k\+1, n-1 or a number/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('the configuration as documented', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  it.each(CONFIG_VARIABLES.map((name) => [name]))('%s is in the README’s table and in --help', (name) => {
    expect(section).toContain(`\`${name}\``);
    expect(CONFIG_HELP[name].description.length).toBeGreaterThan(0);
  });
});
