/** Writes to users and posts take the admin token; reads stay open. Real Postgres and Redis. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, buildApp, migrated } from './harness.ts';

let pg: Awaited<ReturnType<typeof startTestPostgres>>;
let redis: Awaited<ReturnType<typeof startTestRedis>>;
let api: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  await migrated(pg.url);
  api = await buildApp(pg.url, redis.url);
}, 120_000);
afterAll(async () => {
  await api?.close();
  await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
});

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const body = (value: unknown) => ({ payload: JSON.stringify(value), headers: { 'content-type': 'application/json' } });

describe('user and post writes', () => {
  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-0123456789ab' }],
    ['the token without Bearer', { authorization: ADMIN_TOKEN }],
  ])('are refused with 401 and change nothing: %s', async (_what, auth) => {
    const email = `anon-${Date.now()}@example.com`;
    const [{ id }] = (await api.sql`INSERT INTO users (name, email) VALUES ('Owner', ${`owner-${Date.now()}-${Math.random()}@example.com`}) RETURNING id`) as unknown as [{ id: string }];
    const writes = [
      { method: 'POST' as const, url: '/api/users', ...body({ name: 'Anon', email }) },
      { method: 'POST' as const, url: '/api/users/bulk', ...body({ users: [{ name: 'Anon', email }] }) },
      { method: 'PATCH' as const, url: `/api/users/${id}`, ...body({ name: 'Taken over' }) },
      { method: 'DELETE' as const, url: `/api/users/${id}`, headers: {} },
      { method: 'POST' as const, url: '/api/posts', ...body({ userId: id, title: 'spam' }) },
    ];
    for (const w of writes) {
      const r = await api.app.inject({ ...w, headers: { ...w.headers, ...auth } });
      expect(r.statusCode, `${w.method} ${w.url}`).toBe(401);
      expect(r.json().error).toEqual({ code: 'UNAUTHORIZED', message: 'Authorization: Bearer <ADMIN_TOKEN> required' });
    }
    expect(await api.sql`SELECT 1 FROM users WHERE email = ${email}`).toHaveLength(0);
    expect((await api.sql`SELECT name FROM users WHERE id = ${id}`)[0]?.name).toBe('Owner');
    expect(await api.sql`SELECT 1 FROM posts WHERE user_id = ${id}`).toHaveLength(0);
  });

  it('refuses an anonymous oversized body with 401 before reading it, not 413', async () => {
    const r = await api.app.inject({ method: 'POST', url: '/api/users/bulk', payload: 'x'.repeat(17 * 1024 * 1024), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(401);
  });

  it('with the admin token they work; reads take none', async () => {
    const created = await api.app.inject({ method: 'POST', url: '/api/users', ...body({ name: 'Admin made', email: `admin-${Date.now()}@example.com` }), headers: { 'content-type': 'application/json', ...admin } });
    expect(created.statusCode).toBe(201);
    const { id } = created.json();
    expect((await api.app.inject(`/api/users/${id}`)).statusCode).toBe(200);
    expect((await api.app.inject('/api/users?limit=1')).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'DELETE', url: `/api/users/${id}`, headers: admin })).statusCode).toBe(204);
  });
});
