import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../app/src/config.ts';
import { crashBackoffMs } from '../../app/src/primary.ts';
import { LruTtl } from '../../app/src/cache.ts';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, buildApp, migrated } from './harness.ts';

type Built = Awaited<ReturnType<typeof buildApp>>;

describe('configuration', () => {
  it('lists every problem at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'x', WEB_CONCURRENCY: '0', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      'PORT="x" must be a whole number from 0 to 65535',
      'WEB_CONCURRENCY="0" must be a whole number from 1 to 256',
      'DATABASE_URL must start with postgres: or postgresql:, got mysql:',
      'REDIS_URL is required (redis://... or rediss://...)',
      'ADMIN_TOKEN is required: at least 16 characters',
      'LOG_LEVEL="loud" must be one of fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('defaults keep-alive and headers timeouts above the ALB idle timeout (60 s)', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', ADMIN_TOKEN });
    expect(c).toMatchObject({ port: 8000, host: '0.0.0.0', metricsPort: 9464, keepAliveTimeoutSeconds: 65, headersTimeoutSeconds: 70, gracefulTimeoutSeconds: 30, authCacheTtlSeconds: 300 });
  });

  it('refuses more event batches in flight than pool connections', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', ADMIN_TOKEN, DATABASE_POOL_SIZE: '2', EVENT_BATCHES_IN_FLIGHT: '3' })).toThrow(
      'EVENT_BATCHES_IN_FLIGHT=3 must not exceed DATABASE_POOL_SIZE=2',
    );
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', ADMIN_TOKEN })).toMatchObject({ eventBatchMax: 200, eventBatchesInFlight: 1 });
  });

  it('keeps the drain wait a margin below the graceful timeout', () => {
    const base = { DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', ADMIN_TOKEN };
    expect(loadConfig(base)).toMatchObject({ gracefulTimeoutSeconds: 30, drainIdleTimeoutSeconds: 15 });
    expect(loadConfig({ ...base, GRACEFUL_TIMEOUT: '8' })).toMatchObject({ drainIdleTimeoutSeconds: 3 });
    expect(loadConfig({ ...base, GRACEFUL_TIMEOUT: '2' })).toMatchObject({ drainIdleTimeoutSeconds: 0 });
    expect(() => loadConfig({ ...base, GRACEFUL_TIMEOUT: '10', DRAIN_IDLE_TIMEOUT: '10' })).toThrow(
      'DRAIN_IDLE_TIMEOUT=10 must be at least 5 s below GRACEFUL_TIMEOUT=10: a draining worker is killed at the graceful timeout, and needs the margin to close what is left and exit',
    );
  });

  it('backs off a crash loop exponentially, capped', () => {
    expect([1, 2, 3, 4, 5, 20].map(crashBackoffMs)).toEqual([0, 0, 250, 500, 1000, 30000]);
  });

  it('L1 refuses a fill that started before an invalidation of its tag', () => {
    const l1 = new LruTtl<string>(2, 60_000);
    const before = l1.generationOf(['t:a']);
    l1.invalidateTag('t:a');
    expect(l1.setIfCurrent('a', 'old', ['t:a'], before)).toBe(false);
    expect(l1.get('a')).toBeUndefined();
    expect(l1.setIfCurrent('a', 'new', ['t:a'], l1.generationOf(['t:a']))).toBe(true);
    // Forgetting old generations (bounded memory) only ever skips fills, never lets a stale one in.
    for (let i = 0; i < 10; i++) l1.invalidateTag(`t:${i}`);
    const seen = l1.generationOf(['t:a']);
    expect(l1.setIfCurrent('b', 'x', ['t:a'], seen)).toBe(true);
  });

  it('L1 evicts the least recently used entry and expires by TTL', () => {
    const l1 = new LruTtl<string>(2, 60_000);
    l1.set('a', '1', ['t:a']);
    l1.set('b', '2', ['t:b']);
    l1.get('a');
    l1.set('c', '3', ['t:c']);
    expect([l1.get('a'), l1.get('b'), l1.get('c')]).toEqual(['1', undefined, '3']);
    l1.invalidateTag('t:a');
    expect(l1.get('a')).toBeUndefined();
  });

  it('L1 invalidates every entry carrying a tag, and only those', () => {
    const l1 = new LruTtl<string>(10, 60_000);
    l1.set('x', '1', ['t']);
    l1.set('y', '2', ['t', 'u']);
    l1.set('z', '3', ['u']);
    l1.invalidateTag('t');
    expect([l1.get('x'), l1.get('y'), l1.get('z')]).toEqual([undefined, undefined, '3']);
    // A re-set entry is indexed under its new tags only.
    l1.set('z', '4', ['v']);
    l1.invalidateTag('u');
    expect(l1.get('z')).toBe('4');
    l1.invalidateTag('v');
    expect(l1.size).toBe(0);
  });
});

describe('passwords given apart from their URLs (a secret store hands out one field)', () => {
  it('puts DATABASE_PASSWORD and REDIS_PASSWORD into the URLs, encoded, and never echoes a URL that is wrong', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://app@db:5432/apistack', DATABASE_PASSWORD: 'p@ss/w:rd', REDIS_URL: 'rediss://cache:6379', REDIS_PASSWORD: 'tok en', ADMIN_TOKEN });
    expect(c.databaseUrl).toBe('postgres://app:p%40ss%2Fw%3Ard@db:5432/apistack');
    expect(c.redisUrl).toBe('rediss://:tok%20en@cache:6379');
    expect(() => loadConfig({ DATABASE_URL: 'postgres://app:hunter2@', REDIS_URL: 'redis://x', ADMIN_TOKEN })).toThrow(/DATABASE_URL is not a URL/);
    let message = '';
    try {
      loadConfig({ DATABASE_URL: 'nonsense hunter2', REDIS_URL: 'redis://x', ADMIN_TOKEN });
    } catch (e) {
      message = String(e);
    }
    expect(message).toContain('DATABASE_URL is not a URL');
    expect(message).not.toContain('hunter2');
  });

  it('serves with a password-protected Redis reached through REDIS_PASSWORD', async () => {
    const password = 'split-secret-0123456789';
    const [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis({ password })]);
    try {
      await migrated(pg.url);
      const bare = `redis://127.0.0.1:${redis.port}`;
      const built = await buildApp(pg.url, bare, { REDIS_PASSWORD: password });
      try {
        const ready = await built.app.inject({ url: '/readyz' });
        expect(ready.statusCode).toBe(200);
        expect(await built.redis.ping()).toBe('PONG');
      } finally {
        await built.close();
      }
    } finally {
      await Promise.all([pg.cleanup(), redis.cleanup()]);
    }
  });
});

describe('API routes against real Postgres and Redis', () => {
  let pg: Awaited<ReturnType<typeof startTestPostgres>>;
  let redis: Awaited<ReturnType<typeof startTestRedis>>;
  let a: Built;
  let b: Built;

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
    await migrated(pg.url);
    a = await buildApp(pg.url, redis.url, { RATE_LIMIT_PER_MINUTE: '5' });
    b = await buildApp(pg.url, redis.url, { RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
  });

  /** A JSON body, sent with the admin token every write to users and posts takes. */
  const json = (body: unknown) => ({ payload: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` } });
  async function newKey(): Promise<{ id: string; key: string }> {
    const r = await a.app.inject({ method: 'POST', url: '/api/keys', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(r.statusCode).toBe(201);
    return r.json();
  }

  it('GET /api/status answers the small status document', async () => {
    const r = await a.app.inject('/api/status');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok', version: '0.1.0', uptimeSeconds: expect.any(Number) });
    expect(r.headers['x-worker-id']).toBe(String(process.pid));
  });

  it('/healthz is live, /readyz reports Postgres and Redis, and turns 503 when draining', async () => {
    expect((await a.app.inject('/healthz')).statusCode).toBe(200);
    const ready = await a.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok', draining: false });
    a.state.draining = true;
    const draining = await a.app.inject('/readyz');
    a.state.draining = false;
    expect(draining.statusCode).toBe(503);
    expect(draining.headers.connection).toBe('close');
  });

  it('creates, reads, updates and deletes a user; email is unique', async () => {
    const created = await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'Ada', email: 'ada@example.com' }) });
    expect(created.statusCode).toBe(201);
    const user = created.json();
    expect(user).toMatchObject({ id: expect.stringMatching(/^\d+$/), name: 'Ada', email: 'ada@example.com', createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect((await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'Other', email: 'ada@example.com' }) })).statusCode).toBe(409);
    expect((await a.app.inject(`/api/users/${user.id}`)).json()).toEqual(user);
    const patched = await a.app.inject({ method: 'PATCH', url: `/api/users/${user.id}`, ...json({ name: 'Ada L.' }) });
    expect(patched.json()).toMatchObject({ name: 'Ada L.', email: 'ada@example.com' });
    expect((await a.app.inject({ method: 'DELETE', url: `/api/users/${user.id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(204);
    const gone = await a.app.inject(`/api/users/${user.id}`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toEqual({ error: { code: 'NOT_FOUND', message: `user ${user.id} not found` } });
  });

  it('caches reads in both layers and invalidates across workers: a read after a write is never stale', async () => {
    const { id } = (await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'Cached', email: 'cached@example.com' }) })).json();
    // Worker a fills L1(a) and L2; worker b then hits L2 and fills L1(b).
    await a.app.inject(`/api/users/${id}`);
    await b.app.inject(`/api/users/${id}`);
    expect(b.app.ctx.userCache.l1.get(`user:${id}`)).toBeDefined();
    const l2Hits = async () => (await b.registry.getSingleMetric('apistack_cache_requests_total')!.get()).values.find((v) => v.labels.layer === 'l2' && v.labels.result === 'hit')?.value ?? 0;
    expect(await l2Hits()).toBeGreaterThanOrEqual(1);
    // A write through worker a must be seen by worker b.
    await a.app.inject({ method: 'PATCH', url: `/api/users/${id}`, ...json({ name: 'Cached v2' }) });
    const deadline = Date.now() + 1000;
    let seen = '';
    while (Date.now() < deadline) {
      seen = (await b.app.inject(`/api/users/${id}`)).json().name;
      if (seen === 'Cached v2') break;
    }
    expect(seen).toBe('Cached v2');
  });

  it('a value loaded before a write is not cached after it (the read-then-set race)', async () => {
    const { id } = (await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'Racy', email: `racy-${Date.now()}@example.com` }) })).json();
    const key = `user:${id}`;
    const readOld = async () => JSON.stringify({ name: 'Racy', stale: true });
    // Worker b misses and loads the old row; while it is loading, worker a writes and invalidates.
    const loaded = await b.app.ctx.userCache.getOrLoad(key, [key], async () => {
      const old = await readOld();
      expect((await a.app.inject({ method: 'PATCH', url: `/api/users/${id}`, ...json({ name: 'Racy v2' }) })).statusCode).toBe(200);
      return old;
    });
    expect(JSON.parse(loaded!).stale).toBe(true); // the caller gets what it loaded...
    // ...but neither layer keeps it, so every later read sees the write.
    expect(await b.redis.get(`cache:${key}`)).toBeNull();
    expect(b.app.ctx.userCache.l1.get(key)).toBeUndefined();
    expect((await b.app.inject(`/api/users/${id}`)).json().name).toBe('Racy v2');
    // Without a write in between, the same fill lands in both layers.
    const other = `user:${id}-other`;
    await b.app.ctx.userCache.getOrLoad(other, [other], readOld);
    expect(await b.redis.get(`cache:${other}`)).not.toBeNull();
    expect(b.app.ctx.userCache.l1.get(other)).toBeDefined();
  });

  it('answers ETag and 304 on If-None-Match', async () => {
    const { id } = (await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'E', email: 'etag@example.com' }) })).json();
    const first = await a.app.inject(`/api/users/${id}`);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\//);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    expect((await a.app.inject({ url: `/api/users/${id}`, headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    await a.app.inject({ method: 'PATCH', url: `/api/users/${id}`, ...json({ name: 'E2' }) });
    expect((await a.app.inject({ url: `/api/users/${id}`, headers: { 'if-none-match': etag } })).statusCode).toBe(200);
  });

  it('pages users with an opaque keyset cursor and rejects a forged one', async () => {
    const users = Array.from({ length: 25 }, (_, i) => ({ name: `P${i}`, email: `page${i}@example.com` }));
    const bulk = await a.app.inject({ method: 'POST', url: '/api/users/bulk', ...json({ users }) });
    expect(bulk.statusCode).toBe(201);
    expect(bulk.json().inserted).toBe(25);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await a.app.inject(`/api/users?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.statusCode).toBe(200);
      const page = r.json() as { items: { id: string }[]; next: string | null };
      seen.push(...page.items.map((u) => u.id));
      cursor = page.next;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((x, y) => x - y));
    const forged = await a.app.inject('/api/users?cursor=bm90LWEtY3Vyc29y');
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error.code).toBe('INVALID_CURSOR');
    expect((await a.app.inject('/api/users?limit=1001')).statusCode).toBe(400);
  });

  it('bulk insert is all or nothing', async () => {
    const before = Number((await a.sql`SELECT count(*) FROM users`)[0]!.count);
    const r = await a.app.inject({ method: 'POST', url: '/api/users/bulk', ...json({ users: [{ name: 'x', email: 'dup@example.com' }, { name: 'y', email: 'dup@example.com' }] }) });
    expect(r.statusCode).toBe(409);
    expect(Number((await a.sql`SELECT count(*) FROM users`)[0]!.count)).toBe(before);
  });

  it('posts per user, and post counts in one query', async () => {
    const { id } = (await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'Writer', email: 'writer@example.com' }) })).json();
    for (let i = 0; i < 3; i++) expect((await a.app.inject({ method: 'POST', url: '/api/posts', ...json({ userId: id, title: `t${i}` }) })).statusCode).toBe(201);
    expect((await a.app.inject({ method: 'POST', url: '/api/posts', ...json({ userId: '999999', title: 't' }) })).statusCode).toBe(404);
    expect((await a.app.inject(`/api/users/${id}/posts`)).json().items).toHaveLength(3);
    const counts = (await a.app.inject('/api/users/with-post-counts?limit=1000')).json().items as { id: string; postCount: number }[];
    expect(counts.find((u) => u.id === id)!.postCount).toBe(3);
  });

  it('rejects bad input with a 4xx JSON error naming the problem, never a 500', async () => {
    const cases = [
      await a.app.inject({ method: 'POST', url: '/api/users', payload: '{"name": ', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` } }),
      await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 5, email: 'a@b' }) }),
      await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'n', email: 'a@b', admin: true }) }),
      await a.app.inject('/api/users/abc'),
      await a.app.inject({ method: 'POST', url: '/api/users', payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), email: 'a@b' }), headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` } }),
    ];
    expect(cases.map((r) => r.statusCode)).toEqual([400, 400, 400, 400, 413]);
    for (const r of cases) expect(r.json().error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(cases[2]!.json().error.message).toMatch(/additional properties/);
  });

  it('answers 400 JSON, never 500, for input that passes the schema but not Postgres or the URL parser', async () => {
    const { key } = await newKey();
    const forged = (text: string) => Buffer.from(text).toString('base64url');
    const cases = [
      // A NUL character: valid JSON, refused by Postgres text columns.
      await a.app.inject({ method: 'POST', url: '/api/users', payload: '{"name":"a\\u0000b","email":"nul@example.com"}', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` } }),
      // Cursors that decode to numbers beyond bigint / xid8.
      await a.app.inject(`/api/users?cursor=${forged('u:9999999999999999999')}`),
      await a.app.inject({ url: `/api/events?after=${forged('e:99999999999999999999:1')}`, headers: { 'x-api-key': key } }),
      // A malformed percent-encoding, rejected by Fastify before routing.
      await a.app.inject('/api/users/%E0%A4%A'),
    ];
    expect(cases.map((r) => r.statusCode)).toEqual([400, 400, 400, 400]);
    for (const r of cases) expect(r.json().error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(cases[0]!.json().error.message).toMatch(/cannot be stored/);
    expect(cases.slice(1).map((r) => r.json().error.code)).toEqual(['INVALID_CURSOR', 'INVALID_CURSOR', 'BAD_URL']);
  });

  it('creates API keys only for the admin, and stores only a hash', async () => {
    expect((await a.app.inject({ method: 'POST', url: '/api/keys' })).statusCode).toBe(401);
    expect((await a.app.inject({ method: 'POST', url: '/api/keys', headers: { authorization: 'Bearer wrong-token-0123456789ab' } })).statusCode).toBe(401);
    const { id, key } = await newKey();
    const [row] = await a.sql`SELECT key_hash FROM api_keys WHERE id = ${id}`;
    expect(row!.key_hash).not.toContain(key);
    expect(row!.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts events with 202 only once committed, replays by Idempotency-Key, 422 on a different body', async () => {
    const { key } = await newKey();
    const headers = { 'content-type': 'application/json', 'x-api-key': key, 'idempotency-key': 'evt-1' };
    const first = await a.app.inject({ method: 'POST', url: '/api/events', headers, payload: JSON.stringify({ type: 'order.created', payload: { n: 1 } }) });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ id: expect.any(String), status: 'accepted' });
    const [row] = await a.sql`SELECT type FROM events WHERE id = ${first.json().id}`;
    expect(row!.type).toBe('order.created');
    const replay = await b.app.inject({ method: 'POST', url: '/api/events', headers, payload: JSON.stringify({ type: 'order.created', payload: { n: 1 } }) });
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toEqual(first.json());
    const different = await a.app.inject({ method: 'POST', url: '/api/events', headers, payload: JSON.stringify({ type: 'order.created', payload: { n: 2 } }) });
    expect(different.statusCode).toBe(422);
  });

  it('answers 400, not 500, for a payload JSON accepts but Postgres cannot store', async () => {
    const { key } = await newKey();
    const headers = { 'content-type': 'application/json', 'x-api-key': key };
    const res = await a.app.inject({ method: 'POST', url: '/api/events', headers, payload: '{"type":"t","payload":{"s":"nul \\u0000 here"}}' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_ERROR');
    expect(res.json().error.message).toMatch(/payload cannot be stored/);
  });

  it('stores one row for concurrent duplicate posts', async () => {
    const { key } = await newKey();
    const headers = { 'content-type': 'application/json', 'x-api-key': key, 'idempotency-key': 'same' };
    const payload = JSON.stringify({ type: 'dup', payload: {} });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => (i % 2 ? a : b).app.inject({ method: 'POST', url: '/api/events', headers, payload })));
    expect(answers.map((r) => r.statusCode).every((s) => s === 202 || s === 409)).toBe(true);
    const ids = new Set(answers.filter((r) => r.statusCode === 202).map((r) => r.json().id));
    expect(ids.size).toBe(1);
    expect(Number((await a.sql`SELECT count(*) FROM events WHERE idempotency_key = 'same'`)[0]!.count)).toBe(1);
  });

  it('rate-limits per key with 429, Retry-After and RateLimit headers, shared across workers', async () => {
    const { key } = await newKey();
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 7; i++) {
      last = await (i % 2 ? a : b).app.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json', 'x-api-key': key }, payload: JSON.stringify({ type: 'rl', payload: { i } }) });
      statuses.push(last.statusCode);
    }
    // RATE_LIMIT_PER_MINUTE=5, unless the minute rolled over mid-test.
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(5);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(last!.headers['ratelimit-limit']).toBe('5');
    expect(last!.headers['ratelimit-remaining']).toBe('0');
  });

  it('a revoked key stops working on every worker within a second', async () => {
    const { id, key } = await newKey();
    const post = (w: Built) => w.app.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json', 'x-api-key': key }, payload: JSON.stringify({ type: 'rv', payload: {} }) });
    expect((await post(a)).statusCode).toBe(202);
    expect((await post(b)).statusCode).toBe(202); // now cached in b's L1
    expect((await a.app.inject({ method: 'DELETE', url: `/api/keys/${id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(204);
    const deadline = Date.now() + 1000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await post(b)).statusCode;
      if (status === 401) break;
    }
    expect(status).toBe(401);
  });

  it('lists events in insertion order for consumers polling with after=', async () => {
    const { key } = await newKey();
    const headers = { 'content-type': 'application/json', 'x-api-key': key };
    for (let i = 0; i < 5; i++) await a.app.inject({ method: 'POST', url: '/api/events', headers, payload: JSON.stringify({ type: 'poll', payload: { i } }) });
    const page1 = (await a.app.inject({ url: '/api/events?limit=3', headers })).json();
    const page2 = (await a.app.inject({ url: `/api/events?limit=3&after=${page1.next}`, headers })).json();
    expect([...page1.items, ...page2.items].map((e: { payload: { i: number } }) => e.payload.i)).toEqual([0, 1, 2, 3, 4]);
    // Caught up: an empty page, and `next` stays where to poll from.
    const page3 = (await a.app.inject({ url: `/api/events?limit=3&after=${page2.next}`, headers })).json();
    expect(page3).toEqual({ items: [], next: page2.next });
    expect((await a.app.inject({ url: '/api/events?after=not-a-cursor', headers })).json().error.code).toBe('INVALID_CURSOR');
  });

  it('never lets a polling consumer pass an event that is still being committed', async () => {
    const { id: keyId, key } = await newKey();
    const headers = { 'content-type': 'application/json', 'x-api-key': key };
    const poll = async (after?: string) => (await a.app.inject({ url: `/api/events${after ? `?after=${after}` : ''}`, headers })).json() as { items: { type: string }[]; next: string | null };
    // A slow writer inserts first (the lower id) and holds its transaction open...
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const inserted = new Promise<void>((r) => (started = r));
    const slow = a.sql.begin(async (tx) => {
      await tx`INSERT INTO events (api_key_id, request_hash, type, payload) VALUES (${keyId}, '', 'slow', '{}')`;
      started();
      await gate;
    });
    await inserted;
    // ...while a later event commits at once.
    expect((await a.app.inject({ method: 'POST', url: '/api/events', headers, payload: JSON.stringify({ type: 'fast', payload: {} }) })).statusCode).toBe(202);
    // Polling in id order would hand out "fast" and then never "slow"; here "fast" waits.
    const during = await poll();
    expect(during.items).toEqual([]);
    release();
    await slow;
    const after = await poll(during.next ?? undefined);
    expect(after.items.map((e) => e.type)).toEqual(['slow', 'fast']);
  });

  it('falls back to Postgres within a bounded time when Redis hangs, and recovers', async () => {
    const { id } = (await a.app.inject({ method: 'POST', url: '/api/users', ...json({ name: 'R', email: 'redis-hang@example.com' }) })).json();
    process.kill(redis.pid, 'SIGSTOP');
    try {
      a.app.ctx.userCache.l1.delete(`user:${id}`);
      const started = Date.now();
      const r = await a.app.inject(`/api/users/${id}`);
      expect(r.statusCode).toBe(200);
      expect(Date.now() - started).toBeLessThan(3000);
      const { key } = await newKey();
      // Rate limiter fails open to its local window.
      const ev = await a.app.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json', 'x-api-key': key }, payload: JSON.stringify({ type: 'x', payload: {} }) });
      expect(ev.statusCode).toBe(202);
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
  });

  it('answers 503 with Retry-After when Postgres is down, and recovers', async () => {
    await pg.stop();
    try {
      const started = Date.now();
      const r = await a.app.inject('/api/users?limit=1');
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await a.app.inject('/readyz')).statusCode).toBe(503);
    } finally {
      await pg.start();
    }
    let ok = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && ok !== 200) ok = (await a.app.inject('/api/users?limit=1')).statusCode;
    expect(ok).toBe(200);
  });
});

describe('documents, compression and pool limits', () => {
  let pg: Awaited<ReturnType<typeof startTestPostgres>>;
  let redis: Awaited<ReturnType<typeof startTestRedis>>;
  let a: Built;

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
    await migrated(pg.url);
    a = await buildApp(pg.url, redis.url, { DATABASE_POOL_SIZE: '1', DATABASE_ACQUIRE_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    await a?.close();
    await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
  });

  it('serves an OpenAPI document built from the route schemas', async () => {
    const doc = (await a.app.inject('/api/openapi.json')).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/users', '/api/users/{id}', '/api/events', '/api/users/bulk']));
    expect(doc.paths['/api/users'].post.requestBody.content['application/json'].schema.required).toEqual(['name', 'email']);
    expect(doc.paths['/api/users/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path', required: true });
  });

  it('compresses large JSON (br preferred, then gzip) and leaves tiny JSON alone', async () => {
    const big = await a.app.inject({ url: '/api/openapi.json', headers: { 'accept-encoding': 'gzip, br' } });
    expect(big.headers['content-encoding']).toBe('br');
    const gz = await a.app.inject({ url: '/api/openapi.json', headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const tiny = await a.app.inject({ url: '/api/status', headers: { 'accept-encoding': 'gzip, br' } });
    expect(tiny.headers['content-encoding']).toBeUndefined();
  });

  it('answers 503 after the configured wait when the pool is exhausted', async () => {
    // Hold the only pool connection for three seconds (through the pool's admission, as requests do).
    const holding = a.app.ctx.query((db) => db`SELECT pg_sleep(3)`);
    const started = Date.now();
    const r = await a.app.inject('/api/users?limit=1');
    const waited = Date.now() - started;
    await holding;
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2500);
  });

  it('a write answered 503 for want of a pool connection is never run later', async () => {
    const email = `never-${Date.now()}@example.com`;
    const holding = a.app.ctx.query((db) => db`SELECT pg_sleep(1.5)`);
    const r = await a.app.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'Never', email } });
    expect(r.statusCode).toBe(503);
    await holding;
    // The pool is free again: had the INSERT stayed queued, it would run now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await a.sql`SELECT 1 FROM users WHERE email = ${email}`).toHaveLength(0);
  });

  it('a query that already runs is not cut off by the pool wait: statement_timeout bounds it', async () => {
    const r = await a.app.ctx.query((db) => db`SELECT pg_sleep(0.6) AS slept`);
    expect(r).toHaveLength(1);
  });
});
