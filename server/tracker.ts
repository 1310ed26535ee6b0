/**
 * The tracker, wired in one place: database, clock, configuration and logger come in; an
 * HTTP(S) server with Socket.IO on the same origin comes out. Nothing here holds file bytes;
 * everything it knows is in the database, so a restart on the same file loses nothing but the
 * transfers that were under way. This file only builds the parts and connects them: what each
 * part does is in its own module, and what one part tells another goes through `events`.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { Server } from 'socket.io';
import { fromHex, randomId } from '../shared/encoding.ts';
import type { ClientConfig } from '../shared/protocol.ts';
import { AdminQueries } from './admin.ts';
import { Audits } from './audits.ts';
import { networkOf } from '../shared/network.ts';
import { limitNewIdentities } from './socket/identity-limit.ts';
import type { Clock } from './clock.ts';
import { CloudStats } from './cloud-stats.ts';
import { attachPostgresAdapter, peerRoom } from './cluster/adapter.ts';
import { ClusterDelivery } from './cluster/delivery.ts';
import { AdvisoryLease, soleLease, type Lease } from './cluster/lease.ts';
import { TrackerPresence } from './cluster/presence.ts';
import { TrackerRecovery } from './cluster/recovery.ts';
import type { Config } from './config.ts';
import { openDatabase, poolWatchOf, type Db } from './db/database.ts';
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
import { Sessions, type TrackerServer, type TrackerSocket } from './sessions.ts';
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
  // On PostgreSQL several trackers may serve one cloud: the Socket.IO adapter, heartbeats, the
  // sweep's lease and the recovery of a dead tracker's peers are for them. On SQLite the tracker
  // is alone, as it always was.
  const clustered = config.databaseUrl !== undefined;
  /** This tracker's name among the cloud's trackers: known once listening (TRACKER_ID, else host:port). */
  let trackerId = config.trackerId ?? `${hostname()}:${config.port}`;
  const sessions = new Sessions();
  const metrics = new Metrics();
  const events = new TrackerEvents();
  const pool = poolWatchOf(db);
  pool?.onWait((seconds) => metrics.poolWait.observe(seconds));
  const peers = new Peers({ db, clock, config, log, sessions, metrics });
  const summaries = new FileSummaries({ db, sessions });
  const placement = new Placement({ db, clock, config, log, metrics });
  const audits = new Audits({ db, clock, config, log, sessions, events, metrics });
  const transfers = new Transfers({ db, clock, config, log, sessions, metrics, events, audits });
  const uploads = new Uploads({ db, clock, config, log, sessions, events, summaries, placement, transfers });
  const files = new Files({ db, clock, config, log, sessions, events, summaries, transfers });
  const inventory = new Inventory({ db, clock, config, log, events, audits, sessions });
  const repairs = new Repairs({ db, clock, config, log, metrics, sessions, events, placement, transfers });
  const challenges = new Challenges(db, clock);
  const admin = new AdminQueries(db, clock, config);
  const heartbeatDb = config.databaseUrl ? openDatabase({ dbPath: '', databaseUrl: config.databaseUrl }, { log, connections: 1, name: 'peercloud-heartbeat' }) : undefined;
  const presence = new TrackerPresence({
    db,
    ...(heartbeatDb ? { beatDb: heartbeatDb.db } : {}),
    clock,
    log,
    id: () => trackerId,
    heartbeatMs: config.trackerHeartbeatMs,
    timeoutMs: config.trackerTimeoutMs,
    // Taken for dead by the others, who marked its peers offline: they reconnect and register anew.
    declaredDead: async () => sessions.disconnectAll(true),
  });
  /** Peers online in the whole cloud: those of live trackers, as the database says (one tracker: its own). */
  const cloudPeers = async (): Promise<number> => {
    if (!clustered) return sessions.size;
    const row = await db
      .selectFrom('peers')
      .innerJoin('trackers', 'trackers.id', 'peers.tracker_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('peers.online', '=', 1)
      .where('trackers.heartbeat_at', '>', presence.deadline())
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const cloudStats = new CloudStats(sessions, cloudPeers, log);
  const recovery = new TrackerRecovery({ peers, transfers, events, presence, log, changed: () => cloudStats.changed() });
  const lease: Lease = config.databaseUrl ? new AdvisoryLease(config.databaseUrl, log) : soleLease;

  // Who hears what. Blame first: a replacement host is placed by the levels it leaves.
  events.on('transfers:ended', async ({ endings }) => {
    for (const { blames, transfer } of endings) if (blames.length > 0) await peers.blamed(blames, transfer.file_id);
  });
  events.on('transfers:ended', ({ endings }) => uploads.transfersEnded(endings));
  events.on('audit:decided', ({ audit, verdict }) => peers.auditDecided(audit, verdict));
  events.on('audit:decided', ({ audit, verdict }) => transfers.auditDecided(audit, verdict));
  events.on('audit:decided', ({ audit, verdict }) => inventory.auditDecided(audit, verdict));
  events.on('file:changed', ({ fileId }) => summaries.notify(fileId));
  events.on('host:space', ({ hostId }) => peers.refresh(hostId).then(() => undefined));
  events.on('peer:presence', ({ peerId }) => summaries.notifyHostedBy(peerId));

  const sweeper = new Sweeper(
    [
      // Trackers that died: their peers offline, their transfers ended, before anything else.
      ...(clustered ? [() => recovery.sweepDead()] : []),
      () => challenges.expire(),
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
    lease,
    metrics,
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
    'file:place': (peerId, request, afterAnswer) => uploads.place(peerId, request, afterAnswer),
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
  let startedAt: number | undefined;
  const cloud = async () => {
    const trackers = clustered ? (await presence.all()).filter((row) => row.heartbeatAt > presence.deadline()) : [{ id: trackerId, startedAt: startedAt ?? clock.now(), heartbeatAt: clock.now() }];
    return { peersOnline: await cloudPeers(), trackerId, trackers };
  };
  const scrape = async () => {
    metrics.trackerPeers.set(sessions.size);
    if (pool) metrics.poolWaiting.set(pool.waiting());
    metrics.sweepHolder.set(lease.holding ? 1 : 0);
    metrics.trackersAlive.set((await cloud()).trackers.length);
    return admin.scrape(metrics);
  };
  const clientAddress = clientAddressOf(config.trustProxy);
  const app = createHttpApp({ config, clock, log, challenges, admin, stats, cloud, clientAddress, metrics: scrape });
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
  const closeAdapter = config.databaseUrl
    ? attachPostgresAdapter(io, config.databaseUrl, { heartbeatMs: config.trackerHeartbeatMs, timeoutMs: config.trackerTimeoutMs, log })
    : undefined;
  if (clustered) sessions.reachOthers(new ClusterDelivery({ io, db, clock, log, metrics, sessions, trackerId: () => trackerId, deadline: () => presence.deadline() }));
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
    trackerId: () => trackerId,
    ...(clustered
      ? {
          takeOver: async (socket: TrackerSocket) => {
            const room = peerRoom(socket.data.peerId);
            await socket.join(room);
            // Its older connection, wherever it is: that tracker finds the session taken over.
            io.in(room).except(socket.id).disconnectSockets(true);
          },
        }
      : {}),
  });
  /** Peers online elsewhere come and go: every tracker's peers hear the cloud's count. */
  let statsTimer: NodeJS.Timeout | undefined;

  return {
    http,
    io,
    async listen(port = config.port, host = config.host) {
      // A fixed port names the tracker the same after a restart, so that it finds its own peers
      // from before a crash; port 0 (tests) gets a name of its own.
      trackerId = config.trackerId ?? `${hostname()}:${port === 0 ? randomId(6) : port}`;
      metrics.label(trackerId);
      startedAt = clock.now();
      if (clustered) {
        await presence.register();
        // Its own peers from before a crash; the other trackers' peers are theirs.
        await recovery.release(trackerId);
      } else {
        await peers.markAllOffline();
        const abandoned = await transfers.abandonAll();
        if (abandoned > 0) log.info({ event: 'recovery', abandoned }, 'released transfers left from before the restart');
      }
      await uploads.settleStale();
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      sweeper.start(config.sweepIntervalMs);
      if (clustered) {
        presence.start();
        statsTimer = setInterval(() => cloudStats.recount(), config.trackerHeartbeatMs);
      }
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
      clearInterval(statsTimer);
      cloudStats.stop();
      tls?.close();
      http.close();
      const settled = Promise.allSettled([...inflight, sweeper.stop(), presence.stop()]);
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      sessions.disconnectAll();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await closeAdapter?.();
      if (clustered) {
        // Its peers reconnect to the other trackers; those that don't are offline now, not after a timeout.
        await recovery.release(trackerId);
        await presence.forget(trackerId);
        await lease.release();
        await heartbeatDb?.close();
      } else {
        await peers.markAllOffline();
      }
    },
  };
}
