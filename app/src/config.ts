/** Environment configuration: validated once at start, every problem listed, then frozen. */
import { availableParallelism } from 'node:os';

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly webConcurrency: number;
  readonly maxRequests: number;
  readonly maxRequestsJitter: number;
  readonly gracefulTimeoutSeconds: number;
  readonly keepAliveTimeoutSeconds: number;
  readonly headersTimeoutSeconds: number;
  /**
   * How long a draining worker waits for clients to close their idle kept-alive connections
   * before it closes the rest itself (worker.ts explains why it waits).
   */
  readonly drainIdleTimeoutSeconds: number;
  /** Seconds between SIGTERM and the drain, answering readiness 503 meanwhile (for platforms without a preStop hook). */
  readonly shutdownDelaySeconds: number;
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  /** How long a request waits for a pool connection before 503. */
  readonly databaseAcquireTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /**
   * Client side: how long a query may take once it has a connection before 503. Above the
   * statement timeout, so it fires only when the server does not answer at all (stopped, or
   * packets dropped), where statement_timeout cannot.
   */
  readonly databaseQueryDeadlineMs: number;
  readonly redisUrl: string;
  readonly cacheTtlSeconds: number;
  /** Hot user entries a starting worker loads into L1 before listening; 0 turns warm-up off. */
  readonly cacheWarmupKeys: number;
  readonly authCacheTtlSeconds: number;
  readonly rateLimitPerMinute: number;
  /** Group commit for POST /api/events: rows per statement, and statements in flight per worker. */
  readonly eventBatchMax: number;
  readonly eventBatchesInFlight: number;
  readonly adminToken: string;
  readonly logLevel: string;
  readonly metricsPort: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** What a drain needs besides the idle wait (closing the listeners, the last requests, exiting). */
export const DRAIN_MARGIN_SECONDS = 5;

/** What a query's deadline keeps over the statement timeout: the server's cancel and its answer travelling back. */
export const QUERY_DEADLINE_MARGIN_MS = 1000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: NodeJS.ProcessEnv, opts: { requireServing?: boolean } = {}): AppConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (fallback === undefined) problems.push(`${name} is required (a whole number from ${min} to ${max})`);
      return fallback ?? min;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
      return fallback ?? min;
    }
    return n;
  };
  // A platform's secret store hands out one field of a secret (the password), not a URL with the
  // password inside: the URL then carries only host, user and database, and passwordName adds it.
  const url = (name: string, protocols: string[], passwordName: string): string => {
    const raw = env[name];
    if (!raw) {
      problems.push(`${name} is required (${protocols.map((p) => `${p}//...`).join(' or ')})`);
      return '';
    }
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) problems.push(`${name} must start with ${protocols.join(' or ')}, got ${u.protocol}`);
      const password = env[passwordName];
      if (password) {
        u.password = encodeURIComponent(password);
        return u.toString();
      }
    } catch {
      // Never echo the value: it may hold a password.
      problems.push(`${name} is not a URL`);
    }
    return raw;
  };
  const keepAlive = int('KEEPALIVE_TIMEOUT', 65, 1, 3600);
  const poolSize = int('DATABASE_POOL_SIZE', 5, 1, 1000);
  const graceful = int('GRACEFUL_TIMEOUT', 30, 1, 3600);
  const statementTimeout = int('STATEMENT_TIMEOUT_MS', 5000, 1, 600_000);
  const config: AppConfig = {
    port: int('PORT', 8000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    webConcurrency: int('WEB_CONCURRENCY', Math.max(1, availableParallelism()), 1, 256),
    maxRequests: int('MAX_REQUESTS', 0, 0),
    maxRequestsJitter: int('MAX_REQUESTS_JITTER', 0, 0),
    gracefulTimeoutSeconds: graceful,
    keepAliveTimeoutSeconds: keepAlive,
    headersTimeoutSeconds: keepAlive + 5,
    // nginx's upstream keepalive_timeout (10 s by default) plus a margin, well within the graceful timeout.
    drainIdleTimeoutSeconds: int('DRAIN_IDLE_TIMEOUT', Math.max(0, Math.min(15, graceful - DRAIN_MARGIN_SECONDS)), 0, 3600),
    shutdownDelaySeconds: int('SHUTDOWN_DELAY', 0, 0, 3600),
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:'], 'DATABASE_PASSWORD'),
    databasePoolSize: poolSize,
    databaseAcquireTimeoutMs: int('DATABASE_ACQUIRE_TIMEOUT_MS', 2000, 1, 600_000),
    statementTimeoutMs: statementTimeout,
    databaseQueryDeadlineMs: int('DATABASE_QUERY_DEADLINE_MS', statementTimeout + QUERY_DEADLINE_MARGIN_MS, 1, 600_000),
    redisUrl: opts.requireServing === false ? env.REDIS_URL ?? '' : url('REDIS_URL', ['redis:', 'rediss:'], 'REDIS_PASSWORD'),
    cacheTtlSeconds: int('CACHE_TTL_SECONDS', 60, 1),
    cacheWarmupKeys: int('CACHE_WARMUP_KEYS', 0, 0, 100_000),
    authCacheTtlSeconds: int('AUTH_CACHE_TTL_SECONDS', 300, 1),
    rateLimitPerMinute: int('RATE_LIMIT_PER_MINUTE', 6000, 1),
    eventBatchMax: int('EVENT_BATCH_MAX', 200, 1, 10_000),
    // One batch in flight per worker measured best on 2 cores: fewer, bigger statements.
    eventBatchesInFlight: int('EVENT_BATCHES_IN_FLIGHT', 1, 1, 1000),
    adminToken: env.ADMIN_TOKEN ?? '',
    logLevel: env.LOG_LEVEL || 'info',
    metricsPort: int('METRICS_PORT', 9464, 0, 65535),
  };
  if (config.drainIdleTimeoutSeconds > 0 && config.drainIdleTimeoutSeconds + DRAIN_MARGIN_SECONDS > config.gracefulTimeoutSeconds) {
    problems.push(
      `DRAIN_IDLE_TIMEOUT=${config.drainIdleTimeoutSeconds} must be at least ${DRAIN_MARGIN_SECONDS} s below GRACEFUL_TIMEOUT=${config.gracefulTimeoutSeconds}: a draining worker is killed at the graceful timeout, and needs the margin to close what is left and exit`,
    );
  }
  if (config.databaseQueryDeadlineMs <= config.statementTimeoutMs) {
    problems.push(
      `DATABASE_QUERY_DEADLINE_MS=${config.databaseQueryDeadlineMs} must be above STATEMENT_TIMEOUT_MS=${config.statementTimeoutMs}, or a slow statement is abandoned (and its connection discarded) before Postgres cancels it; use ${config.statementTimeoutMs + QUERY_DEADLINE_MARGIN_MS}`,
    );
  }
  if (opts.requireServing !== false && config.adminToken.length < 16) problems.push('ADMIN_TOKEN is required: at least 16 characters');
  if (config.eventBatchesInFlight > config.databasePoolSize) problems.push(`EVENT_BATCHES_IN_FLIGHT=${config.eventBatchesInFlight} must not exceed DATABASE_POOL_SIZE=${config.databasePoolSize}, or event batches would wait for pool connections instead of growing`);
  if (!LOG_LEVELS.includes(config.logLevel)) problems.push(`LOG_LEVEL=${JSON.stringify(config.logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(config);
}
