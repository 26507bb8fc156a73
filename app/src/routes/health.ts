import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.ts';
import { VERSION } from '../app.ts';
import { withTimeout } from '../timeout.ts';
import { MIGRATIONS } from '../db.ts';

/**
 * The schema this build needs: the newest migration it carries. A pod of a new image is not ready
 * until the migrations Job has applied it, so a rollout never serves code ahead of its schema; a
 * newer schema (a rollback, or migrations ahead of the rollout) is fine, as migrations only add.
 */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.id));

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
      const [row] = await withTimeout(ctx.sql<{ version: number }[]>`SELECT coalesce(max(id), 0)::int AS version FROM schema_migrations`.execute(), 1000, 'Postgres readiness check');
      const version = row?.version ?? 0;
      if (version < SCHEMA_VERSION) postgres = `schema version ${version}, needs ${SCHEMA_VERSION}: migrations pending`;
    } catch (e) {
      // 42P01: no schema_migrations table yet, so no migration has run.
      postgres = (e as { code?: string }).code === '42P01' ? `schema version 0, needs ${SCHEMA_VERSION}: migrations pending` : 'unreachable';
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
