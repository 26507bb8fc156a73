/** Cache warm-up against real Postgres and Redis: hot keys recorded by one worker warm another. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updatedAtOf } from '../../app/src/routes/users.ts';
import { HOT_USERS_KEY, publishHotKeys, warmUserCache } from '../../app/src/warmup.ts';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, buildApp, migrated } from './harness.ts';

type Built = Awaited<ReturnType<typeof buildApp>>;

describe('cache warm-up', () => {
  let pg: Awaited<ReturnType<typeof startTestPostgres>>;
  let redisServer: Awaited<ReturnType<typeof startTestRedis>>;
  let redis: Redis;
  let running: Built;
  const started: Built[] = [];

  beforeAll(async () => {
    [pg, redisServer] = await Promise.all([startTestPostgres(), startTestRedis()]);
    await migrated(pg.url);
    running = await buildApp(pg.url, redisServer.url);
    started.push(running);
    redis = new Redis(redisServer.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await Promise.allSettled(started.map((b) => b.close()));
    await Promise.allSettled([pg?.cleanup(), redisServer?.cleanup()]);
  });

  async function createUsers(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await running.app.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: `Warm ${i}`, email: `warm-${i}-${Date.now()}@example.com` } });
      ids.push(r.json().id);
    }
    return ids;
  }

  const l1Hits = async (b: Built) => (await b.registry.getSingleMetric('apistack_cache_requests_total')!.get()).values.find((v) => v.labels.layer === 'l1' && v.labels.result === 'hit')?.value ?? 0;

  it('a starting worker loads the keys running workers found hot, from Redis and from Postgres', async () => {
    const ids = await createUsers(5);
    // Reads make them hot in the running worker; the last read is the most recent.
    for (const id of ids) expect((await running.app.inject(`/api/users/${id}`)).statusCode).toBe(200);
    expect(await publishHotKeys(redis, running.app.ctx.userCache, 3)).toBe(3);
    expect(await redis.zrevrange(HOT_USERS_KEY, 0, -1)).toEqual(expect.arrayContaining(ids.slice(-3).map((id) => `user:${id}`)));

    // One hot entry has left Redis (TTL or eviction): warm-up reads it from Postgres instead.
    await redis.del(`cache:user:${ids[4]}`);
    const fresh = await buildApp(pg.url, redisServer.url);
    started.push(fresh);
    const result = await warmUserCache(redis, fresh.sql, fresh.app.ctx.userCache, 3);
    expect(result).toEqual({ fromRedis: 2, fromPostgres: 1 });
    expect(fresh.app.ctx.userCache.l1.size).toBe(3);

    // Its first read of a hot user is an L1 hit; a cold one is not.
    const before = await l1Hits(fresh);
    expect((await fresh.app.inject(`/api/users/${ids[4]}`)).statusCode).toBe(200);
    expect(await l1Hits(fresh)).toBe(before + 1);
    expect((await fresh.app.inject(`/api/users/${ids[0]}`)).statusCode).toBe(200);
    expect(await l1Hits(fresh)).toBe(before + 1);
    // And the entry loaded from Postgres went back into Redis too.
    expect(await redis.exists(`cache:user:${ids[4]}`)).toBe(1);
  });

  it('warmed entries are invalidated by writes like any other', async () => {
    const [id] = await createUsers(1);
    await running.app.inject(`/api/users/${id}`);
    await publishHotKeys(redis, running.app.ctx.userCache, 1);
    const fresh = await buildApp(pg.url, redisServer.url);
    started.push(fresh);
    await warmUserCache(redis, fresh.sql, fresh.app.ctx.userCache, 1);
    expect((await running.app.inject({ method: 'PATCH', url: `/api/users/${id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'Renamed' } })).statusCode).toBe(200);
    // Pub/sub reaches the warmed worker: its next read sees the write.
    await expect.poll(async () => (await fresh.app.inject(`/api/users/${id}`)).json().name, { timeout: 2000 }).toBe('Renamed');
  });

  it('with nothing recorded, warm-up loads nothing', async () => {
    await redis.del(HOT_USERS_KEY);
    const fresh = await buildApp(pg.url, redisServer.url);
    started.push(fresh);
    expect(await warmUserCache(redis, fresh.sql, fresh.app.ctx.userCache, 100)).toEqual({ fromRedis: 0, fromPostgres: 0 });
  });

  it('reads the ETag date from cached JSON without being fooled by user text', () => {
    const json = JSON.stringify({ id: '1', name: 'x","updatedAt":"1999-01-01T00:00:00.000Z', email: 'a@b', createdAt: '2020-01-01T00:00:00.000Z', updatedAt: '2024-05-06T07:08:09.000Z' });
    expect(updatedAtOf(json)).toBe('2024-05-06T07:08:09.000Z');
  });
});
