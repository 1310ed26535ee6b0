/**
 * The tracker, wired in one place: database, clock, configuration and logger come in; an
 * HTTP(S) server with Socket.IO on the same origin comes out. Nothing here holds file bytes;
 * everything it knows is in the database, so a restart on the same file loses nothing but the
 * transfers that were under way. This file only builds the parts and connects them: what each
 * part does is in its own module, and what one part tells another goes through `events`.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Server } from 'socket.io';
import { fromHex } from '../shared/encoding.ts';
import type { ClientConfig } from '../shared/protocol.ts';
import { AdminQueries } from './admin.ts';
import { Audits } from './audits.ts';
import { networkOf } from '../shared/network.ts';
import { limitNewIdentities } from './socket/identity-limit.ts';
import type { Clock } from './clock.ts';
import { CloudStats } from './cloud-stats.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import { TrackerEvents } from './events.ts';
import { FileSummaries } from './file-summaries.ts';
import { Files } from './files.ts';
import { createHttpApp, type TrackerStats } from './http/app.ts';
import { clientAddressOf } from './http/client-address.ts';
import { listenUrls, listenWarnings, shareableUrl, type ListenFacts } from './http/listen-addresses.ts';
import { originAllowed } from './http/security.ts';
import { TlsServer } from './http/tls.ts';
import { Inventory } from './inventory.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { Peers } from './peers.ts';
import { Placement } from './placement.ts';
import { Repairs } from './repairs.ts';
import { Sessions, type TrackerServer } from './sessions.ts';
import { AddressLimit } from './socket/address-limit.ts';
import { authenticate } from './socket/authenticate.ts';
import { Challenges } from './socket/challenges.ts';
import { acceptConnections } from './socket/connections.ts';
import type { RequestHandlers } from './socket/requests.ts';
import { Sweeper } from './sweep.ts';
import { Transfers } from './transfers.ts';
import { iceGrant } from './turn.ts';
import { Uploads } from './uploads.ts';

export interface TrackerDeps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
}

export interface Listening {
  port: number;
  /** The first address the page answers on (localhost when listening everywhere). */
  url: string;
  /** Every address the page answers on, with the scheme it is served with. */
  urls: string[];
  /** What an operator should know before other devices try to join. */
  warnings: string[];
}

export interface Tracker {
  readonly http: HttpServer;
  readonly io: TrackerServer;
  /** Marks everyone offline and abandons transfers left from before, then listens. */
  listen(port?: number, host?: string): Promise<Listening>;
  /** Reads TLS_CERT and TLS_KEY again (a renewal); false when TLS is off or the new files are unusable. */
  reloadTls(): boolean;
  /** Expires transfers and recomputes levels that time changed. Runs on SWEEP_INTERVAL; tests call it. */
  sweep(): Promise<void>;
  stats(): TrackerStats;
  close(): Promise<void>;
}

export function createTracker({ db, clock, config, log }: TrackerDeps): Tracker {
  const sessions = new Sessions();
  const metrics = new Metrics();
  const events = new TrackerEvents();
  const peers = new Peers({ db, clock, config, log, sessions, metrics });
  const summaries = new FileSummaries({ db, sessions });
  const placement = new Placement({ db, clock, config, log, metrics });
  const audits = new Audits({ db, clock, config, log, sessions, events, metrics });
  const transfers = new Transfers({ db, clock, config, log, sessions, metrics, events, audits });
  const uploads = new Uploads({ db, clock, config, log, sessions, events, summaries, placement, transfers });
  const files = new Files({ db, clock, config, log, sessions, events, summaries, transfers });
  const inventory = new Inventory({ db, clock, config, log, events, audits, sessions });
  const repairs = new Repairs({ db, clock, config, log, metrics, sessions, events, placement, transfers });
  const challenges = new Challenges(clock);
  const admin = new AdminQueries(db, clock, config);
  const cloudStats = new CloudStats(sessions);

  // Who hears what. Blame first: a replacement host is placed by the levels it leaves.
  events.on('transfer:ended', ({ blames, transfer }) => peers.blamed(blames, transfer.file_id));
  events.on('transfer:ended', (ended) => uploads.transferEnded(ended));
  events.on('audit:decided', ({ audit, verdict }) => peers.auditDecided(audit, verdict));
  events.on('audit:decided', ({ audit, verdict }) => transfers.auditDecided(audit, verdict));
  events.on('audit:decided', ({ audit, verdict }) => inventory.auditDecided(audit, verdict));
  events.on('file:changed', ({ fileId }) => summaries.notify(fileId));
  events.on('host:space', ({ hostId }) => peers.refresh(hostId).then(() => undefined));
  events.on('peer:presence', ({ peerId }) => summaries.notifyHostedBy(peerId));

  const sweeper = new Sweeper(
    [
      () => transfers.expire(),
      () => audits.expire(),
      () => uploads.settleStale(),
      () => uploads.expireInterrupted(),
      () => repairs.schedule(),
      () => repairs.trim(),
      () => audits.schedule(),
      () => peers.refreshAll(),
    ],
    log,
  );

  /** Known once listening: the address other devices should open, if the tracker can tell. */
  let publicUrl: string | undefined = config.publicUrl;
  const clientConfig = (peerId: string): ClientConfig => {
    const ice = iceGrant(config.iceServers, config.turn, peerId, clock.now());
    return {
      chunkSize: config.chunkSize,
      replicas: config.redundancy[0]!.n,
      redundancy: config.redundancy,
      iceServers: ice.iceServers,
      iceExpiresAt: ice.expiresAt,
      connectTimeoutMs: config.connectTimeoutMs,
      ...(publicUrl ? { publicUrl } : {}),
      transferIdleTimeoutMs: config.transferIdleTimeoutMs,
      maxHostTransfers: config.maxHostTransfers,
      maxMessageBytes: config.maxMessageBytes,
    };
  };

  const handlers: RequestHandlers = {
    'peer:report': async (peerId, { capacity, used }) => ({ peer: await peers.reported(peerId, capacity, used), config: clientConfig(peerId) }),
    'peer:ice': async (peerId) => iceGrant(config.iceServers, config.turn, peerId, clock.now()),
    'host:inventory': async (peerId, { replicas, last }) => ({ drop: await inventory.page(peerId, replicas, last) }),
    'file:place': (peerId, request) => uploads.place(peerId, request),
    'file:resume': (peerId, { fileId }) => uploads.resume(peerId, fileId),
    'file:seal': async (peerId, request) => ({ file: await uploads.seal(peerId, request.fileId, 'roots' in request ? request.roots : [request.sha256]) }),
    'file:list': async (peerId) => ({ files: await files.list(peerId) }),
    'file:locate': async (peerId, { fileId, exclude, count }) => {
      const transfers = await files.locate(peerId, fileId, { exclude, count });
      return { transferId: transfers[0]!.transferId, transfers };
    },
    'file:delete': async (peerId, { fileId }) => (await files.delete(peerId, fileId), {}),
    'transfer:accept': async (peerId, { transferId }) => (await transfers.accept(peerId, transferId), {}),
    'transfer:reject': async (peerId, { transferId, reason }) => (await transfers.reject(peerId, transferId, reason), {}),
    'transfer:signal': async (peerId, { transferId, signal }) => (await transfers.signal(peerId, transferId, signal), {}),
    'transfer:progress': async (peerId, { transferId, bytes }) => (await transfers.progress(peerId, transferId, bytes), {}),
    'transfer:fail': async (peerId, { transferId, code, message, chunk }) => (await transfers.fail(peerId, transferId, code, message, chunk), {}),
    'transfer:finish': async (peerId, { transferId }) => (await transfers.finish(peerId, transferId), {}),
    'replica:stored': async (peerId, { transferId, sha256 }) => ({ file: await transfers.claimStored(peerId, transferId, sha256) }),
    'audit:answer': (peerId, { auditId, block, blockPath, chunkPath }) =>
      audits.answer(peerId, auditId, { block, blockPath: blockPath.map(fromHex), chunkPath: chunkPath.map(fromHex) }),
  };

  const counters = { socketBytesIn: 0, socketMessagesIn: 0 };
  const stats = (): TrackerStats => ({ ...counters, peersOnline: sessions.size });
  const clientAddress = clientAddressOf(config.trustProxy);
  const app = createHttpApp({ config, clock, log, challenges, admin, stats, clientAddress, metrics: () => admin.scrape(metrics) });
  const tls = config.tls ? new TlsServer(config.tls, app, log) : undefined;
  // Socket.IO only needs the server's request and upgrade events, which https has too.
  const http: HttpServer = (tls?.server as unknown as HttpServer | undefined) ?? createServer(app);
  const io: TrackerServer = new Server(http, {
    serveClient: false,
    allowRequest: (request, callback) => callback(null, originAllowed(request, config.allowedOrigins)),
    // Only small JSON travels here; a bigger message closes that connection alone.
    maxHttpBufferSize: config.maxMessageBytes,
    pingInterval: config.heartbeatIntervalMs,
    pingTimeout: config.heartbeatTimeoutMs,
  });
  io.engine.on('connection', (raw: { on(event: 'packet', listener: (packet: { data?: unknown }) => void): void }) => {
    raw.on('packet', (packet) => {
      counters.socketMessagesIn++;
      if (typeof packet.data === 'string') counters.socketBytesIn += Buffer.byteLength(packet.data);
      else if (packet.data instanceof Uint8Array) counters.socketBytesIn += packet.data.byteLength;
    });
  });

  const addressLimit = new AddressLimit(config.maxConnectionsPerAddress);
  io.use((socket, next) => {
    // The client's own address (through trusted proxies), for limits and logs alike.
    socket.data.address = clientAddress(socket.request);
    socket.data.network = networkOf(socket.data.address, config.networkPrefixes);
    socket.data.forced = false;
    next();
  });
  io.use(addressLimit.precheck);
  io.use(authenticate(challenges, log));
  io.use(limitNewIdentities(db, clock, config.newPeersPerNetwork));
  io.use(addressLimit.admit);

  let closing = false;
  const inflight = new Set<Promise<unknown>>();
  acceptConnections(io, {
    sessions,
    peers,
    transfers,
    inventory,
    events,
    cloudStats,
    metrics,
    log,
    handlers,
    inflight,
    limits: { rate: config.rateLimit, burst: config.rateBurst, now: () => clock.now() },
    closing: () => closing,
  });

  return {
    http,
    io,
    async listen(port = config.port, host = config.host) {
      await peers.markAllOffline();
      const abandoned = await transfers.abandonAll();
      await uploads.settleStale();
      if (abandoned > 0) log.info({ event: 'recovery', abandoned }, 'released transfers left from before the restart');
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      sweeper.start(config.sweepIntervalMs);
      tls?.watch();
      const facts: ListenFacts = {
        host,
        port: (http.address() as AddressInfo).port,
        scheme: tls ? 'https' : 'http',
        interfaces: networkInterfaces(),
        trustProxy: config.trustProxy !== undefined,
        publicUrl: config.publicUrl,
      };
      const urls = listenUrls(facts);
      publicUrl = shareableUrl(facts, urls);
      return { port: facts.port, url: urls[0]!, urls, warnings: listenWarnings(facts) };
    },
    reloadTls: () => tls?.reload() ?? false,
    sweep: () => sweeper.run(),
    stats,
    /**
     * Graceful: stop accepting connections, let the requests under way and the sweep finish
     * their database writes (a few seconds at most), then close every socket.
     */
    async close() {
      closing = true;
      cloudStats.stop();
      tls?.close();
      http.close();
      const settled = Promise.allSettled([...inflight, sweeper.stop()]);
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      sessions.disconnectAll();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await peers.markAllOffline();
    },
  };
}
