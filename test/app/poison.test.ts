/**
 * Poison input against a real Postgres and Redis: a deeply nested body is refused with 400 as it
 * arrives, and the same worker goes on storing valid events; a row that cannot be stored fails
 * alone, its neighbours in the batch are stored; a batch that never settles cannot wedge the writer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../app/src/app.ts';
import { connect, type Sql } from '../../app/src/db.ts';
import { EventWriter, type NewEvent } from '../../app/src/event-writer.ts';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, buildApp, migrated } from './harness.ts';

let pg: Awaited<ReturnType<typeof startTestPostgres>>;
let redis: Awaited<ReturnType<typeof startTestRedis>>;
let a: Awaited<ReturnType<typeof buildApp>>;
let key: string;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  await migrated(pg.url);
  a = await buildApp(pg.url, redis.url);
  const created = await a.app.inject({ method: 'POST', url: '/api/keys', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  key = created.json().key;
}, 60_000);
afterAll(async () => {
  await a?.close();
  await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
});

const nested = (levels: number) => `{"type":"deep","payload":${'{"level":'.repeat(levels)}1${'}'.repeat(levels)}}`;
const postEvent = (payload: string) =>
  a.app.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json', 'x-api-key': key }, payload });
const stored = async (id: string) => (await a.sql`SELECT 1 FROM events WHERE id = ${id}`).length === 1;

describe('a deeply nested JSON body', () => {
  it('is answered 400 in the API error shape, and the same worker stores the next valid event', async () => {
    const body = nested(5000);
    expect(body.length).toBeGreaterThan(50_000);
    const r = await postEvent(body);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'JSON_TOO_DEEP', message: expect.stringContaining(`deeper than ${MAX_JSON_DEPTH} levels`) } });
    const ok = await postEvent(JSON.stringify({ type: 'after-poison', payload: { n: 1 } }));
    expect(ok.statusCode).toBe(202);
    expect(await stored(ok.json().id)).toBe(true);
  });

  it('sent among valid events, fails none of them', async () => {
    const valid = Array.from({ length: 30 }, (_, n) => postEvent(JSON.stringify({ type: 'neighbour', payload: { n } })));
    const poison = Array.from({ length: 30 }, () => postEvent(nested(5000)));
    const [good, bad] = await Promise.all([Promise.all(valid), Promise.all(poison)]);
    expect(bad.map((r) => r.statusCode)).toEqual(bad.map(() => 400));
    expect(good.map((r) => r.statusCode)).toEqual(good.map(() => 202));
    for (const r of good) expect(await stored(r.json().id)).toBe(true);
  });

  it('is allowed up to the limit, on every JSON route', async () => {
    const atLimit = await postEvent(nested(MAX_JSON_DEPTH - 1));
    expect(atLimit.statusCode).toBe(202);
    const user = await a.app.inject({ method: 'POST', url: '/api/users', headers: { 'content-type': 'application/json' }, payload: `{"name":${'['.repeat(100)}${']'.repeat(100)}}` });
    expect(user.statusCode).toBe(400);
    expect(user.json().error.code).toBe('JSON_TOO_DEEP');
  });

  it('counts only brackets outside strings', () => {
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(500)}"}`, 2)).toBe(false);
    expect(jsonDepthExceeds(`{"a":"\\"${'{'.repeat(5)}"}`, 2)).toBe(false);
    expect(jsonDepthExceeds('[[[1]]]', 2)).toBe(true);
    expect(jsonDepthExceeds('[[1],[2]]', 2)).toBe(false);
  });
});

describe('the event writer with a poison row or a stuck batch', () => {
  let sql: Sql;
  let apiKeyId: string;
  beforeAll(async () => {
    sql = connect(pg.url, { max: 2, statementTimeoutMs: 5000 });
    const [row] = await sql<{ id: string }[]>`INSERT INTO api_keys (key_hash) VALUES ('poison-writer') RETURNING id`;
    apiKeyId = row!.id;
  });
  afterAll(async () => {
    await sql?.end({ timeout: 1 });
  });
  const event = (n: number, payload: Record<string, unknown> = { n }): NewEvent => ({ apiKeyId, idempotencyKey: null, requestHash: '', type: 'poison-writer', payload });

  it('refuses a row that cannot be serialised alone; its neighbours are stored', async () => {
    const writer = new EventWriter(sql, async (work) => work(sql), { maxBatch: 200, maxInFlight: 1 });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((n) => writer.insert(event(n, n === 2 ? { big: 1n } : { n }))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ statusCode: 400, code: 'VALIDATION_ERROR' });
    const ids = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<string>).value);
    expect(await sql`SELECT id FROM events WHERE id IN ${sql(ids)}`).toHaveLength(4);
  });

  it('stores the neighbours of a row Postgres refuses (a NUL character in a string)', async () => {
    const writer = new EventWriter(sql, async (work) => work(sql), { maxBatch: 200, maxInFlight: 1 });
    // The first goes alone; the rest share a batch, where row 3 is refused by Postgres.
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((n) => writer.insert(event(n, n === 3 ? { bad: 'nul \u0000' } : { n }))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('fails a batch that never settles at its deadline, and goes on writing', async () => {
    let stuck = true;
    const writer = new EventWriter(sql, async (work) => (stuck ? new Promise<never>(() => {}) : work(sql)), { maxBatch: 200, maxInFlight: 1, batchDeadlineMs: 300 });
    const started = Date.now();
    const first = await writer.insert(event(1)).catch((e: unknown) => e);
    expect(first).toMatchObject({ statusCode: 503, message: expect.stringContaining('database is unavailable') });
    expect(Date.now() - started).toBeLessThan(2000);
    stuck = false;
    const next = await writer.insert(event(2));
    expect(next).toMatch(/^\d+$/);
  });

  it('answers an event queued behind a stuck batch with 503 after queueWaitMs, not when the batch ends', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const writer = new EventWriter(sql, async (work) => (await gate, work(sql)), { maxBatch: 200, maxInFlight: 1, queueWaitMs: 200, batchDeadlineMs: 5000 });
    const stuck = writer.insert(event(1));
    const started = Date.now();
    const queued = await writer.insert(event(2)).catch((e: unknown) => e);
    expect(queued).toMatchObject({ statusCode: 503, message: expect.stringContaining('event writer is behind') });
    expect(Date.now() - started).toBeLessThan(1500);
    release();
    expect(await stuck).toMatch(/^\d+$/);
  });
});
