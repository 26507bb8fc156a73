/**
 * The API's environment for a profile: every target (Kubernetes ConfigMap, ECS task, local
 * processes) sets exactly these, so the app behaves the same everywhere.
 */
import type { ResolvedProfile } from './load.ts';
import { PORTS } from './workloads.ts';

/** Settings that are not secrets; connection strings and tokens are added by each target from its own secret store. */
export function appEnvironment(p: ResolvedProfile, overrides: { host?: string; port?: number; metricsPort?: number } = {}): Record<string, string> {
  return {
    HOST: overrides.host ?? '0.0.0.0',
    PORT: String(overrides.port ?? PORTS.api),
    METRICS_PORT: String(overrides.metricsPort ?? PORTS.apiMetrics),
    WEB_CONCURRENCY: String(p.derived.api.workersPerReplica),
    MAX_REQUESTS: String(p.api.maxRequestsPerWorker),
    MAX_REQUESTS_JITTER: String(p.api.maxRequestsJitter),
    GRACEFUL_TIMEOUT: String(p.api.gracefulTimeoutSeconds),
    KEEPALIVE_TIMEOUT: String(p.api.keepAliveTimeoutSeconds),
    DRAIN_IDLE_TIMEOUT: String(p.derived.api.drainIdleTimeoutSeconds),
    DATABASE_POOL_SIZE: String(p.api.dbPoolSizePerWorker),
    DATABASE_ACQUIRE_TIMEOUT_MS: String(p.derived.api.dbAcquireTimeoutMs),
    STATEMENT_TIMEOUT_MS: String(p.derived.api.statementTimeoutMs),
    DATABASE_QUERY_DEADLINE_MS: String(p.derived.api.dbQueryDeadlineMs),
    CACHE_TTL_SECONDS: String(p.api.cacheTtlSeconds),
    CACHE_WARMUP_KEYS: String(p.api.cacheWarmupKeys ?? 0),
    AUTH_CACHE_TTL_SECONDS: String(p.api.authCacheTtlSeconds),
    RATE_LIMIT_PER_MINUTE: String(p.api.rateLimitPerMinute),
    LOG_LEVEL: p.api.logLevel,
  };
}

/**
 * Secret settings each target supplies: Kubernetes from Secrets, AWS from Secrets Manager. The
 * URLs themselves are not secret: the app puts the passwords into them (app/src/config.ts).
 */
export const APP_SECRET_ENV = ['DATABASE_PASSWORD', 'REDIS_PASSWORD', 'ADMIN_TOKEN'] as const;
