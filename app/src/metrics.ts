/**
 * Prometheus metrics. Workers record into prom-client's default registry; the primary
 * aggregates every worker's registry over the cluster IPC (cluster-metrics.ts) and adds its own
 * (worker restarts, live workers), served on METRICS_PORT, never on the public port.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';
import { HTTP_DURATION_BUCKETS_SECONDS, LABELS, METRICS } from './metrics-contract.ts';

export interface Metrics {
  readonly httpDuration: client.Histogram<string>;
  readonly inFlight: client.Gauge<string>;
  readonly cache: client.Counter<string>;
  readonly poolInUse: client.Gauge<string>;
  readonly poolWaiting: client.Gauge<string>;
  readonly poolMax: client.Gauge<string>;
  readonly rateLimited: client.Counter<string>;
  readonly idempotentReplays: client.Counter<string>;
  readonly eventsAccepted: client.Counter<string>;
  readonly ready: client.Gauge<string>;
}

export function workerMetrics(registry: client.Registry = client.register, workerId = String(process.pid)): Metrics {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const worker = { [LABELS.worker]: workerId };
  new client.Gauge({
    name: METRICS.eventLoopLag,
    help: 'Event-loop delay p99 over the last scrape interval, seconds',
    labelNames: [LABELS.worker],
    registers: [registry],
    collect() {
      this.set(worker, lag.percentile(99) / 1e9);
      lag.reset();
    },
  });
  new client.Gauge({
    name: METRICS.heapUsedBytes,
    help: 'V8 heap used, bytes',
    labelNames: [LABELS.worker],
    registers: [registry],
    collect() {
      this.set(worker, process.memoryUsage().heapUsed);
    },
  });
  new client.Gauge({
    name: METRICS.residentMemoryBytes,
    help: 'Resident set size, bytes',
    labelNames: [LABELS.worker],
    registers: [registry],
    collect() {
      this.set(worker, process.memoryUsage.rss());
    },
  });
  return {
    httpDuration: new client.Histogram({
      name: METRICS.httpRequestDuration,
      help: 'HTTP request duration by route and status, seconds',
      labelNames: [LABELS.method, LABELS.route, LABELS.statusCode],
      buckets: [...HTTP_DURATION_BUCKETS_SECONDS],
      registers: [registry],
    }),
    inFlight: new client.Gauge({ name: METRICS.httpRequestsInFlight, help: 'Requests being served', registers: [registry] }),
    cache: new client.Counter({ name: METRICS.cacheRequests, help: 'Cache lookups by layer and result', labelNames: [LABELS.cacheLayer, LABELS.cacheResult], registers: [registry] }),
    poolInUse: new client.Gauge({ name: METRICS.dbPoolConnectionsInUse, help: 'Postgres pool connections in use', registers: [registry] }),
    poolWaiting: new client.Gauge({ name: METRICS.dbPoolConnectionsWaiting, help: 'Queries waiting for a pool connection', registers: [registry] }),
    poolMax: new client.Gauge({ name: METRICS.dbPoolConnectionsMax, help: 'Pool size', registers: [registry] }),
    rateLimited: new client.Counter({ name: METRICS.rateLimited, help: 'Requests refused by the per-key rate limit', labelNames: [LABELS.rateLimitMode], registers: [registry] }),
    idempotentReplays: new client.Counter({ name: METRICS.idempotentReplays, help: 'Idempotency-Key replays answered from the stored result', registers: [registry] }),
    eventsAccepted: new client.Counter({ name: METRICS.eventsAccepted, help: 'Events committed', registers: [registry] }),
    ready: new client.Gauge({ name: METRICS.ready, help: '1 when the worker is ready', labelNames: [LABELS.worker], registers: [registry] }),
  };
}

export interface PrimaryMetrics {
  readonly registry: client.Registry;
  readonly restarts: client.Counter<string>;
  readonly alive: client.Gauge<string>;
}

export function primaryMetrics(): PrimaryMetrics {
  const registry = new client.Registry();
  return {
    registry,
    restarts: new client.Counter({ name: METRICS.workerRestarts, help: 'Worker replacements by reason', labelNames: [LABELS.restartReason], registers: [registry] }),
    alive: new client.Gauge({ name: METRICS.workersAlive, help: 'Workers that are listening (started, not yet exited)', registers: [registry] }),
  };
}
