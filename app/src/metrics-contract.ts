/**
 * The API's contract with everything outside app/: metric names, label names, routes,
 * ports and environment variables. The monitoring code imports this module (and only this
 * one from app/) so dashboards and alerts never drift from what the app exports.
 * Keep it free of imports.
 */

export const METRIC_PREFIX = 'apistack_';

export const METRICS = {
  /** Histogram, seconds; labels: method, route, status_code. */
  httpRequestDuration: 'apistack_http_request_duration_seconds',
  /** Gauge; requests being served now. */
  httpRequestsInFlight: 'apistack_http_requests_in_flight',
  /** Counter; labels: layer ("l1" | "l2"), result ("hit" | "miss"). */
  cacheRequests: 'apistack_cache_requests_total',
  /** Gauge; Postgres pool connections in use. */
  dbPoolConnectionsInUse: 'apistack_db_pool_connections_in_use',
  /** Gauge; requests waiting for a pool connection. */
  dbPoolConnectionsWaiting: 'apistack_db_pool_waiting',
  /** Gauge; pool size (max) per worker. */
  dbPoolConnectionsMax: 'apistack_db_pool_connections_max',
  /** Counter; requests rejected by the per-key rate limiter; label: mode ("redis" | "local"). */
  rateLimited: 'apistack_rate_limited_total',
  /** Counter; Idempotency-Key replays answered from the stored response. */
  idempotentReplays: 'apistack_idempotent_replays_total',
  /** Counter; events committed. */
  eventsAccepted: 'apistack_events_accepted_total',
  /** Counter; label: reason ("crash" | "recycle"). */
  workerRestarts: 'apistack_worker_restarts_total',
  /** Gauge; live workers in this replica. */
  workersAlive: 'apistack_workers_alive',
  /** Gauge, seconds; event-loop lag (p99 over the last interval), per worker label. */
  eventLoopLag: 'apistack_event_loop_lag_seconds',
  /** Gauge, bytes; heap used, per worker label. */
  heapUsedBytes: 'apistack_heap_used_bytes',
  /** Gauge, bytes; resident set size, per worker label. */
  residentMemoryBytes: 'apistack_resident_memory_bytes',
  /** Gauge; 1 when the worker is ready (Postgres reachable, not draining). */
  ready: 'apistack_ready',
  /** Counter, seconds; CPU time of the worker processes (prom-client default metric, summed over workers). */
  processCpuSeconds: 'process_cpu_seconds_total',
} as const;

export const LABELS = {
  method: 'method',
  route: 'route',
  statusCode: 'status_code',
  cacheLayer: 'layer',
  cacheResult: 'result',
  restartReason: 'reason',
  worker: 'worker',
  rateLimitMode: 'mode',
} as const;

/** Histogram buckets in seconds, shared so SLO thresholds fall on a bucket boundary. */
export const HTTP_DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const ROUTES = {
  status: '/api/status',
  liveness: '/healthz',
  readiness: '/readyz',
  metrics: '/metrics',
  openapi: '/api/openapi.json',
} as const;

export const DEFAULT_PORT = 8000;
export const DEFAULT_METRICS_PORT = 9464;

/** Environment variables the app reads; targets set these and nothing else. */
export const ENV = [
  'PORT',
  'HOST',
  'WEB_CONCURRENCY',
  'MAX_REQUESTS',
  'MAX_REQUESTS_JITTER',
  'GRACEFUL_TIMEOUT',
  'KEEPALIVE_TIMEOUT',
  'DRAIN_IDLE_TIMEOUT',
  'SHUTDOWN_DELAY',
  'DATABASE_URL',
  'DATABASE_PASSWORD',
  'DATABASE_POOL_SIZE',
  'DATABASE_ACQUIRE_TIMEOUT_MS',
  'STATEMENT_TIMEOUT_MS',
  'REDIS_URL',
  'REDIS_PASSWORD',
  'CACHE_TTL_SECONDS',
  'CACHE_WARMUP_KEYS',
  'AUTH_CACHE_TTL_SECONDS',
  'RATE_LIMIT_PER_MINUTE',
  'EVENT_BATCH_MAX',
  'EVENT_BATCHES_IN_FLIGHT',
  'ADMIN_TOKEN',
  'LOG_LEVEL',
  'METRICS_PORT',
] as const;
export type AppEnvName = (typeof ENV)[number];
