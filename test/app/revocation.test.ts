/**
 * Revoking an API key against real Postgres and Redis, with two in-process workers: DELETE answers
 * 204 only once every cache layer dropped the key, or 503 within a bound when Redis cannot
 * confirm (here SIGSTOPped: hung, its connections open); a worker that missed the invalidation
 * stops accepting the key within its L1 TTL; unknown keys are remembered briefly, per worker.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_CACHE_LOCAL, TwoLayerCache } from '../../app/src/cache.ts';
import { workerMetrics } from '../../app/src/metrics.ts';
import client from 'prom-client';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, buildApp, migrated } from './harness.ts';

type Built = Awaited<ReturnType<typeof buildApp>>;
let pg: Awaited<ReturnType<typeof startTestPostgres>>;
let redis: Awaited<ReturnType<typeof startTestRedis>>;
let a: Built;
let b: Built;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  await migrated(pg.url);
  a = await buildApp(pg.url, redis.url);
  b = await buildApp(pg.url, redis.url);
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
async function newKey(): Promise<{ id: string; key: string }> {
  const r = await a.app.inject({ method: 'POST', url: '/api/keys', headers: admin });
  expect(r.statusCode).toBe(201);
  return r.json();
}
const read = (w: Built, key: string) => w.app.inject({ url: '/api/events?limit=1', headers: { 'x-api-key': key } });
const revoke = (w: Built, id: string) => w.app.inject({ method: 'DELETE', url: `/api/keys/${id}`, headers: admin });
const l1Hits = async (w: Built) => (await w.registry.getSingleMetric('apistack_cache_requests_total')!.get()).values.find((v) => v.labels.layer === 'l1' && v.labels.result === 'hit')?.value ?? 0;

describe('API key revocation', () => {
  it('answers 204 once Redis dropped the key and published it: every worker refuses it at once', async () => {
    const { id, key } = await newKey();
    expect((await read(a, key)).statusCode).toBe(200);
    expect((await read(b, key)).statusCode).toBe(200); // in b's L1 now
    expect((await revoke(a, id)).statusCode).toBe(204);
    await expect.poll(async () => (await read(b, key)).statusCode, { timeout: 500, interval: 20 }).toBe(401);
    // Repeating it confirms again; an id that never existed is still 404.
    expect((await revoke(b, id)).statusCode).toBe(204);
    expect((await revoke(a, '999999999')).statusCode).toBe(404);
  });

  it('with Redis hung: 503 within a second, saying what holds; the key stops working within the L1 TTL, and a repeated DELETE confirms once Redis is back', async () => {
    const { id, key } = await newKey();
    expect((await read(a, key)).statusCode).toBe(200);
    expect((await read(b, key)).statusCode).toBe(200);
    process.kill(redis.pid, 'SIGSTOP');
    let stopped = true;
    try {
      const started = Date.now();
      const r = await revoke(a, id);
      const tookMs = Date.now() - started;
      expect(r.statusCode, r.body).toBe(503);
      expect(r.json().error).toEqual({
        code: 'UNAVAILABLE',
        message: `API key ${id} is revoked in the database, but Redis did not confirm that every cache dropped it (it is down or not answering): it may keep working for up to ${AUTH_CACHE_LOCAL.localTtlSeconds} s on workers that cached it; repeat this DELETE to confirm`,
      });
      expect(r.headers['retry-after']).toBe('5');
      // ioredis' command timeout (500 ms), not a hang.
      expect(tookMs).toBeLessThan(1500);
      // b never heard of it; its L1 entry runs out, then Postgres says revoked.
      const deadline = Date.now() + (AUTH_CACHE_LOCAL.localTtlSeconds + 3) * 1000;
      let status = 0;
      while (Date.now() < deadline && status !== 401) status = (await read(b, key)).statusCode;
      expect(status).toBe(401);
      process.kill(redis.pid, 'SIGCONT');
      stopped = false;
      await expect.poll(async () => (await revoke(a, id)).statusCode, { timeout: 5000, interval: 200 }).toBe(204);
      // Redis holds no stale entry for it: the background retry or the repeated DELETE dropped it.
      const raw = new Redis(redis.url);
      try {
        expect(await raw.exists(`cache:auth:${sha256(key)}`)).toBe(0);
      } finally {
        raw.disconnect();
      }
      for (const w of [a, b]) expect((await read(w, key)).statusCode).toBe(401);
    } finally {
      if (stopped) process.kill(redis.pid, 'SIGCONT');
    }
  }, 30_000);

  it('a worker that lost the invalidation message stops accepting the key within its L1 TTL, not the cache TTL', async () => {
    const { key } = await newKey();
    expect((await read(b, key)).statusCode).toBe(200);
    // Revoked, and dropped from Redis, but no message reaches b.
    await a.sql`UPDATE api_keys SET revoked_at = now() WHERE key_hash = ${sha256(key)}`;
    const raw = new Redis(redis.url);
    await raw.del(`cache:auth:${sha256(key)}`);
    raw.disconnect();
    expect((await read(b, key)).statusCode).toBe(200);
    const started = Date.now();
    await expect.poll(async () => (await read(b, key)).statusCode, { timeout: (AUTH_CACHE_LOCAL.localTtlSeconds + 2) * 1000, interval: 100 }).toBe(401);
    expect(Date.now() - started).toBeLessThanOrEqual((AUTH_CACHE_LOCAL.localTtlSeconds + 1) * 1000);
  }, 30_000);

  it('remembers an unknown key briefly, in this worker: a flood of it is not a query per request', async () => {
    const bogus = `ak_unknown-${Date.now()}`;
    expect((await read(a, bogus)).statusCode).toBe(401);
    const before = await l1Hits(a);
    for (let i = 0; i < 20; i++) expect((await read(a, bogus)).statusCode).toBe(401);
    expect((await l1Hits(a)) - before).toBe(20);
  });

  it('a negative entry is dropped by an invalidation of its tag, here and in other workers', async () => {
    const registry = new client.Registry();
    const metrics = workerMetrics(registry, `neg-${Math.random()}`);
    const r = new Redis(redis.url);
    const cache = new TwoLayerCache(r, 60, metrics, AUTH_CACHE_LOCAL);
    try {
      let loads = 0;
      let exists = false;
      const load = async () => (loads++, exists ? '"1"' : undefined);
      expect(await cache.getOrLoad('auth:x', ['auth:x'], load)).toBeUndefined();
      expect(await cache.getOrLoad('auth:x', ['auth:x'], load)).toBeUndefined();
      expect(loads).toBe(1);
      // Created: the invalidation on create drops the negative, so the next lookup loads it.
      exists = true;
      await cache.invalidate('auth:x');
      expect(await cache.getOrLoad('auth:x', ['auth:x'], load)).toBe('"1"');
      expect(loads).toBe(2);
      // Another worker's message does the same.
      expect(await cache.getOrLoad('auth:y', ['auth:y'], async () => (loads++, undefined))).toBeUndefined();
      cache.onInvalidation('auth:y');
      expect(await cache.getOrLoad('auth:y', ['auth:y'], async () => (loads++, '"2"'))).toBe('"2"');
      expect(loads).toBe(4);
    } finally {
      r.disconnect();
    }
  });
});
