/**
 * The bundle as a real process tree against a real Postgres that goes away under load: a fast
 * shutdown and restart (what `pg_ctl stop -m fast` does), and a stopped server (SIGSTOP). No worker
 * exits; routes that do not need the database keep answering; routes that need it answer 503
 * (saying the database is unavailable) within the deadline the profile's timeout chain sets.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/local/process.ts';
import { freePort, startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, migrated, testEnv } from './harness.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const bundle = join(repoRoot, 'dist', 'app', 'main.js');

let pg: Awaited<ReturnType<typeof startTestPostgres>>;
let redis: Awaited<ReturnType<typeof startTestRedis>>;

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  await migrated(pg.url);
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
});

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Timeouts short enough for a test, in the same chain a profile derives. */
const STATEMENT_TIMEOUT_MS = 1000;
const QUERY_DEADLINE_MS = 1500;
const ACQUIRE_TIMEOUT_MS = 500;

async function startApi(): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [bundle], {
    env: {
      ...process.env,
      ...testEnv(pg.url, redis.url, {
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
        WEB_CONCURRENCY: '2',
        STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
        DATABASE_QUERY_DEADLINE_MS: String(QUERY_DEADLINE_MS),
        DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('API ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, alive: () => child.exitCode === null });
  return { child, url, output: () => output };
}

async function stopApi(api: Running): Promise<void> {
  const exited = new Promise((resolve) => api.child.once('exit', resolve));
  api.child.kill('SIGTERM');
  await exited;
}

interface Sample {
  readonly kind: 'status' | 'cached' | 'uncached' | 'event';
  readonly status: number;
  readonly ms: number;
  readonly at: number;
  readonly body: string;
}

/** Closed-loop mixed load (status, a cached user, an uncached list, event writes) on `connections` loops until `stop()`. */
function mixedLoad(url: string, apiKey: string, userId: string, connections: number) {
  const samples: Sample[] = [];
  let running = true;
  const kinds = ['status', 'cached', 'uncached', 'event'] as const;
  const one = async (kind: Sample['kind'], n: number): Promise<void> => {
    const started = performance.now();
    let status = 0;
    let body = '';
    try {
      const res =
        kind === 'status'
          ? await fetch(`${url}/api/status`, { signal: AbortSignal.timeout(10_000) })
          : kind === 'cached'
            ? await fetch(`${url}/api/users/${userId}`, { signal: AbortSignal.timeout(10_000) })
            : kind === 'uncached'
              ? await fetch(`${url}/api/users?limit=5`, { signal: AbortSignal.timeout(10_000) })
              : await fetch(`${url}/api/events`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
                  body: JSON.stringify({ type: 'fault.test', payload: { n } }),
                  signal: AbortSignal.timeout(10_000),
                });
      status = res.status;
      body = await res.text();
    } catch (e) {
      body = (e as Error).message;
    }
    samples.push({ kind, status, ms: performance.now() - started, at: Date.now(), body });
  };
  const loops = Array.from({ length: connections }, async (_, i) => {
    for (let n = 0; running; n++) await one(kinds[(i + n) % kinds.length]!, n);
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

async function fixtures(url: string): Promise<{ apiKey: string; userId: string }> {
  const key = await fetch(`${url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(key.status).toBe(201);
  const user = await fetch(`${url}/api/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Fault', email: `fault-${Date.now()}-${Math.random()}@example.com` }),
  });
  expect(user.status).toBe(201);
  const userId = ((await user.json()) as { id: string }).id;
  // Warm the cache on both workers.
  for (let i = 0; i < 10; i++) await fetch(`${url}/api/users/${userId}`);
  return { apiKey: ((await key.json()) as { key: string }).key, userId };
}

/** The postmaster and its backends: SIGSTOP on all of them is a server that accepts connections and never answers. */
function postgresProcesses(postmaster: number): number[] {
  const children = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        // Field 4 of /proc/PID/stat is the parent; the command name before it may hold spaces.
        return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const crashes = (output: string) => output.split('\n').filter((l) => /worker crashed|died before listening/.test(l));

describe('Postgres going away under load (real process tree, real Postgres)', () => {
  it('a fast shutdown and restart crashes no worker; status and cached reads keep answering 200', async () => {
    const api = await startApi();
    try {
      const { apiKey, userId } = await fixtures(api.url);
      const load = mixedLoad(api.url, apiKey, userId, 16);
      await sleep(1500);
      await pg.stop();
      await sleep(2000);
      await pg.start();
      await sleep(2500);
      const samples = await load.stop();
      expect(crashes(api.output()), api.output().slice(-3000)).toEqual([]);
      const notOk = samples.filter((s) => (s.kind === 'status' || s.kind === 'cached') && s.status !== 200);
      expect(notOk.slice(0, 5), `${notOk.length} of the status and cached reads failed`).toEqual([]);
      // Requests that need the database got 503s saying so, never a 500.
      const dbFailures = samples.filter((s) => (s.kind === 'uncached' || s.kind === 'event') && s.status !== 200 && s.status !== 202);
      expect(dbFailures.length).toBeGreaterThan(0);
      expect(dbFailures.filter((s) => s.status !== 503).slice(0, 3)).toEqual([]);
      expect(dbFailures.every((s) => /database is unavailable/.test(s.body)), dbFailures[0]?.body).toBe(true);
      // Fast: not after a pool wait. Most well within the acquire timeout, even on a busy machine.
      const fast = dbFailures.filter((s) => s.ms < ACQUIRE_TIMEOUT_MS).length;
      expect(fast / dbFailures.length, `${fast} of ${dbFailures.length} 503s within ${ACQUIRE_TIMEOUT_MS} ms`).toBeGreaterThan(0.8);
      // Served again once Postgres is back.
      const after = await fetch(`${api.url}/api/users?limit=1`);
      expect(after.status).toBe(200);
    } finally {
      await stopApi(api);
    }
  }, 60_000);

  it('a stopped server (SIGSTOP, 5 s): every request that needs it is answered within the deadline, the others keep answering', async () => {
    const api = await startApi();
    const slowestAnswerMs = ACQUIRE_TIMEOUT_MS + QUERY_DEADLINE_MS;
    try {
      const { apiKey, userId } = await fixtures(api.url);
      const load = mixedLoad(api.url, apiKey, userId, 16);
      await sleep(1000);
      const stopped = postgresProcesses(pg.pid);
      const stalledFrom = Date.now();
      for (const pid of stopped) process.kill(pid, 'SIGSTOP');
      let stalledUntil: number;
      try {
        await sleep(5000);
      } finally {
        stalledUntil = Date.now();
        for (const pid of stopped) process.kill(pid, 'SIGCONT');
      }
      await sleep(2000);
      const samples = await load.stop();
      expect(crashes(api.output()), api.output().slice(-3000)).toEqual([]);
      const during = samples.filter((s) => s.at - s.ms >= stalledFrom && s.at <= stalledUntil + 500);
      const needDb = during.filter((s) => s.kind === 'uncached' || s.kind === 'event');
      expect(needDb.length).toBeGreaterThan(10);
      // Answered (503) within the deadline the timeout chain sets, plus slack for a busy machine.
      const late = needDb.filter((s) => s.ms > slowestAnswerMs + 1000 || s.status === 0);
      expect(late.slice(0, 5), `${late.length} of ${needDb.length} requests needing the database were late`).toEqual([]);
      expect(needDb.filter((s) => s.status !== 503 && s.status !== 200 && s.status !== 202).slice(0, 3)).toEqual([]);
      // Once the first deadline has passed, the worker knows the database is gone and says so;
      // before that, a request that finds every connection held by a hung query hears "busy".
      const knownDown = needDb.filter((s) => s.status === 503 && s.at - s.ms > stalledFrom + QUERY_DEADLINE_MS + 200 && s.at < stalledUntil);
      expect(knownDown.length).toBeGreaterThan(0);
      expect(knownDown.filter((s) => !/database is unavailable/.test(s.body)).slice(0, 3)).toEqual([]);
      const notOk = samples.filter((s) => (s.kind === 'status' || s.kind === 'cached') && s.status !== 200);
      expect(notOk.slice(0, 5), `${notOk.length} of the status and cached reads failed`).toEqual([]);
      // Once the server runs again, the database serves again.
      await waitFor('the database answers again', async () => (await fetch(`${api.url}/api/users?limit=1`)).status === 200, { timeoutMs: 10_000 });
    } finally {
      await stopApi(api);
    }
  }, 60_000);
});
