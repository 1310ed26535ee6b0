/**
 * Prometheus metrics, in a registry of the tracker's own (two trackers in one process, as in
 * the tests, don't share counters). Counters move where things happen; gauges that describe
 * the database are read from it when /metrics is scraped.
 */
import { readdir } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** prom-client's default metrics whose collection walks every handle or request of the process. */
const HEAVY_DEFAULT_METRICS = ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_requests', 'nodejs_active_requests_total', 'nodejs_active_resources', 'nodejs_active_resources_total'];

export class Metrics {
  readonly registry = new Registry();
  readonly placements = new Counter({ name: 'peercloud_placements_total', help: 'Replicas placed on a host (uploads and repairs).', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly rejections = new Counter({ name: 'peercloud_rejections_total', help: 'Storage requests refused or failed by a host.', registers: [this.registry] });
  readonly integrityFailures = new Counter({ name: 'peercloud_integrity_failures_total', help: 'Data served by a host that failed verification.', registers: [this.registry] });
  readonly transfers = new Counter({ name: 'peercloud_transfers_total', help: 'Transfers ended, by kind and outcome.', labelNames: ['kind', 'outcome'] as const, registers: [this.registry] });
  readonly transferBytes = new Counter({ name: 'peercloud_transfer_bytes_total', help: 'Bytes moved peer to peer by successful transfers, by kind.', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly repairs = new Counter({ name: 'peercloud_repairs_total', help: 'Repairs started and ended, by outcome.', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly audits = new Counter({ name: 'peercloud_audits_total', help: 'Audits issued and decided, by purpose and outcome.', labelNames: ['purpose', 'outcome'] as const, registers: [this.registry] });
  readonly connections = new Gauge({ name: 'peercloud_socketio_connections', help: 'Socket.IO connections open now.', registers: [this.registry] });
  readonly peersOnline = new Gauge({ name: 'peercloud_peers_online', help: 'Peers online now, by reliability level.', labelNames: ['level'] as const, registers: [this.registry] });
  readonly filesByHealth = new Gauge({ name: 'peercloud_files', help: 'Files by health.', labelNames: ['health'] as const, registers: [this.registry] });
  readonly trackerPeers = new Gauge({ name: 'peercloud_tracker_peers', help: 'Peers connected to this tracker now.', registers: [this.registry] });
  readonly trackersAlive = new Gauge({ name: 'peercloud_trackers_alive', help: 'Trackers of the cloud whose heartbeat is recent (1 with SQLite).', registers: [this.registry] });
  readonly sweepHolder = new Gauge({ name: 'peercloud_sweep_holder', help: '1 when this tracker holds the lease and runs the sweep for the cloud.', registers: [this.registry] });
  readonly clusterDeliveries = new Counter({
    name: 'peercloud_cluster_deliveries_total',
    help: 'Events for peers not connected to this tracker, by outcome (delivered by another tracker, offline, gone while retried, undeliverable).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly poolWait = new Histogram({
    name: 'peercloud_db_pool_wait_seconds',
    help: 'Time a request waited for a connection of the PostgreSQL pool (not a lock: every pooled connection was busy).',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'peercloud_request_seconds',
    help: "Time from a client's request read by the tracker to its answer sent, by request (what the tracker itself spent, waits for the database included).",
    labelNames: ['request'] as const,
    // Fine between 10 and 100 ms: the placement goal is a p99 of 50 ms, and with bounds only at
    // 25, 50 and 100 ms a p99 of 30 ms and one of 49 ms read the same. 17 request kinds at most:
    // five more bounds are at most 85 more lines per scrape.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly poolWaiting = new Gauge({ name: 'peercloud_db_pool_waiting', help: 'Requests waiting for a connection of the PostgreSQL pool now.', registers: [this.registry] });

  constructor() {
    // Process metrics, event loop lag among them.
    collectDefaultMetrics({ register: this.registry, prefix: 'peercloud_' });
    // Not these: each scrape listed every libuv handle and resource (two arrays of 10,000
    // sockets and more at 10,000 peers, grouped by type), which held the event loop for a
    // tenth of a second at every scrape. Connections are counted by peercloud_socketio_connections.
    for (const name of HEAVY_DEFAULT_METRICS) this.registry.removeSingleMetric(`peercloud_${name}`);
    // Open descriptors (one per connection, set against the process's limit) are worth watching,
    // but prom-client reads /proc/self/fd synchronously: 10,000 entries held the loop about 0.1 s
    // per scrape. The same gauge, read off the event loop.
    if (this.registry.getSingleMetric('peercloud_process_open_fds')) {
      this.registry.removeSingleMetric('peercloud_process_open_fds');
      new Gauge({
        name: 'peercloud_process_open_fds',
        help: 'Number of open file descriptors.',
        registers: [this.registry],
        async collect() {
          // Minus the one the read itself opens.
          this.set((await readdir('/proc/self/fd').catch(() => [undefined])).length - 1);
        },
      });
    }
  }

  /** Every series carries `tracker` (known once listening): the trackers of one cloud scrape apart. */
  label(trackerId: string): void {
    this.registry.setDefaultLabels({ tracker: trackerId });
  }
}
