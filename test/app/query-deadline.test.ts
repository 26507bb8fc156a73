/**
 * bounded() against a real Postgres: the query deadline fires on a stopped server and the hung
 * connection is discarded; while the database is down, requests are answered 503 at once and one
 * probe per interval finds out when it is back. Plus the deadline's place in the timeout chain.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../app/src/config.ts';
import { bounded, connect, PROBE_INTERVAL_MS, type Sql } from '../../app/src/db.ts';
import { appEnvironment, loadProfile } from '../../lib/profile/index.ts';
import { withChildren } from '../local/faults.ts';
import { usePostgres } from '../helpers/servers.ts';
import { ADMIN_TOKEN } from './harness.ts';

const pg = usePostgres();
let sql: Sql;
const limits = { acquireMs: 300, deadlineMs: 800 };

beforeAll(() => {
  sql = connect(pg().url, { max: 2, statementTimeoutMs: 500 });
});
afterAll(async () => {
  await sql?.end({ timeout: 1 });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backendPids = async () => (await bounded(sql, limits, (db) => db<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`))[0]!.pid;

describe('bounded() query deadline', () => {
  it('Postgres cancels a slow statement first (statement_timeout), and the pool is kept', async () => {
    const pid = await backendPids();
    const r = await bounded(sql, limits, (db) => db`SELECT pg_sleep(2)`).catch((e: unknown) => e);
    expect(r).toMatchObject({ statusCode: 503, message: expect.stringContaining('statement_timeout') });
    // The same connection serves on: nothing was discarded.
    expect(await backendPids()).toBe(pid);
  });

  it('fires on a stopped server, answers 503 saying the database is unavailable, and discards the connection', async () => {
    const before = await backendPids();
    const stopped = withChildren(pg().pid);
    for (const p of stopped) process.kill(p, 'SIGSTOP');
    let first: unknown;
    let during: unknown[];
    const started = Date.now();
    try {
      first = await bounded(sql, limits, (db) => db`SELECT 1`).catch((e: unknown) => e);
      // Down now: answered at once, without waiting for another deadline.
      const t = Date.now();
      during = await Promise.all(Array.from({ length: 5 }, () => bounded(sql, limits, (db) => db`SELECT 1`).catch((e: unknown) => e)));
      expect(Date.now() - t).toBeLessThan(100);
    } finally {
      for (const p of stopped) process.kill(p, 'SIGCONT');
    }
    expect(Date.now() - started).toBeLessThan(limits.deadlineMs + 1000);
    expect(first).toMatchObject({ statusCode: 503, message: `the database is unavailable (no answer within ${limits.deadlineMs} ms); retry shortly` });
    for (const e of during) expect(e).toMatchObject({ statusCode: 503, message: expect.stringMatching(/^the database is unavailable \(no answer within 800 ms, for [\d.]+ s\)/) });
    // Back after one probe interval, on a new connection.
    await sleep(PROBE_INTERVAL_MS + 50);
    const after = await backendPids();
    expect(after).not.toBe(before);
  });

  it('while Postgres is down, answers 503 at once and tries it once per probe interval', async () => {
    const dead = connect('postgres://nobody@127.0.0.1:1/none', { max: 2, statementTimeoutMs: 500 });
    let attempts = 0;
    const run = () => bounded(dead, limits, (db) => (attempts++, db`SELECT 1`)).catch((e: unknown) => e);
    const first = await run();
    expect(first).toMatchObject({ statusCode: 503, message: 'the database is unavailable (connection refused); retry shortly' });
    const t = Date.now();
    const burst = await Promise.all(Array.from({ length: 50 }, run));
    expect(Date.now() - t).toBeLessThan(100);
    expect(burst.every((e) => /^the database is unavailable \(connection refused, for/.test((e as Error).message))).toBe(true);
    expect(attempts).toBe(1);
    await sleep(PROBE_INTERVAL_MS + 20);
    await run();
    expect(attempts).toBe(2);
    await dead.end({ timeout: 0 });
  });
});

describe('the query deadline in the timeout chain', () => {
  it('is derived from the statement timeout and passed to the app', () => {
    const p = loadProfile('loadtest');
    expect(p.derived.api.dbQueryDeadlineMs).toBe(p.derived.api.statementTimeoutMs + 1000);
    expect(p.derived.api.slowestAnswerSeconds * 1000).toBe(p.derived.api.dbAcquireTimeoutMs + p.derived.api.dbQueryDeadlineMs);
    const env = appEnvironment(p);
    expect(env.DATABASE_QUERY_DEADLINE_MS).toBe(String(p.derived.api.dbQueryDeadlineMs));
    const c = loadConfig({ ...env, DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', ADMIN_TOKEN });
    expect(c.databaseQueryDeadlineMs).toBe(p.derived.api.dbQueryDeadlineMs);
  });

  it('must lie above the statement timeout', () => {
    const base = { DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', ADMIN_TOKEN };
    expect(loadConfig({ ...base, STATEMENT_TIMEOUT_MS: '3000' }).databaseQueryDeadlineMs).toBe(4000);
    expect(() => loadConfig({ ...base, STATEMENT_TIMEOUT_MS: '3000', DATABASE_QUERY_DEADLINE_MS: '3000' })).toThrow(
      'DATABASE_QUERY_DEADLINE_MS=3000 must be above STATEMENT_TIMEOUT_MS=3000, or a slow statement is abandoned (and its connection discarded) before Postgres cancels it; use 4000',
    );
  });
});

/**
 * A server that completes the startup (AuthenticationOk, ReadyForQuery) and then answers nothing:
 * a connection's first query hangs, as on a Postgres stopped right after accepting it.
 */
async function silentPostgres(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => {
      const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
      socket.write(Buffer.concat([ok, ready]));
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgres://apistack@127.0.0.1:${port}/apistack`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('a connection discarded before its first answer', () => {
  it('rejects only the query that was on it: nothing is left unhandled to kill the worker', async () => {
    const server = await silentPostgres();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const db = connect(server.url, { max: 1, statementTimeoutMs: 500 });
    try {
      // postgres.js would first fetch array types on a new connection, from a promise nothing
      // awaits: destroyed mid-fetch, its rejection was unhandled and the worker exited.
      const r = await bounded(db, { acquireMs: 100, deadlineMs: 300 }, (q) => q`SELECT 1`).catch((e: unknown) => e);
      expect(r).toMatchObject({ statusCode: 503, message: 'the database is unavailable (no answer within 300 ms); retry shortly' });
      await sleep(500);
      expect(unhandled.map((e) => String(e))).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await db.end({ timeout: 0 });
      await server.close();
    }
  });
});
