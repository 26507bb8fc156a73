/** The HTTP API as a `build(deps)` factory: routes, validation, errors, metrics hooks. */
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { TwoLayerCache } from './cache.ts';
import type { AppConfig } from './config.ts';
import { bounded, isConnectionError, type Sql } from './db.ts';
import { ApiError } from './errors.ts';
import { EventWriter } from './event-writer.ts';
import type { Metrics } from './metrics.ts';
import { RateLimiter } from './ratelimit.ts';
import { registerCompression } from './compression.ts';
import { collectRoutes, openApiDocument } from './openapi.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerUserRoutes } from './routes/users.ts';

export const VERSION = '0.1.0';

export interface WorkerState {
  /** Set when the worker stops taking work: readiness 503, `Connection: close` on every response. */
  draining: boolean;
  readonly startedAt: number;
}

export interface AppDeps {
  readonly config: AppConfig;
  readonly sql: Sql;
  /** Commands connection; undefined runs without Redis (L2 and shared limits off). */
  readonly redis: Redis | undefined;
  readonly metrics: Metrics;
  readonly state: WorkerState;
  readonly logger?: boolean | object;
}

export interface AppContext extends AppDeps {
  readonly userCache: TwoLayerCache;
  readonly authCache: TwoLayerCache;
  readonly limiter: RateLimiter;
  /** Runs queries on a pool connection, waiting for one at most DATABASE_ACQUIRE_TIMEOUT_MS; keeps the pool gauges current. */
  readonly query: <T>(work: (db: Sql) => PromiseLike<T>) => Promise<T>;
  /** Group-commit writer for POST /api/events. */
  readonly events: EventWriter;
}

export function build(deps: AppDeps): FastifyInstance & { ctx: AppContext } {
  const app = Fastify({
    logger: deps.logger ?? false,
    // One log line per request costs more than the request itself on the hot path; nginx logs requests.
    logController: new LogController({ disableRequestLogging: true }),
    // Forwarded headers are trusted only from a proxy on loopback or a private network.
    trustProxy: 'loopback, linklocal, uniquelocal',
    keepAliveTimeout: deps.config.keepAliveTimeoutSeconds * 1000,
    requestIdHeader: 'x-request-id',
    bodyLimit: 1024 * 1024,
    // No coercion: a number where a string belongs is a 400, not silently accepted.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  });
  app.server.headersTimeout = deps.config.headersTimeoutSeconds * 1000;
  let active = 0;
  const setPoolGauges = () => {
    deps.metrics.poolInUse.set(Math.min(active, deps.config.databasePoolSize));
    deps.metrics.poolWaiting.set(Math.max(0, active - deps.config.databasePoolSize));
  };
  const query: AppContext['query'] = (work) => {
    active++;
    setPoolGauges();
    return bounded(deps.sql, deps.config.databaseAcquireTimeoutMs, work).finally(() => {
      active--;
      setPoolGauges();
    });
  };
  const ctx: AppContext = {
    ...deps,
    userCache: new TwoLayerCache(deps.redis, deps.config.cacheTtlSeconds, deps.metrics),
    authCache: new TwoLayerCache(deps.redis, deps.config.authCacheTtlSeconds, deps.metrics),
    limiter: new RateLimiter(deps.redis, deps.config.rateLimitPerMinute),
    query,
    events: new EventWriter(deps.sql, query, { maxBatch: deps.config.eventBatchMax, maxInFlight: deps.config.eventBatchesInFlight }),
  };
  deps.metrics.poolMax.set(deps.config.databasePoolSize);
  const workerId = String(process.pid);

  app.addHook('onRequest', async () => {
    deps.metrics.inFlight.inc();
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-worker-id', workerId);
    if (deps.state.draining) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.inFlight.dec();
    deps.metrics.httpDuration.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | ApiError, req, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).headers(error.headers).send({ error: { code: error.code, message: error.message } });
    }
    const fe = error as FastifyError & { validation?: unknown; code?: string };
    if (fe.validation) return reply.code(400).send({ error: { code: 'VALIDATION_ERROR', message: fe.message } });
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than this route accepts' } });
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON with Content-Type: application/json' } });
    if (fe.statusCode === 400) return reply.code(400).send({ error: { code: 'INVALID_JSON', message: fe.message } });
    if (isConnectionError(error)) return reply.code(503).header('retry-after', '5').send({ error: { code: 'UNAVAILABLE', message: 'a backing service is unreachable; retry shortly' } });
    if ((fe.statusCode ?? 500) < 500) return reply.code(fe.statusCode!).send({ error: { code: fe.code ?? 'BAD_REQUEST', message: fe.message } });
    req.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } }));

  registerCompression(app);
  const routes = collectRoutes(app);
  registerHealthRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  let openapi: Record<string, unknown> | undefined;
  app.get('/api/openapi.json', async () => (openapi ??= openApiDocument(routes, VERSION)));
  return Object.assign(app, { ctx });
}
