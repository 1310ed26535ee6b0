/**
 * The tracker's configuration: environment variables with defaults, validated once at
 * start. A bad value stops the tracker with a message that names the variable.
 */
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../shared/chunking.ts';
import { IceServer } from '../shared/protocol.ts';
import { DEFAULT_THRESHOLDS, validateThresholds, type ReliabilityThresholds } from '../shared/reliability.ts';
import { MiB, parseByteSize, parseDuration } from '../shared/units.ts';
import type { EarningPolicy, OwnerPolicy, VettingPolicy } from '../shared/earned.ts';
import type { NetworkPrefixes } from '../shared/network.ts';
import { parseScheme, type RepairThreshold, type Scheme } from '../shared/redundancy.ts';

/** rs:4+4 where at least 8 hosts can take fragments, otherwise two whole copies: docs/DURABILITY.md. */
export const DEFAULT_REDUNDANCY: Scheme[] = [
  { k: 4, n: 8 },
  { k: 1, n: 2 },
];

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bytes = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const value = parseByteSize(text);
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a size such as 1048576, 512KiB or 1MiB (got "${text}")` });
      return z.NEVER;
    }
    if (value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max} bytes` });
      return z.NEVER;
    }
    return value;
  });

const duration = (minMs: number) =>
  z.string().transform((text, ctx) => {
    const value = parseDuration(text);
    if (value === undefined || value < minMs) {
      ctx.addIssue({ code: 'custom', message: `must be a duration of at least ${minMs} ms, such as 500ms, 10s or 15m (got "${text}")` });
      return z.NEVER;
    }
    return value;
  });

/** Four comma-separated values; sizes for trust, counts for dynamism and availability. */
const fourSteps = (parse: (text: string) => number | undefined, what: string) =>
  z.string().transform((text, ctx) => {
    const values = text.split(',').map((part) => parse(part.trim()));
    if (values.length !== 4 || values.some((value) => value === undefined)) {
      ctx.addIssue({ code: 'custom', message: `must be four comma-separated ${what}` });
      return z.NEVER;
    }
    return values as [number, number, number, number];
  });

const steps = (values: readonly [number, number, number, number]) => [...values] as [number, number, number, number];

const count = (text: string) => (/^\d+$/.test(text) ? Number(text) : undefined);

const iceServers = z.string().transform((text, ctx) => {
  try {
    const parsed = z.array(IceServer).safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of RTCIceServer objects ({ "urls": … })' });
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be valid JSON' });
  }
  return z.NEVER;
});

/** Express's meaning: a hop count, or the addresses/CIDRs (or loopback, linklocal, uniquelocal) of trusted proxies. */
const trustProxy = z.string().transform((text, ctx): TrustProxy | typeof z.NEVER => {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops >= 1 && hops <= 10) return { hops };
    ctx.addIssue({ code: 'custom', message: 'a hop count must be between 1 and 10' });
    return z.NEVER;
  }
  if (value === 'true' || value === 'false') {
    // `true` would let any client name its own address: every per-address limit would be void.
    ctx.addIssue({ code: 'custom', message: 'must be the number of proxies in front of the tracker (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8), not true/false' });
    return z.NEVER;
  }
  const addresses = value.split(',').map((part) => part.trim()).filter(Boolean);
  try {
    proxyAddr.compile(addresses);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `must be a hop count or comma-separated addresses/CIDRs: ${error instanceof Error ? error.message : String(error)}` });
    return z.NEVER;
  }
  return { addresses };
});

const turnUrls = z
  .string()
  .transform((text) => text.split(',').map((url) => url.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^turns?:[^\s]+$/, 'must be a comma-separated list of turn: or turns: URLs (e.g. turn:turn.example.org:3478)')).min(1));
/** A PostgreSQL connection URL, as `pg` reads it: postgres://user:password@host:port/database?options. */
const postgresUrl = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
  } catch {
    return false;
  }
}, 'must be a PostgreSQL URL such as postgres://user:password@localhost:5432/peercloud');

/** A non-negative decimal ratio such as 1 or 0.5. */
const ratio = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a number such as 1 or 0.5')
  .transform(Number)
  .pipe(z.number().min(0).max(1000));

/** "rs:4+4,replicate:2": schemes in order of preference (the first the online hosts can take). */
const redundancy = z.string().transform((text, ctx) => {
  const schemes = text.split(',').map((part) => parseScheme(part));
  if (schemes.length === 0 || schemes.some((scheme) => scheme === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'must be schemes such as replicate:2 or rs:4+4, comma-separated in order of preference (k ≥ 2, k + m ≤ 64)' });
    return z.NEVER;
  }
  return schemes as Scheme[];
});

const repairThreshold = z.string().transform((text, ctx): RepairThreshold | typeof z.NEVER => {
  const value = text.trim().toLowerCase().replaceAll(' ', '');
  if (value === 'k+1' || value === 'n-1') return value;
  if (/^\d+$/.test(value) && Number(value) >= 1) return Number(value);
  ctx.addIssue({ code: 'custom', message: 'must be k+1, n-1 or a number of live fragments' });
  return z.NEVER;
});

/** "24,48": the IPv4 and IPv6 prefix lengths that make one network. */
const networkPrefixes = z.string().transform((text, ctx) => {
  const match = /^\s*(\d{1,2})\s*,\s*(\d{1,3})\s*$/.exec(text);
  const v4 = Number(match?.[1]);
  const v6 = Number(match?.[2]);
  if (!match || v4 < 8 || v4 > 32 || v6 < 16 || v6 > 128) {
    ctx.addIssue({ code: 'custom', message: 'must be an IPv4 and an IPv6 prefix length, such as 24,48' });
    return z.NEVER;
  }
  return { v4, v6 };
});

const Environment = z.object({
  PORT: integer(0, 65_535).default(3000),
  HOST: z.string().min(1).default('localhost'),
  DB_PATH: z.string().min(1).default('./data/peercloud.db'),
  DATABASE_URL: postgresUrl.optional(),
  WEB_ROOT: z.string().min(1).default('./dist/web'),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  REPLICAS: integer(1, 16).optional(),
  REDUNDANCY: redundancy.optional(),
  REDUNDANCY_ALLOW_FEWER: z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1').default(false),
  REPAIR_THRESHOLD: repairThreshold.default('k+1'),
  CHUNK_SIZE: bytes(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE).default(MiB),
  ICE_SERVERS: iceServers.default([]),
  TURN_URLS: turnUrls.optional(),
  TURN_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  TURN_TTL: duration(60_000).default(6 * 3_600_000),
  CONNECT_TIMEOUT: duration(1000).default(15_000),
  TLS_CERT: z.string().min(1).optional(),
  TLS_KEY: z.string().min(1).optional(),
  TRUST_PROXY: trustProxy.optional(),
  PUBLIC_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL such as https://peercloud.example' }).optional(),
  HEARTBEAT_INTERVAL: duration(100).default(10_000),
  HEARTBEAT_TIMEOUT: duration(100).default(10_000),
  ACCEPT_TIMEOUT: duration(100).default(15_000),
  TRANSFER_IDLE_TIMEOUT: duration(100).default(30_000),
  SWEEP_INTERVAL: duration(10).default(5_000),
  TRACKER_ID: z.string().regex(/^[\w.:@-]{1,100}$/, 'must be 1 to 100 letters, digits and . : @ _ - (e.g. tracker-1 or host:3000)').optional(),
  TRACKER_HEARTBEAT: duration(100).default(5_000),
  TRACKER_TIMEOUT: duration(300).default(20_000),
  UPLOAD_RESUME_GRACE: duration(1000).default(24 * 3_600_000),
  MAX_HOST_TRANSFERS: integer(1, 64).default(4),
  INTEGRITY_EXCLUSION: integer(1, 1000).default(3),
  REPAIR_GRACE: duration(100).default(15 * 60_000),
  REPAIR_CONCURRENCY: integer(1, 1000).default(4),
  REPAIR_RATE: integer(1, 100_000).default(60),
  ADMIN_SHOW_NAMES: z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1').default(false),
  MAX_MESSAGE_BYTES: bytes(16 * 1024, 16 * MiB).default(64 * 1024),
  RATE_LIMIT: integer(1, 100_000).default(50),
  RATE_BURST: integer(1, 100_000).default(200),
  MAX_CONNECTIONS_PER_ADDRESS: integer(1, 100_000).default(64),
  ALLOWED_ORIGINS: z
    .string()
    .transform((text) => text.split(',').map((origin) => origin.trim()).filter(Boolean))
    .pipe(z.array(z.url({ message: 'must be a comma-separated list of origins such as https://peercloud.example' })))
    .default([]),
  TRUST_THRESHOLDS: fourSteps(parseByteSize, 'sizes, largest first (e.g. 4GiB,1GiB,256MiB,64MiB)').default(steps(DEFAULT_THRESHOLDS.trust)),
  DYNAMISM_THRESHOLDS: fourSteps(count, 'counts, smallest first (e.g. 0,1,3,7)').default(steps(DEFAULT_THRESHOLDS.dynamism)),
  AVAILABILITY_THRESHOLDS: fourSteps(count, 'counts, smallest first (e.g. 0,1,3,7)').default(steps(DEFAULT_THRESHOLDS.availability)),
  AUDIT_INTERVAL: duration(1000).default(6 * 3_600_000),
  AUDIT_TIMEOUT: duration(100).default(30_000),
  AUDITS_PER_SWEEP: integer(1, 10_000).default(50),
  VETTING_AUDITS: integer(0, 10_000).default(10),
  VETTING_PERIOD: duration(0).default(24 * 3_600_000),
  VETTING_SHARE: ratio.pipe(z.number().max(1, 'must be at most 1')).default(0.05),
  NEWCOMER_SPACE: bytes(0, Number.MAX_SAFE_INTEGER).default(256 * MiB),
  EARNED_GROWTH: ratio.default(2),
  TRUST_MATURITY: duration(0).default(7 * 24 * 3_600_000),
  OWNER_ALLOWANCE: bytes(0, Number.MAX_SAFE_INTEGER).default(1024 * MiB),
  OWNER_RATIO: ratio.default(1),
  MAX_PENDING_UPLOADS: integer(1, 1000).default(8),
  MAX_FILES_PER_PEER: integer(1, 1_000_000).default(10_000),
  NEW_PEERS_PER_NETWORK: integer(1, 1_000_000).default(10),
  NETWORK_PREFIXES: networkPrefixes.default({ v4: 24, v6: 48 }),
  SIGNAL_BUDGET: bytes(4 * 1024, 16 * MiB).default(128 * 1024),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Which proxies in front of the tracker may say who the client is (X-Forwarded-For). */
export type TrustProxy = { hops: number } | { addresses: string[] };

export interface Config {
  port: number;
  host: string;
  /** PEM files: with both, the tracker serves https and wss; reloaded on SIGHUP or when they change. */
  tls: { certPath: string; keyPath: string } | undefined;
  trustProxy: TrustProxy | undefined;
  /** The address other devices should open, when it is not what the tracker can work out itself. */
  publicUrl: string | undefined;
  /** TURN relays for peers whose networks allow no direct path; credentials are made per peer. */
  turn: { urls: string[]; secret: string; ttlMs: number } | undefined;
  /** How long two peers try to open a data channel before the transfer fails with CONNECTION. */
  connectTimeoutMs: number;
  dbPath: string;
  /** PostgreSQL instead of the SQLite file at dbPath, when set. */
  databaseUrl: string | undefined;
  webRoot: string;
  adminToken: string | undefined;
  /**
   * How files are kept, in order of preference: each upload takes the first scheme whose n hosts
   * are online (REDUNDANCY; by default rs:4+4, then replicate:2 for clouds of fewer than 8 hosts;
   * REPLICAS alone means replicate:REPLICAS).
   */
  redundancy: Scheme[];
  /** Store a file on fewer than n hosts (at least k + 1) when no scheme finds all of them, shown under-protected. */
  redundancyAllowFewer: boolean;
  repairThreshold: RepairThreshold;
  chunkSize: number;
  iceServers: IceServer[];
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  acceptTimeoutMs: number;
  transferIdleTimeoutMs: number;
  sweepIntervalMs: number;
  /** This tracker's name among the cloud's trackers (PostgreSQL): TRACKER_ID, else host name and port. */
  trackerId: string | undefined;
  /** How often this tracker says it is alive, and after how long without a word the others take it for dead. */
  trackerHeartbeatMs: number;
  trackerTimeoutMs: number;
  uploadResumeGraceMs: number;
  maxHostTransfers: number;
  /** Integrity failures in 24 h after which a host gets no new replicas. */
  integrityExclusion: number;
  /** How long a host may be offline before its replicas are copied elsewhere. */
  repairGraceMs: number;
  repairConcurrency: number;
  /** Repairs started a minute, at most. */
  repairRatePerMinute: number;
  /** Whether the operator's dashboard and API show the names of users' files. */
  adminShowNames: boolean;
  maxMessageBytes: number;
  /** Requests a second a connection may make on average, and in a burst. */
  rateLimit: number;
  rateBurst: number;
  maxConnectionsPerAddress: number;
  /** Origins besides the tracker's own whose pages may connect. */
  allowedOrigins: string[];
  thresholds: ReliabilityThresholds;
  /** How hosts prove what they hold: a random audit per replica every `intervalMs` on average. */
  audits: { intervalMs: number; timeoutMs: number; perSweep: number };
  vetting: VettingPolicy & { share: number };
  earning: EarningPolicy;
  owners: OwnerPolicy & { maxPendingUploads: number; maxFiles: number };
  /** New identities a network may create an hour. */
  newPeersPerNetwork: number;
  networkPrefixes: NetworkPrefixes;
  /** Signaling a transfer may relay through the tracker, in bytes. */
  signalBudget: number;
  /** When set, /metrics needs `Authorization: Bearer <token>` (or the admin token). */
  metricsToken: string | undefined;
  logLevel: z.infer<typeof Environment>['LOG_LEVEL'];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The variables the tracker reads, for `--help` and the README. */
export const CONFIG_VARIABLES = Object.keys(Environment.shape) as (keyof typeof Environment.shape)[];

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set": `FOO= npm start` should not be an error.
  const present = Object.fromEntries(CONFIG_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [name, env[name]]));
  const parsed = Environment.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const thresholds: ReliabilityThresholds = {
    trust: e.TRUST_THRESHOLDS,
    dynamism: e.DYNAMISM_THRESHOLDS,
    availability: e.AVAILABILITY_THRESHOLDS,
  };
  const problem = validateThresholds(thresholds);
  if (problem) {
    const variable = problem.startsWith('trust') ? 'TRUST_THRESHOLDS' : problem.startsWith('dynamism') ? 'DYNAMISM_THRESHOLDS' : 'AVAILABILITY_THRESHOLDS';
    throw new ConfigError(`Invalid configuration:\n  ${variable}: ${problem}`);
  }
  if ((e.TLS_CERT === undefined) !== (e.TLS_KEY === undefined)) {
    throw new ConfigError(`Invalid configuration:\n  ${e.TLS_CERT === undefined ? 'TLS_CERT' : 'TLS_KEY'}: must be set together with ${e.TLS_CERT === undefined ? 'TLS_KEY' : 'TLS_CERT'}`);
  }
  if ((e.TURN_URLS === undefined) !== (e.TURN_SECRET === undefined)) {
    throw new ConfigError(`Invalid configuration:\n  ${e.TURN_URLS === undefined ? 'TURN_URLS' : 'TURN_SECRET'}: must be set together with ${e.TURN_URLS === undefined ? 'TURN_SECRET' : 'TURN_URLS'}`);
  }
  if (e.TRACKER_TIMEOUT < 2 * e.TRACKER_HEARTBEAT) {
    throw new ConfigError('Invalid configuration:\n  TRACKER_TIMEOUT: must be at least twice TRACKER_HEARTBEAT (one late heartbeat must not make a tracker look dead)');
  }
  return {
    port: e.PORT,
    host: e.HOST,
    tls: e.TLS_CERT && e.TLS_KEY ? { certPath: e.TLS_CERT, keyPath: e.TLS_KEY } : undefined,
    trustProxy: e.TRUST_PROXY,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    turn: e.TURN_URLS && e.TURN_SECRET ? { urls: e.TURN_URLS, secret: e.TURN_SECRET, ttlMs: e.TURN_TTL } : undefined,
    connectTimeoutMs: e.CONNECT_TIMEOUT,
    dbPath: e.DB_PATH,
    databaseUrl: e.DATABASE_URL,
    webRoot: e.WEB_ROOT,
    adminToken: e.ADMIN_TOKEN,
    redundancy: e.REDUNDANCY ?? (e.REPLICAS !== undefined ? [{ k: 1, n: e.REPLICAS }] : DEFAULT_REDUNDANCY),
    redundancyAllowFewer: e.REDUNDANCY_ALLOW_FEWER,
    repairThreshold: e.REPAIR_THRESHOLD,
    chunkSize: e.CHUNK_SIZE,
    iceServers: e.ICE_SERVERS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL,
    heartbeatTimeoutMs: e.HEARTBEAT_TIMEOUT,
    acceptTimeoutMs: e.ACCEPT_TIMEOUT,
    transferIdleTimeoutMs: e.TRANSFER_IDLE_TIMEOUT,
    sweepIntervalMs: e.SWEEP_INTERVAL,
    trackerId: e.TRACKER_ID,
    trackerHeartbeatMs: e.TRACKER_HEARTBEAT,
    trackerTimeoutMs: e.TRACKER_TIMEOUT,
    uploadResumeGraceMs: e.UPLOAD_RESUME_GRACE,
    maxHostTransfers: e.MAX_HOST_TRANSFERS,
    integrityExclusion: e.INTEGRITY_EXCLUSION,
    repairGraceMs: e.REPAIR_GRACE,
    repairConcurrency: e.REPAIR_CONCURRENCY,
    repairRatePerMinute: e.REPAIR_RATE,
    adminShowNames: e.ADMIN_SHOW_NAMES,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    rateLimit: e.RATE_LIMIT,
    rateBurst: e.RATE_BURST,
    maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
    allowedOrigins: e.ALLOWED_ORIGINS,
    thresholds,
    audits: { intervalMs: e.AUDIT_INTERVAL, timeoutMs: e.AUDIT_TIMEOUT, perSweep: e.AUDITS_PER_SWEEP },
    vetting: { audits: e.VETTING_AUDITS, periodMs: e.VETTING_PERIOD, share: e.VETTING_SHARE },
    earning: { newcomerSpace: e.NEWCOMER_SPACE, growth: e.EARNED_GROWTH, maturityMs: e.TRUST_MATURITY },
    owners: { allowance: e.OWNER_ALLOWANCE, ratio: e.OWNER_RATIO, maxPendingUploads: e.MAX_PENDING_UPLOADS, maxFiles: e.MAX_FILES_PER_PEER },
    newPeersPerNetwork: e.NEW_PEERS_PER_NETWORK,
    networkPrefixes: e.NETWORK_PREFIXES,
    signalBudget: e.SIGNAL_BUDGET,
    metricsToken: e.METRICS_TOKEN,
    logLevel: e.LOG_LEVEL,
  };
}

/** What each variable means, for `--help` (the README's table says the same). */
export const CONFIG_HELP: Record<(typeof CONFIG_VARIABLES)[number], { description: string; fallback: string }> = {
  PORT: { description: 'HTTP and Socket.IO port', fallback: '3000' },
  HOST: { description: 'interface to listen on (0.0.0.0 for a LAN)', fallback: 'localhost' },
  DB_PATH: { description: 'SQLite database file (unless DATABASE_URL is set)', fallback: './data/peercloud.db' },
  DATABASE_URL: { description: 'PostgreSQL instead of SQLite: postgres://user:password@host:port/database', fallback: 'unset' },
  WEB_ROOT: { description: 'the built web app', fallback: './dist/web' },
  ADMIN_TOKEN: { description: 'enables the operator API and dashboard (16+ characters)', fallback: 'unset' },
  REPLICAS: { description: 'whole copies per file (the same as REDUNDANCY=replicate:N)', fallback: 'unset' },
  REDUNDANCY: { description: 'schemes in order of preference: replicate:R or rs:K+M, comma-separated', fallback: 'rs:4+4,replicate:2' },
  REDUNDANCY_ALLOW_FEWER: { description: 'store on fewer than n hosts (at least k+1) rather than refuse', fallback: 'false' },
  REPAIR_THRESHOLD: { description: 'repair when live fragments fall to this (k+1, n-1 or a number)', fallback: 'k+1' },
  CHUNK_SIZE: { description: 'plaintext bytes per chunk', fallback: '1MiB' },
  ICE_SERVERS: { description: 'JSON array of static RTCIceServer (STUN, or TURN with fixed credentials) for the peers', fallback: '[]' },
  TURN_URLS: { description: 'TURN relays (comma-separated turn:/turns: URLs) whose credentials the tracker makes per peer', fallback: 'unset' },
  TURN_SECRET: { description: "the TURN server's shared secret (coturn static-auth-secret); never leaves the tracker", fallback: 'unset' },
  TURN_TTL: { description: 'how long a peer’s TURN credentials last (renewed before they expire)', fallback: '6h' },
  CONNECT_TIMEOUT: { description: 'how long two peers try to connect before the transfer fails', fallback: '15s' },
  TLS_CERT: { description: 'PEM certificate (chain): serve https/wss; reloaded on SIGHUP or change', fallback: 'unset' },
  TLS_KEY: { description: 'PEM private key of TLS_CERT', fallback: 'unset' },
  TRUST_PROXY: { description: 'proxies trusted for X-Forwarded-For: a hop count or addresses/CIDRs', fallback: 'unset' },
  PUBLIC_URL: { description: 'the address other devices open, when not the one the tracker works out', fallback: 'unset' },
  HEARTBEAT_INTERVAL: { description: 'Socket.IO ping interval', fallback: '10s' },
  HEARTBEAT_TIMEOUT: { description: 'Socket.IO ping timeout', fallback: '10s' },
  ACCEPT_TIMEOUT: { description: 'time a host has to answer a storage request', fallback: '15s' },
  TRANSFER_IDLE_TIMEOUT: { description: 'a transfer without progress for this long fails', fallback: '30s' },
  SWEEP_INTERVAL: { description: 'how often expiries, repairs and level changes are applied', fallback: '5s' },
  TRACKER_ID: { description: "this tracker's name among several on one PostgreSQL (and its /metrics label)", fallback: 'host name:port' },
  TRACKER_HEARTBEAT: { description: 'how often a tracker on PostgreSQL records that it is alive', fallback: '5s' },
  TRACKER_TIMEOUT: { description: "after this long without a heartbeat the other trackers mark a tracker's peers offline", fallback: '20s' },
  UPLOAD_RESUME_GRACE: { description: 'how long partial replicas wait for their owner to resume', fallback: '24h' },
  MAX_HOST_TRANSFERS: { description: 'transfers a host takes at once', fallback: '4' },
  INTEGRITY_EXCLUSION: { description: 'corrupt-data failures in 24 h after which a host gets nothing new', fallback: '3' },
  REPAIR_GRACE: { description: 'how long a host may be away before its replicas are copied elsewhere', fallback: '15m' },
  REPAIR_CONCURRENCY: { description: 'repairs under way at once, at most', fallback: '4' },
  REPAIR_RATE: { description: 'repairs started a minute, at most', fallback: '60' },
  ADMIN_SHOW_NAMES: { description: "show users' file names to the operator", fallback: 'false' },
  MAX_MESSAGE_BYTES: { description: 'largest Socket.IO message', fallback: '64KiB' },
  RATE_LIMIT: { description: 'requests a second per connection, on average', fallback: '50' },
  RATE_BURST: { description: 'requests per connection in a burst', fallback: '200' },
  MAX_CONNECTIONS_PER_ADDRESS: { description: 'connections one address may hold', fallback: '64' },
  ALLOWED_ORIGINS: { description: 'other origins whose pages may connect (comma-separated)', fallback: 'none' },
  TRUST_THRESHOLDS: { description: 'minimum capacity for trust 5, 4, 3, 2', fallback: '4GiB,1GiB,256MiB,64MiB' },
  DYNAMISM_THRESHOLDS: { description: 'maximum disconnections in 24 h for dynamism 5, 4, 3, 2', fallback: '0,1,3,7' },
  AVAILABILITY_THRESHOLDS: { description: 'maximum rejections in 24 h for availability 5, 4, 3, 2', fallback: '0,1,3,7' },
  AUDIT_INTERVAL: { description: 'mean time between audits of each replica', fallback: '6h' },
  AUDIT_TIMEOUT: { description: 'time a host has to answer an audit', fallback: '30s' },
  AUDITS_PER_SWEEP: { description: 'routine audits started per sweep, at most', fallback: '50' },
  VETTING_AUDITS: { description: 'audits a new host must pass before it is vetted', fallback: '10' },
  VETTING_PERIOD: { description: 'and the time since it first joined', fallback: '24h' },
  VETTING_SHARE: { description: 'share of files whose copies new hosts may take ahead of vetted ones', fallback: '0.05' },
  NEWCOMER_SPACE: { description: 'capacity credited to a host before it has proven anything', fallback: '256MiB' },
  EARNED_GROWTH: { description: 'capacity credited per proven byte held', fallback: '2' },
  TRUST_MATURITY: { description: 'how long a proven replica must be held to count in full', fallback: '7d' },
  OWNER_ALLOWANCE: { description: 'bytes of copies anyone may store without hosting', fallback: '1GiB' },
  OWNER_RATIO: { description: 'bytes of copies an owner may store per proven byte it hosts', fallback: '1' },
  MAX_PENDING_UPLOADS: { description: 'uploads an owner may have under way at once', fallback: '8' },
  MAX_FILES_PER_PEER: { description: 'files one owner may have', fallback: '10000' },
  NEW_PEERS_PER_NETWORK: { description: 'new identities one network may create an hour', fallback: '10' },
  NETWORK_PREFIXES: { description: 'IPv4 and IPv6 prefix lengths of one network', fallback: '24,48' },
  SIGNAL_BUDGET: { description: 'signaling bytes a transfer may relay through the tracker', fallback: '128KiB' },
  METRICS_TOKEN: { description: '/metrics needs this bearer token (or the admin token)', fallback: 'unset (public)' },
  LOG_LEVEL: { description: 'fatal, error, warn, info, debug, trace or silent', fallback: 'info' },
};
