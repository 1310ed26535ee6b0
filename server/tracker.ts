/**
 * The tracker, wired in one place: database, clock, configuration and logger come in;
 * an HTTP server with Socket.IO on the same origin comes out. Nothing here holds file
 * bytes; everything it knows is in the database, so a restart on the same file loses
 * nothing but the transfers that were under way.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Server } from 'socket.io';
import { AdminQueries } from './admin.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Db } from './db/database.ts';
import { FileService } from './files.ts';
import { createHttpApp, type TrackerStats } from './http/app.ts';
import type { Logger } from './logger.ts';
import { PeerService } from './peers.ts';
import { Sessions, type TrackerServer, type TrackerSocket } from './sessions.ts';
import { originAllowed } from './http/security.ts';
import { authenticate } from './socket/authenticate.ts';
import { Challenges } from './socket/challenges.ts';
import { bindRequests, type RequestHandlers } from './socket/requests.ts';
import { TransferService } from './transfers.ts';
import { Metrics } from './metrics.ts';
import { RepairService } from './repairs.ts';
import { clientAddressOf } from './http/client-address.ts';
import { listenUrls, listenWarnings, shareableUrl, type ListenFacts } from './http/listen-addresses.ts';
import { TlsServer } from './http/tls.ts';
import { iceGrant } from './turn.ts';
import type { ClientConfig } from '../shared/protocol.ts';

/** Fills the gauges that describe the database, then renders every metric in Prometheus' text format. */
async function scrape(admin: AdminQueries, metrics: Metrics): Promise<string> {
  const { peersOnlineByLevel, filesByHealth } = await admin.gauges();
  metrics.peersOnline.reset();
  for (const [level, count] of Object.entries(peersOnlineByLevel)) metrics.peersOnline.set({ level }, count);
  metrics.filesByHealth.reset();
  for (const [health, count] of Object.entries(filesByHealth)) metrics.filesByHealth.set({ health }, count);
  return metrics.registry.metrics();
}

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
  const peers = new PeerService({ db, clock, config, log, sessions, metrics });
  const transfers = new TransferService({ db, clock, config, log, sessions, peers, metrics });
  const files = new FileService({ db, clock, config, log, sessions, peers, transfers });
  const repairs = new RepairService({ db, clock, config, log, metrics, transfers });
  const challenges = new Challenges(clock);
  const counters = { socketBytesIn: 0, socketMessagesIn: 0 };
  const stats = (): TrackerStats => ({ ...counters, peersOnline: sessions.size });

  const clientAddress = clientAddressOf(config.trustProxy);
  /** Known once listening: the address other devices should open, if the tracker can tell. */
  let publicUrl: string | undefined = config.publicUrl;
  const clientConfig = (peerId: string): ClientConfig => {
    const ice = iceGrant(config.iceServers, config.turn, peerId, clock.now());
    return {
      chunkSize: config.chunkSize,
      replicas: config.replicas,
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
    'host:inventory': async (peerId, { replicas, last }) => ({ drop: await files.inventory(peerId, replicas, last) }),
    'file:place': (peerId, request) => files.place(peerId, request),
    'file:resume': (peerId, { fileId }) => files.resume(peerId, fileId),
    'file:seal': async (peerId, { fileId, sha256 }) => ({ file: await files.seal(peerId, fileId, sha256) }),
    'file:list': async (peerId) => ({ files: await files.list(peerId) }),
    'file:locate': async (peerId, { fileId }) => ({ transferId: await files.locate(peerId, fileId) }),
    'file:delete': async (peerId, { fileId }) => (await files.delete(peerId, fileId), {}),
    'transfer:accept': async (peerId, { transferId }) => (await transfers.accept(peerId, transferId), {}),
    'transfer:reject': async (peerId, { transferId, reason, message }) => (await transfers.reject(peerId, transferId, reason, message), {}),
    'transfer:signal': async (peerId, { transferId, signal }) => (await transfers.signal(peerId, transferId, signal), {}),
    'transfer:progress': async (peerId, { transferId }) => (await transfers.progress(peerId, transferId), {}),
    'transfer:fail': async (peerId, { transferId, code, message }) => (await transfers.fail(peerId, transferId, code, message), {}),
    'transfer:finish': async (peerId, { transferId }) => (await transfers.finish(peerId, transferId), {}),
    'replica:stored': async (peerId, { transferId, sha256 }) => ({ file: await transfers.replicaStored(peerId, transferId, sha256) }),
  };

  const admin = new AdminQueries(db, clock, config);
  const app = createHttpApp({ config, clock, log, challenges, admin, stats, clientAddress, metrics: () => scrape(admin, metrics) });
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

  // Connections per address: checked before the signature (the cheaper refusal first), then
  // checked again and counted in one step once authenticated, so that handshakes passing the
  // first check together cannot all take the last places, and a refused one holds none.
  const perAddress = new Map<string, number>();
  const tooMany = () => {
    const error: Error & { data?: unknown } = new Error('Too many connections from your address.');
    error.data = { code: 'RATE_LIMITED', message: error.message };
    return error;
  };
  const full = (address: string) => (perAddress.get(address) ?? 0) >= config.maxConnectionsPerAddress;
  io.use((socket, next) => {
    // The client's own address (through trusted proxies), for limits and logs alike.
    socket.data.address = clientAddress(socket.request);
    next(full(socket.data.address) ? tooMany() : undefined);
  });
  io.use(authenticate(challenges, log));
  io.use((socket, next) => {
    const address = socket.data.address;
    if (full(address)) return next(tooMany());
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    };
    socket.once('disconnect', release);
    socket.conn.once('close', release);
    next();
  });

  // Peers-online counts go to everyone; batching them keeps a wave of joins from being O(n²).
  let statsTimer: NodeJS.Timeout | undefined;
  const announceCount = () => {
    statsTimer ??= setTimeout(() => {
      statsTimer = undefined;
      sessions.broadcast('cloud:stats', { peersOnline: sessions.size });
    }, 250);
  };

  io.on('connection', (socket: TrackerSocket) => {
    const { peerId } = socket.data;
    metrics.connections.inc();
    socket.once('disconnect', () => metrics.connections.dec());
    const previous = sessions.attach(socket);
    const ready = (async () => {
      if (previous) {
        // Same peer, newer connection (another tab took over): the old one's transfers can't go on.
        previous.disconnect(true);
        await transfers.peerGone(peerId);
      }
      files.startInventory(peerId);
      await peers.connected(peerId, socket.data.publicKey, socket.data.address);
      await files.hostChanged(peerId);
    })();
    ready.catch((error: unknown) => {
      log.error({ err: error, event: 'connect_error', peerId }, 'could not register peer');
      socket.disconnect(true);
    });
    bindRequests(socket, handlers, { ready, log, inflight, limits: { rate: config.rateLimit, burst: config.rateBurst, now: () => clock.now() } });
    log.info({ event: 'connect', peerId, address: socket.data.address, replaced: Boolean(previous) }, 'peer connected');
    announceCount();

    socket.on('disconnect', (reason) => {
      void (async () => {
        // A peer whose registration failed (the tracker's fault, logged above) leaves its
        // session, and the disconnection is not counted against it.
        if (!(await ready.then(() => true, () => false))) {
          sessions.detach(socket);
          return;
        }
        // A tracker shutting down is not the peer's fault: its disconnection is not counted.
        if (closing || socket.data.replaced || !sessions.detach(socket)) return;
        log.info({ event: 'disconnect', peerId, reason }, 'peer disconnected');
        await peers.disconnected(peerId, reason);
        await transfers.peerGone(peerId);
        await files.hostChanged(peerId);
        announceCount();
      })().catch((error: unknown) => log.error({ err: error, event: 'disconnect_error', peerId }, 'could not record disconnection'));
    });
  });

  let closing = false;
  const inflight = new Set<Promise<unknown>>();
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  const sweep = async () => {
    // Every step runs even if one before it failed: a bad row must not stop repairs or levels
    // for everyone. The first failure is rethrown once all have run.
    const steps = [() => transfers.expire(), () => files.settleStale(), () => files.expireInterrupted(), () => repairs.schedule(), () => peers.refreshAll()];
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  const scheduledSweep = () => {
    sweeping ??= sweep()
      .catch((error: unknown) => log.error({ err: error, event: 'sweep_error' }, 'sweep failed'))
      .finally(() => (sweeping = undefined));
  };

  return {
    http,
    io,
    async listen(port = config.port, host = config.host) {
      await peers.markAllOffline();
      const abandoned = await transfers.abandonAll();
      await files.settleStale();
      if (abandoned > 0) log.info({ event: 'recovery', abandoned }, 'released transfers left from before the restart');
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      sweepTimer = setInterval(scheduledSweep, config.sweepIntervalMs);
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
    sweep,
    stats,
    /**
     * Graceful: stop accepting connections, let the requests under way and the sweep finish
     * their database writes (a few seconds at most), then close every socket.
     */
    async close() {
      closing = true;
      clearInterval(sweepTimer);
      tls?.close();
      clearTimeout(statsTimer);
      http.close();
      const settled = Promise.allSettled([...inflight, sweeping]);
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
      sessions.disconnectAll();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await peers.markAllOffline();
    },
  };
}
