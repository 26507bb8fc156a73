import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.ts';
import { VERSION } from '../app.ts';
import { withTimeout } from '../timeout.ts';

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  // The hot path: a fixed shape with a response schema, so Fastify serializes it without JSON.stringify.
  app.get('/api/status', {
    // Always a few dozen bytes: no compression check per response.
    compress: false,
    schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeSeconds: { type: 'number' } } } } },
    handler: async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return { status: 'ok', version: VERSION, uptimeSeconds: Math.round((Date.now() - ctx.state.startedAt) / 1000) };
    },
  });

  // Liveness: the process answers; touches neither Postgres nor Redis.
  app.get('/healthz', { compress: false }, async () => ({ status: 'ok' }));

  app.get('/readyz', { compress: false }, async (_req, reply) => {
    let postgres = 'ok';
    try {
      // Straight to the pool, not through the bounded reservation: a busy pool is not an unready
      // worker, and taking it out of rotation under load would only push the load elsewhere.
      await withTimeout(ctx.sql`SELECT 1`.execute(), 1000, 'Postgres readiness check');
    } catch {
      postgres = 'unreachable';
    }
    let redis = ctx.redis ? 'ok' : 'disabled';
    if (ctx.redis) {
      try {
        await withTimeout(ctx.redis.ping(), 500, 'Redis ping');
      } catch {
        redis = 'unreachable';
      }
    }
    const ready = postgres === 'ok' && !ctx.state.draining && !ctx.state.leaving;
    ctx.metrics.ready.set({ worker: String(process.pid) }, ready ? 1 : 0);
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', postgres, redis, draining: ctx.state.draining };
  });
}
