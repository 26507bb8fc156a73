/** The HTTP API as a `build(deps)` factory: routes, validation, errors, metrics hooks. */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { AUTH_CACHE_LOCAL, TwoLayerCache } from './cache.ts';
import type { AppConfig } from './config.ts';
import { bounded, isConnectionError, type Sql } from './db.ts';
import { checkUtf8Body, clientErrorHandler } from './edge-errors.ts';
import { ApiError, errors } from './errors.ts';
import { EventWriter, type QueryRunner } from './event-writer.ts';
import type { Metrics } from './metrics.ts';
import { RateLimiter } from './ratelimit.ts';
import compress, { type FastifyCompressOptions } from '@fastify/compress';
import { constants as zlibConstants } from 'node:zlib';
import { collectRoutes, openApiDocument } from './openapi.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerUserRoutes } from './routes/users.ts';

export const VERSION = '0.1.0';

/** Responses smaller than this are sent as they are: compressing a few hundred bytes costs more CPU than it saves. */
export const COMPRESS_MIN_BYTES = 1024;

/**
 * @fastify/compress: br, else gzip, above 1 KiB; small answers compressed in one call, larger
 * ones streamed through zlib's thread pool so the event loop keeps serving other requests.
 * Brotli at quality 4 (the plugin's default) with a 256 KiB window (lgwin 18) instead of 4 MiB:
 * API answers are far smaller than either, and allocating a 4 MiB window per response was most
 * of the cost (npm run bench:compression). Request bodies are not decompressed: no client sends them.
 */
export const COMPRESSION_OPTIONS = {
  encodings: ['br', 'gzip'],
  threshold: COMPRESS_MIN_BYTES,
  globalDecompression: false,
  brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4, [zlibConstants.BROTLI_PARAM_LGWIN]: 18 } },
} satisfies FastifyCompressOptions;

/**
 * How deep a JSON body may nest objects and arrays. A payload nested thousands of levels deep
 * parses, but overflows the stack of whatever walks it recursively later (serialisers, the
 * driver, Postgres' jsonb input): it is refused as it arrives, before anything else sees it.
 */
export const MAX_JSON_DEPTH = 64;

/** Deepest nesting of `{` and `[` outside strings, stopping as soon as it passes `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

export interface WorkerState {
  /** Set when the worker stops taking work: readiness 503, `Connection: close` on every response. */
  draining: boolean;
  /** Set when the replica is about to stop: readiness 503 so balancers take it out, serving as usual meanwhile. */
  leaving?: boolean;
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
  /** Called once per answered request (the worker counts them for recycling). */
  readonly onResponse?: () => void;
}

export interface AppContext extends AppDeps {
  readonly userCache: TwoLayerCache;
  readonly authCache: TwoLayerCache;
  readonly limiter: RateLimiter;
  /** Runs queries on a pool connection, waiting for one at most DATABASE_ACQUIRE_TIMEOUT_MS; keeps the pool gauges current. */
  readonly query: QueryRunner;
  /** Group-commit writer for POST /api/events. */
  readonly events: EventWriter;
}

/** Every error the API answers, in one shape: {"error": {"code", "message"}}, never a stack trace. */
/** The catalogue entry (app/src/errors.ts) an error thrown or raised anywhere answers with; undefined: a bug. */
function apiErrorFor(error: FastifyError | ApiError): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const fe = error as FastifyError & { validation?: unknown; code?: string };
  if (fe.validation) return errors.validation(fe.message);
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return errors.payloadTooLarge();
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return errors.unsupportedMediaType();
  if (fe.code === 'FST_ERR_BAD_URL' || fe.code === 'FST_ERR_INVALID_URL') return errors.badUrl(fe.message);
  if (fe.statusCode === 400) return errors.invalidJson(fe.message);
  if (isConnectionError(error)) return errors.backingServiceUnreachable();
  // Postgres data exceptions (a NUL character in text, a number out of range): the input's fault.
  if (/^22[0-9A-Z]{3}$/.test(fe.code ?? '') && 'severity' in fe) return errors.unstorableValue(fe.message);
  if ((fe.statusCode ?? 500) < 500) return errors.clientError(fe.statusCode!, fe.code, fe.message);
  return undefined;
}

function handleError(error: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply) {
  let answer = apiErrorFor(error);
  if (!answer) {
    req.log.error({ err: error }, 'unhandled error');
    answer = errors.internal();
  }
  return reply.code(answer.statusCode).headers(answer.headers).send({ error: { code: answer.code, message: answer.message } });
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
    // Errors Fastify raises before routing (a malformed URL, say) get the same JSON shape.
    frameworkErrors: (error, req, reply) => handleError(error, req, reply),
    // Requests Node's parser rejects (431, an unknown method, raw bytes in the path) too.
    clientErrorHandler,
    // A request that arrives on a kept-alive socket while the worker drains is served (with
    // Connection: close), not refused with Fastify's own 503.
    return503OnClosing: false,
    bodyLimit: 1024 * 1024,
    // No coercion: a number where a string belongs is a 400, not silently accepted.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  });
  app.server.headersTimeout = deps.config.headersTimeoutSeconds * 1000;
  // Fastify's own JSON parser (prototype-poisoning checks included), behind a depth check.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) return done(errors.tooDeep(MAX_JSON_DEPTH), undefined);
    parseJson(req, body as string, done);
  });
  let active = 0;
  const setPoolGauges = () => {
    deps.metrics.poolInUse.set(Math.min(active, deps.config.databasePoolSize));
    deps.metrics.poolWaiting.set(Math.max(0, active - deps.config.databasePoolSize));
  };
  const limits = { acquireMs: deps.config.databaseAcquireTimeoutMs, deadlineMs: deps.config.databaseQueryDeadlineMs };
  const query: AppContext['query'] = (work) => {
    active++;
    setPoolGauges();
    return bounded(deps.sql, limits, work).finally(() => {
      active--;
      setPoolGauges();
    });
  };
  const ctx: AppContext = {
    ...deps,
    userCache: new TwoLayerCache(deps.redis, deps.config.cacheTtlSeconds, deps.metrics),
    authCache: new TwoLayerCache(deps.redis, deps.config.authCacheTtlSeconds, deps.metrics, AUTH_CACHE_LOCAL),
    limiter: new RateLimiter(deps.redis, deps.config.rateLimitPerMinute),
    query,
    events: new EventWriter(deps.sql, query, {
      maxBatch: deps.config.eventBatchMax,
      maxInFlight: deps.config.eventBatchesInFlight,
      // A batch runs one bounded query: past its pool wait and deadline (plus a margin) it is stuck.
      batchDeadlineMs: limits.acquireMs + limits.deadlineMs + 1000,
      queueWaitMs: limits.acquireMs,
    }),
  };
  deps.metrics.poolMax.set(deps.config.databasePoolSize);
  const workerId = String(process.pid);
  const { inFlight, httpDuration } = deps.metrics;

  // The per-request path is a few sync hooks and no allocations beyond Fastify's own: at tens of
  // thousands of requests a second per worker, every hook and label hash is measurable.
  app.addHook('onRequest', (_req, reply, done) => {
    inFlight.add(reply.raw);
    reply.header('x-worker-id', workerId);
    // Draining: the client closes this connection after the answer (the drain in worker.ts).
    if (deps.state.draining) reply.header('connection', 'close');
    done();
  });
  /** A request is answered: out of the in-flight set, its duration recorded, counted for recycling. */
  const answered = (record: ReturnType<typeof httpDuration.route>, req: FastifyRequest, reply: FastifyReply, statusCode: number) => {
    inFlight.delete(reply.raw);
    record(req.method, statusCode, reply.elapsedTime / 1000);
    deps.onResponse?.();
  };
  // Each route gets its own duration recorder, so a response records without hashing labels.
  app.addHook('onRoute', (route) => {
    const record = httpDuration.route(route.url ?? route.path ?? 'unmatched');
    const onResponse = (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
      answered(record, req, reply, reply.statusCode);
      done();
    };
    route.onResponse = [...(Array.isArray(route.onResponse) ? route.onResponse : route.onResponse ? [route.onResponse] : []), onResponse];
  });
  const recordUnmatched = httpDuration.route('unmatched');

  app.setErrorHandler(handleError);
  app.addHook('preParsing', checkUtf8Body);
  app.setNotFoundHandler((req, reply) => {
    answered(recordUnmatched, req, reply, 404);
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  // Registered before the routes so its onRoute hook sees them. Hot routes whose answers are
  // always tiny opt out (`compress: false`): the per-response check is work they never need.
  void app.register(compress, COMPRESSION_OPTIONS);
  const routes = collectRoutes(app);
  void app.register(async (api) => {
    registerHealthRoutes(api, ctx);
    registerUserRoutes(api, ctx);
    registerEventRoutes(api, ctx);
    let openapi: Record<string, unknown> | undefined;
    api.get('/api/openapi.json', async () => (openapi ??= openApiDocument(routes, VERSION)));
  });
  return Object.assign(app, { ctx });
}
