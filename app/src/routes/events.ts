/** API keys (admin) and idempotent event ingestion for webhook and trigger consumers. */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireAdmin as requireAdminToken } from '../admin.ts';
import type { AppContext } from '../app.ts';
import { AUTH_CACHE_LOCAL, InvalidationUnconfirmed } from '../cache.ts';
import { errors } from '../errors.ts';
import { ID_PARAM, LIMIT, MAX_BIGINT } from './pagination.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const requireAdmin = (ctx: AppContext, req: FastifyRequest) => requireAdminToken(ctx.config, req);

/** The key's id, from L1, then Redis, then Postgres; unknown or revoked keys are remembered in L1 only, briefly (AUTH_CACHE_LOCAL). */
async function authenticate(ctx: AppContext, req: FastifyRequest): Promise<string> {
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || key.length < 10 || key.length > 200) throw errors.unauthorized('X-API-Key header required');
  const hash = sha256(key);
  const tag = `auth:${hash}`;
  const id = await ctx.authCache.getOrLoad(tag, [tag], async () => {
    const [row] = await ctx.query((db) => db<{ id: string }[]>`SELECT id FROM api_keys WHERE key_hash = ${hash} AND revoked_at IS NULL`);
    return row?.id;
  });
  if (id === undefined) throw errors.unauthorized('unknown or revoked API key');
  return id;
}

async function rateLimit(ctx: AppContext, keyId: string, reply: FastifyReply): Promise<void> {
  const d = await ctx.limiter.check(keyId);
  reply.header('ratelimit-limit', String(d.limit)).header('ratelimit-remaining', String(d.remaining)).header('ratelimit-reset', String(d.resetSeconds));
  if (!d.allowed) {
    ctx.metrics.rateLimited.inc({ mode: d.mode });
    throw errors.rateLimited(d.resetSeconds);
  }
}

export function registerEventRoutes(app: FastifyInstance, ctx: AppContext): void {

  app.post('/api/keys', async (req, reply) => {
    requireAdmin(ctx, req);
    const key = `ak_${randomBytes(24).toString('base64url')}`;
    const [row] = await ctx.query((db) => db<{ id: string; created_at: Date }[]>`INSERT INTO api_keys (key_hash) VALUES (${sha256(key)}) RETURNING id, created_at`);
    // A worker that was shown this key before it existed forgets that it was unknown.
    await ctx.authCache.invalidate(`auth:${sha256(key)}`);
    // The key itself is shown once; only its hash is stored.
    return reply.code(201).send({ id: row!.id, key, createdAt: row!.created_at.toISOString() });
  });

  app.delete('/api/keys/:id', { schema: { params: ID_PARAM } }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    requireAdmin(ctx, req);
    // Revoking again is allowed: it is how a client confirms a revocation that answered 503.
    const rows = await ctx.query((db) => db<{ key_hash: string }[]>`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${req.params.id} RETURNING key_hash`);
    if (rows.length === 0) throw errors.notFound(`API key ${req.params.id}`);
    // 204 only once Redis dropped the key and told every worker to drop it from its L1.
    await ctx.authCache.invalidateConfirmed(`auth:${rows[0]!.key_hash}`).catch((e: unknown) => {
      if (!(e instanceof InvalidationUnconfirmed)) throw e;
      throw errors.unavailable(
        `API key ${req.params.id} is revoked in the database, but Redis did not confirm that every cache dropped it (it is down or not answering): it may keep working for up to ${AUTH_CACHE_LOCAL.localTtlSeconds} s on workers that cached it; repeat this DELETE to confirm`,
      );
    });
    return reply.code(204).send();
  });

  app.post('/api/events', {
    // The answer is an id and a status: no compression check per event.
    compress: false,
    schema: {
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 } } },
      body: { type: 'object', required: ['type', 'payload'], additionalProperties: false, properties: { type: { type: 'string', minLength: 1, maxLength: 200 }, payload: { type: 'object' } } },
    },
    handler: async (req: FastifyRequest<{ Body: { type: string; payload: Record<string, unknown> } }>, reply) => {
      const keyId = await authenticate(ctx, req);
      await rateLimit(ctx, keyId, reply);
      const idempotencyKey = (req.headers['idempotency-key'] as string | undefined) ?? null;
      // Only a replay compares bodies, so only a keyed request pays for hashing its body.
      const requestHash = idempotencyKey === null ? '' : sha256(JSON.stringify([req.body.type, req.body.payload]));
      // The unique (api_key_id, idempotency_key) constraint decides: a concurrent duplicate waits
      // for the first insert to commit, then inserts nothing and replays the stored answer.
      // Concurrent requests share one statement and one commit (group commit, event-writer.ts).
      const id = await ctx.events
        .insert({ apiKeyId: keyId, idempotencyKey, requestHash, type: req.body.type, payload: req.body.payload })
        .catch((e: unknown) => {
          // Postgres refuses some JSON that JavaScript accepts (a \u0000 in a string): the client's fault.
          if (/^22/.test(String((e as { code?: string }).code ?? ''))) throw errors.validation(`payload cannot be stored: ${(e as Error).message}`);
          throw e;
        });
      if (id !== undefined) {
        ctx.metrics.eventsAccepted.inc();
        // Sent only now: the row is committed.
        return reply.code(202).send({ id, status: 'accepted' });
      }
      const [original] = await ctx.query((db) => db<{ id: string; request_hash: string }[]>`
        SELECT id, request_hash FROM events WHERE api_key_id = ${keyId} AND idempotency_key = ${idempotencyKey}`);
      if (!original) throw errors.conflict('a request with this Idempotency-Key is still in progress; retry');
      if (original.request_hash !== requestHash) throw errors.idempotencyMismatch();
      ctx.metrics.idempotentReplays.inc();
      return reply.code(202).header('idempotent-replayed', 'true').send({ id: original.id, status: 'accepted' });
    },
  });

  app.get('/api/events', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { after: { type: 'string', maxLength: 200 }, limit: LIMIT },
      },
    },
    handler: async (req: FastifyRequest<{ Querystring: { after?: string; limit: string } }>) => {
      const keyId = await authenticate(ctx, req);
      const position = decodeEventCursor(req.query.after);
      // Only transactions older than every running one are read, in (transaction, id) order: an
      // event still being committed can never appear behind a position a consumer has passed.
      const rows = await ctx.query((db) => db<{ id: string; tx: string; type: string; payload: unknown; created_at: Date }[]>`
        SELECT id, tx_id::text AS tx, type, payload, created_at FROM events
        WHERE api_key_id = ${keyId}
          AND (tx_id, id) > (${position.tx}::xid8, ${position.id}::bigint)
          AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY tx_id, id
        LIMIT ${Number(req.query.limit)}`);
      const last = rows.at(-1);
      return {
        items: rows.map((r) => ({ id: r.id, type: r.type, payload: r.payload, createdAt: r.created_at.toISOString() })),
        // Always where to poll from next; an empty page means caught up.
        next: last ? encodeEventCursor(last.tx, last.id) : (req.query.after ?? null),
      };
    },
  });
}

/** Event positions: the inserting transaction and the id, opaque to consumers. */
function encodeEventCursor(tx: string, id: string): string {
  return Buffer.from(`e:${tx}:${id}`).toString('base64url');
}

function decodeEventCursor(cursor: string | undefined): { tx: string; id: string } {
  if (cursor === undefined) return { tx: '0', id: '0' };
  const m = /^e:(\d{1,20}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || BigInt(m[1]!) > 2n ** 64n - 1n || BigInt(m[2]!) > MAX_BIGINT) throw errors.badCursor();
  return { tx: m[1]!, id: m[2]! };
}
