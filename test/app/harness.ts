/** Builds the API in-process against real Postgres and Redis (for app.inject tests). */
import client from 'prom-client';
import { build, type WorkerState } from '../../app/src/app.ts';
import { loadConfig } from '../../app/src/config.ts';
import { connect, migrate, type Sql } from '../../app/src/db.ts';
import { workerMetrics } from '../../app/src/metrics.ts';
import { redisClient } from '../../app/src/worker.ts';
import { INVALIDATION_CHANNEL } from '../../app/src/cache.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function testEnv(databaseUrl: string, redisUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Test clients (fetch) keep idle connections for a minute: not waiting for them keeps shutdowns quick.
  return { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, ADMIN_TOKEN, LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '4', DRAIN_IDLE_TIMEOUT: '0', ...extra };
}

export async function migrated(databaseUrl: string): Promise<void> {
  const sql = connect(databaseUrl, { max: 1, statementTimeoutMs: 60_000 });
  await migrate(sql);
  await sql.end();
}

/** One in-process "worker": its own registry, pool, Redis clients and invalidation subscriber. */
export async function buildApp(databaseUrl: string, redisUrl: string, extra: Record<string, string> = {}) {
  const config = loadConfig(testEnv(databaseUrl, redisUrl, extra));
  const registry = new client.Registry();
  const metrics = workerMetrics(registry, `test-${Math.random()}`);
  const sql: Sql = connect(config.databaseUrl, { max: config.databasePoolSize, statementTimeoutMs: config.statementTimeoutMs });
  const redis = redisClient(config.redisUrl);
  const subscriber = redisClient(config.redisUrl);
  const state: WorkerState = { draining: false, startedAt: Date.now() };
  const app = build({ config, sql, redis, metrics, state });
  await Promise.all([redis, subscriber].map((c) => (c.status === 'ready' ? undefined : new Promise((r) => c.once('ready', r)))));
  await subscriber.subscribe(INVALIDATION_CHANNEL);
  subscriber.on('message', (_c: string, tag: string) => {
    app.ctx.userCache.onInvalidation(tag);
    app.ctx.authCache.onInvalidation(tag);
  });
  await app.ready();
  return {
    app,
    registry,
    state,
    sql,
    redis,
    close: async () => {
      await app.close();
      await Promise.allSettled([sql.end({ timeout: 1 }), redis.quit(), subscriber.quit()]);
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
