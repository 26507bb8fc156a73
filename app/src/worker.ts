/** One worker process: the Fastify app on the shared port, draining on request. */
import { Redis } from 'ioredis';
import client from 'prom-client';
import { build, type WorkerState } from './app.ts';
import { INVALIDATION_CHANNEL } from './cache.ts';
import { answerMetricsRequests, sendFinalMetrics } from './cluster-metrics.ts';
import type { AppConfig } from './config.ts';
import { connect } from './db.ts';
import { workerMetrics } from './metrics.ts';

export type PrimaryMessage = { type: 'drain' };
export type WorkerMessage = { type: 'recycle-me' };

/** Redis clients that fail fast: a down or hung Redis costs a bounded wait, never a hang. */
export function redisClient(url: string): Redis {
  const redis = new Redis(url, {
    commandTimeout: 500,
    connectTimeout: 1000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // Commands issued in the same tick by concurrent requests go out in one write.
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  redis.on('error', () => {
    // Reported through /readyz and metrics; reconnects by itself.
  });
  return redis;
}

export async function runWorker(config: AppConfig): Promise<void> {
  answerMetricsRequests();
  const metrics = workerMetrics();
  // CPU seconds and Node runtime metrics; summed over workers by the primary.
  client.collectDefaultMetrics();
  const sql = connect(config.databaseUrl, { max: config.databasePoolSize, statementTimeoutMs: config.statementTimeoutMs });
  const redis = redisClient(config.redisUrl);
  const subscriber = redisClient(config.redisUrl);
  const state: WorkerState = { draining: false, startedAt: Date.now() };
  const app = build({ config, sql, redis, metrics, state, logger: { level: config.logLevel } });

  subscriber.on('ready', () => void subscriber.subscribe(INVALIDATION_CHANNEL).catch(() => {}));
  subscriber.on('message', (_channel: string, tag: string) => {
    app.ctx.userCache.onInvalidation(tag);
    app.ctx.authCache.onInvalidation(tag);
  });

  // Recycling like gunicorn's max_requests + jitter: ask the primary to replace this worker.
  const limit = config.maxRequests > 0 ? config.maxRequests + Math.floor(Math.random() * (config.maxRequestsJitter + 1)) : 0;
  let served = 0;
  let asked = false;
  app.addHook('onResponse', async () => {
    served++;
    if (limit > 0 && served >= limit && !asked) {
      asked = true;
      process.send?.({ type: 'recycle-me' } satisfies WorkerMessage);
    }
  });

  let draining: Promise<void> | undefined;
  const drain = () =>
    (draining ??= (async () => {
      state.draining = true;
      // Stop accepting, answer in-flight requests with Connection: close, close idle keep-alive sockets.
      await app.close();
      await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit(), subscriber.quit()]);
      // Counted after the last response, so the primary's totals include every request served.
      await sendFinalMetrics().catch(() => {});
      process.exit(0);
    })());
  process.on('message', (msg: PrimaryMessage) => {
    if (msg?.type === 'drain') void drain();
  });
  // The primary orchestrates shutdown; a terminal's Ctrl-C reaches the whole group, so ignore it here.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void drain());

  await app.listen({ port: config.port, host: config.host });
}
