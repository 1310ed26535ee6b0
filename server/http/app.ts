/**
 * The tracker's HTTP side: the web app, the login challenge, health, and the operator API.
 * Socket.IO shares the same server and origin.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import express, { type ErrorRequestHandler } from 'express';
import type { AdminQueries } from '../admin.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Challenges } from '../socket/challenges.ts';
import type { TrackerRow } from '../cluster/presence.ts';
import { fullBucket, take, type Bucket } from '../../shared/token-bucket.ts';
import { requireAdmin, requireTokenIfSet } from './admin-auth.ts';
import { trustFunction, type ClientAddress } from './client-address.ts';
import { securityHeaders } from './security.ts';

const CHALLENGE_RATE = 20;
const METRICS_CACHE_MS = 5_000;
const CHALLENGE_BURST = 100;

export interface TrackerStats {
  /** Bytes received over Socket.IO since start: file bytes must never show up here. */
  socketBytesIn: number;
  socketMessagesIn: number;
  /** Peers online: in the operator API, the whole cloud's; from `tracker.stats()`, this tracker's. */
  peersOnline: number;
  /** The operator API only: this tracker, the peers it holds, and the cloud's live trackers. */
  trackerId?: string;
  trackerPeersOnline?: number;
  trackers?: TrackerRow[];
}

interface Deps {
  config: Config;
  clock: Clock;
  log: Logger;
  challenges: Challenges;
  admin: AdminQueries;
  /** This tracker's own counters. */
  stats: () => TrackerStats;
  /** The whole cloud: peers online on every live tracker, and those trackers. */
  cloud: () => Promise<{ peersOnline: number; trackerId: string; trackers: TrackerRow[] }>;
  /** Who a request comes from (the client, not a trusted proxy in front of it). */
  clientAddress: ClientAddress;
  /** The Prometheus text exposition. */
  metrics: () => Promise<string>;
}

export function createHttpApp({ config, clock, log, challenges, admin, stats, cloud, clientAddress, metrics }: Deps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // req.ip and req.protocol as the trusted proxies say, for anything Express itself decides.
  app.set('trust proxy', trustFunction(config.trustProxy));
  app.use(securityHeaders());

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  // For Prometheus: counts and gauges only, never a name, an id or an address. Computed by a
  // few aggregate queries at most once per METRICS_CACHE_MS, however many scrape it, and behind
  // METRICS_TOKEN when one is set.
  let scraped: { at: number; text: Promise<string> } | undefined;
  app.get('/metrics', requireTokenIfSet([config.metricsToken, config.adminToken], config.metricsToken !== undefined), async (_req, res) => {
    const now = clock.now();
    if (!scraped || now - scraped.at >= METRICS_CACHE_MS) {
      const text = metrics();
      scraped = { at: now, text };
      // A failed scrape is not cached.
      text.catch(() => {
        if (scraped?.text === text) scraped = undefined;
      });
    }
    res.type('text/plain; version=0.0.4').send(await scraped.text);
  });

  // Nonces cost memory until used or expired: a client asking for them in a loop is slowed down.
  const challengeBuckets = new Map<string, Bucket>();
  app.get('/api/challenge', async (req, res) => {
    const address = clientAddress(req);
    const now = clock.now();
    if (challengeBuckets.size > 100_000) challengeBuckets.clear();
    const bucket = challengeBuckets.get(address) ?? fullBucket(CHALLENGE_BURST, now);
    challengeBuckets.set(address, bucket);
    if (!take(bucket, now, CHALLENGE_RATE, CHALLENGE_BURST)) {
      res.status(429).json({ ok: false, code: 'RATE_LIMITED', message: 'Too many login attempts from your address. Wait a moment.' });
      return;
    }
    res.set('Cache-Control', 'no-store').json(await challenges.issue(address));
  });

  const operator = express.Router();
  operator.use(requireAdmin(config.adminToken));
  operator.get('/peers', async (_req, res) => {
    res.json({ peers: await admin.peers() });
  });
  operator.get('/files', async (_req, res) => {
    res.json({ files: await admin.files() });
  });
  operator.get('/transfers', async (_req, res) => {
    res.json({ transfers: await admin.transfers() });
  });
  operator.get('/overview', async (_req, res) => {
    res.json(await admin.overview());
  });
  operator.get('/availability', async (_req, res) => {
    res.json(await admin.availability());
  });
  // Any tracker answers for the whole cloud; what this one holds is told apart.
  operator.get('/stats', async (_req, res) => {
    const own = stats();
    const whole = await cloud();
    res.json({ ...own, peersOnline: whole.peersOnline, trackerId: whole.trackerId, trackerPeersOnline: own.peersOnline, trackers: whole.trackers });
  });
  app.use('/api', operator);

  const webRoot = resolve(config.webRoot);
  if (existsSync(resolve(webRoot, 'index.html'))) {
    app.use(express.static(webRoot, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForHtml }));
    // The operator's dashboard: a page like any other; its data needs the admin token.
    app.get('/admin', (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(resolve(webRoot, 'admin.html'));
    });
  } else {
    log.warn({ webRoot }, 'web app not built: run `npm run build` (npm start does it for you)');
    app.get('/', (_req, res) => {
      res.status(503).type('text/plain').send('The Peercloud web app is not built. Run `npm run build`, or start with `npm start`.');
    });
  }

  app.use((_req, res) => {
    res.status(404).json({ ok: false, code: 'NOT_FOUND', message: 'Not found.' });
  });
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    log.error({ err: error, event: 'http_error' }, 'HTTP request failed');
    res.status(500).json({ ok: false, code: 'INTERNAL', message: 'Internal error.' });
  };
  app.use(onError);
  return app;
}

function noCacheForHtml(res: express.Response, path: string): void {
  // The page must always be fresh so that it matches the tracker's protocol; assets are hashed.
  if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}
