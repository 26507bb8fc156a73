/** One worker process: the Fastify app on the shared port, draining on request. */
import type { Server as HttpServer } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import client from 'prom-client';
import type { FastifyBaseLogger } from 'fastify';
import { build, type WorkerState } from './app.ts';
import { INVALIDATION_CHANNEL, type TwoLayerCache } from './cache.ts';
import { answerMetricsRequests, type MetricJson } from './cluster-metrics.ts';
import type { AppConfig } from './config.ts';
import { connect, type Sql } from './db.ts';
import { workerMetrics } from './metrics.ts';
import { withTimeout } from './timeout.ts';
import { publishHotKeys, warmUserCache } from './warmup.ts';

/** Warm-up never holds a start back longer than this. */
const WARMUP_TIMEOUT_MS = 2000;
/** How often a worker records its hot keys for the workers that start after it. */
const HOT_KEYS_PUBLISH_INTERVAL_MS = 15_000;

export type PrimaryMessage = { type: 'drain' } | { type: 'listeners-closed' } | { type: 'exit' } | { type: 'leaving' };
export type WorkerMessage = { type: 'accepting-messages' } | { type: 'recycle-me' } | { type: 'stopped-listening' } | { type: 'drained'; metrics: MetricJson[] };

/** How long a draining worker waits for the primary to confirm the listeners are closed. */
const LISTENERS_CLOSED_TIMEOUT_MS = 2000;
/** How long a drained worker waits for the primary's go-ahead before exiting anyway. */
const EXIT_ACK_TIMEOUT_MS = 2000;

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
  // Recycling like gunicorn's max_requests + jitter: ask the primary to replace this worker.
  const limit = config.maxRequests > 0 ? config.maxRequests + Math.floor(Math.random() * (config.maxRequestsJitter + 1)) : 0;
  let served = 0;
  const onResponse =
    limit > 0
      ? () => {
          if (++served === limit) process.send?.({ type: 'recycle-me' } satisfies WorkerMessage);
        }
      : undefined;
  const app = build({ config, sql, redis, metrics, state, logger: { level: config.logLevel }, ...(onResponse ? { onResponse } : {}) });

  // In-process caches only while invalidations can reach this worker (see TwoLayerCache.setLocalLayer).
  const caches = [app.ctx.userCache, app.ctx.authCache];
  const setLocalLayers = (enabled: boolean) => caches.forEach((c) => c.setLocalLayer(enabled));
  setLocalLayers(false);
  let subscribedOnce: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => (subscribedOnce = resolve));
  subscriber.on('ready', () => {
    void subscriber
      .subscribe(INVALIDATION_CHANNEL)
      .then(() => {
        setLocalLayers(true);
        subscribedOnce();
      })
      .catch(() => {});
  });
  subscriber.on('close', () => setLocalLayers(false));
  subscriber.on('message', (_channel: string, tag: string) => caches.forEach((c) => c.onInvalidation(tag)));

  let publishing: NodeJS.Timeout | undefined;
  const primary = new PrimaryLink();
  const connections = new OpenConnections(app.server);
  let draining: Promise<void> | undefined;
  const drain = () =>
    (draining ??= (async () => {
      clearInterval(publishing);
      await stopListening(app.server, primary);
      closeEveryConnectionAfterItsAnswer(state, metrics);
      await connections.closedByClients(config.drainIdleTimeoutSeconds * 1000);
      await closeWhatIsLeft(app, connections, config.gracefulTimeoutSeconds * 1000);
      // What this worker found hot is what its replacement should start with.
      if (config.cacheWarmupKeys > 0) await publishHotKeys(redis, app.ctx.userCache, config.cacheWarmupKeys).catch(() => {});
      await Promise.allSettled([sql.end({ timeout: 5 }), redis.quit(), subscriber.quit()]);
      await primary.handOverAndExit();
    })());
  process.on('message', (msg: PrimaryMessage) => {
    if (msg?.type === 'drain') void drain();
    else if (msg?.type === 'leaving') state.leaving = true;
    else primary.onMessage(msg);
  });
  // Until now the primary held its messages: one sent while the bundle loaded would have been lost.
  process.send?.({ type: 'accepting-messages' } satisfies WorkerMessage);
  // The primary orchestrates shutdown; a terminal's Ctrl-C reaches the whole group, so ignore it here.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void drain());

  // Serve with L1 from the start when Redis is there; without it, start anyway (Postgres serves).
  await withTimeout(subscribed, WARMUP_TIMEOUT_MS, 'invalidation subscription').catch(() => {});
  if (config.cacheWarmupKeys > 0) {
    // Before listening: the primary counts this worker as started only once it serves warm.
    await warmUp(app.ctx.userCache, config.cacheWarmupKeys, redis, sql, app.log);
    if (draining) return;
    publishing = setInterval(() => void publishHotKeys(redis, app.ctx.userCache, config.cacheWarmupKeys).catch(() => {}), HOT_KEYS_PUBLISH_INTERVAL_MS);
    publishing.unref();
  }
  // Told to drain while starting: never listen.
  if (draining) return;
  await app.listen({ port: config.port, host: config.host });
  if (draining) NetServer.prototype.close.call(app.server);
}

/*
 * Draining without resetting a connection a request may be travelling on.
 *
 * Only the client can close an idle HTTP/1.1 keep-alive connection safely: nginx (or any client)
 * may pick an idle connection and send a request on it at any moment, and if the server closes it
 * at that moment the request meets a reset or an EOF. nginx then answers 502 (a POST it already
 * sent is never retried) or retries elsewhere, and in both cases counts a failure against the
 * whole replica (max_fails), so a few recycles could take every replica out. Node's
 * http.Server.close() (and so Fastify's close) destroys idle kept-alive sockets at once
 * (Node >= 19), which is exactly that race. So a draining worker takes the four steps below, in
 * order, and then hands over to the primary before it exits.
 */

/**
 * Step 1: close only the listener, so node:cluster stops handing this worker connections, and
 * wait until every worker the primary is draining has done so.
 *
 * A connection handed over while the listener closes is handed back to another worker (see
 * PrimaryLink.handOverAndExit); when this was the replica's last worker, node:cluster has no one
 * to hand it to and the client sees it closed: a small window, which is why the balancer should
 * stop choosing a replica before it is signalled (docs/holding-load.md: the drain order). When a
 * whole replica stops, its port then refuses connections, so a client reconnecting after step 2
 * is refused (nginx retries it on another replica, even a POST: it was never sent) rather than
 * accepted and then reset when the port closes.
 */
async function stopListening(server: HttpServer, primary: PrimaryLink): Promise<void> {
  // net.Server's close, not http.Server's: stop accepting without destroying idle sockets.
  if (server.listening) NetServer.prototype.close.call(server);
  await primary.listenersClosed();
}

/**
 * Step 2: answer every request that still reaches this worker with `Connection: close`, the
 * in-flight ones included, so the client closes each connection after its answer.
 */
function closeEveryConnectionAfterItsAnswer(state: WorkerState, metrics: ReturnType<typeof workerMetrics>): void {
  state.draining = true;
  for (const res of metrics.inFlight.pending()) if (!res.headersSent) res.setHeader('connection', 'close');
}

// Step 3 is OpenConnections.closedByClients: wait up to the drain idle timeout for the clients to
// close their idle connections (nginx closes idle upstream connections after its
// keepalive_timeout, which the profile keeps below that timeout).

/**
 * Step 4: only then close what is still idle (a client that keeps connections longer than nginx
 * does), wait for the requests still running, and close the app. The primary kills the worker at
 * the graceful timeout if that takes longer.
 */
async function closeWhatIsLeft(app: { server: HttpServer; close: () => PromiseLike<unknown> }, connections: OpenConnections, gracefulTimeoutMs: number): Promise<void> {
  app.server.closeIdleConnections();
  await connections.closedByClients(gracefulTimeoutMs);
  await app.close();
}

/** Every open connection of the server, so a drain can wait until the clients have closed theirs. */
class OpenConnections {
  private readonly open = new Set<Socket>();
  private allClosed: (() => void) | undefined;

  constructor(server: HttpServer) {
    server.on('connection', (socket: Socket) => {
      this.open.add(socket);
      socket.once('close', () => {
        this.open.delete(socket);
        if (this.open.size === 0) this.allClosed?.();
      });
    });
  }

  /** Resolves once no connection is open, or after `ms`. */
  closedByClients(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.open.size === 0) return resolve();
      const timer = setTimeout(resolve, ms);
      this.allClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The worker's side of the drain conversation with the primary; every wait is bounded. */
class PrimaryLink {
  private listenersClosedAck: (() => void) | undefined;
  private exitAllowed: (() => void) | undefined;

  onMessage(msg: PrimaryMessage): void {
    if (msg?.type === 'listeners-closed') this.listenersClosedAck?.();
    else if (msg?.type === 'exit') this.exitAllowed?.();
  }

  /** Step 1's wait: the primary's word that no draining worker listens any more. */
  listenersClosed(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!process.send) return resolve();
      this.listenersClosedAck = resolve;
      setTimeout(resolve, LISTENERS_CLOSED_TIMEOUT_MS).unref();
      process.send({ type: 'stopped-listening' } satisfies WorkerMessage);
    });
  }

  /**
   * Node's cluster can hand this worker a connection after its listener closed, until the primary
   * has read the close; the worker must be alive to hand it back, or the connection hangs in the
   * primary. So the worker reports "drained" (with its final totals, counted after the last
   * response) and exits only when the primary answers: by then the primary has read the close, and
   * any connection it sent before its answer has already been handed back.
   */
  async handOverAndExit(): Promise<never> {
    const metrics = await client.register.getMetricsAsJSON().catch(() => []);
    await new Promise<void>((resolve) => {
      this.exitAllowed = resolve;
      setTimeout(resolve, EXIT_ACK_TIMEOUT_MS).unref();
      if (!process.send) return resolve();
      // The callback, not the return value: false can also mean "queued", and exiting then would drop it.
      process.send({ type: 'drained', metrics } satisfies WorkerMessage, undefined, {}, (err) => {
        if (err) resolve();
      });
    });
    process.exit(0);
  }
}

/** Bounded: Redis or Postgres trouble means a cold start, never a worker that does not start. */
async function warmUp(cache: TwoLayerCache, count: number, redis: Redis, sql: Sql, log: FastifyBaseLogger): Promise<void> {
  const started = Date.now();
  try {
    const ready = redis.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    const result = await withTimeout(
      ready.then(() => warmUserCache(redis, sql, cache, count)),
      WARMUP_TIMEOUT_MS,
      'cache warm-up',
    );
    log.info({ ...result, ms: Date.now() - started }, 'cache warmed');
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cache warm-up skipped');
  }
}
