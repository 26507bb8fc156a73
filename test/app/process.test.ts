/**
 * The bundle as a real process tree: graceful shutdown, recycling under load through nginx,
 * and a worker killed with SIGKILL under load.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderNginxConfig } from '../../nginx/index.ts';
import { appEnvironment, loadProfile } from '../../lib/profile/index.ts';
import { waitFor } from '../../lib/local/process.ts';
import { connect as connectDb } from '../../app/src/db.ts';
import { freePort, startTestNginx, startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { runWrk, socketErrorCount } from '../helpers/wrk.ts';
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
  port: number;
  metricsPort: number;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startApi(extra: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const metricsPort = await freePort();
  const child = spawn(process.execPath, [bundle], {
    env: { ...process.env, ...testEnv(pg.url, redis.url, { HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info', ...extra }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('API ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, alive: () => child.exitCode === null });
  return { child, port, metricsPort, url, output: () => output, exited };
}

async function metric(r: Running, name: string, labels = ''): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A request whose body is half sent: in flight until `finish` is called. */
function halfSentRequest(port: number): Promise<{ finish: () => void; response: Promise<string> }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      const body = JSON.stringify({ name: 'Inflight', email: `inflight-${Date.now()}@example.com` });
      socket.write(`POST /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
      let data = '';
      socket.on('data', (d) => (data += d));
      const response = new Promise<string>((res) => socket.on('close', () => res(data)));
      resolve({ finish: () => socket.write(body.slice(10)), response });
    });
  });
}

describe('process model', () => {
  it('serves on one port with WEB_CONCURRENCY workers and aggregates their metrics', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '2' });
    try {
      // Ready means one worker answers; wait for the second to listen too.
      await waitFor('both workers listening', async () => (await metric(api, 'apistack_workers_alive')) === 2, { timeoutMs: 20_000 });
      const workers = new Set<string>();
      for (let i = 0; i < 40 && workers.size < 2; i++) {
        const res = await fetch(`${api.url}/api/status`, { headers: { connection: 'close' } });
        workers.add(res.headers.get('x-worker-id')!);
      }
      expect(workers.size).toBe(2);
      expect(await metric(api, 'apistack_http_request_duration_seconds_count', '{method="GET",route="/api/status",status_code="200"}')).toBeGreaterThanOrEqual(2);
      // Not on the public port.
      expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
    }
  });

  it('finishes in-flight requests on SIGTERM, then exits 0', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '1' });
    const inflight = await halfSentRequest(api.port);
    await waitFor('request in flight', async () => (await metric(api, 'apistack_http_requests_in_flight')) >= 1, { timeoutMs: 5000 });
    api.child.kill('SIGTERM');
    await waitFor('readiness off', async () => (await fetch(`${api.url}/readyz`).catch(() => undefined)) === undefined, { timeoutMs: 5000 });
    inflight.finish();
    const raw = await inflight.response;
    expect(raw).toMatch(/^HTTP\/1\.1 201/);
    expect(raw.toLowerCase()).toContain('connection: close');
    expect(await api.exited).toBe(0);
  });

  it('kills workers past GRACEFUL_TIMEOUT and says so in the exit code', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '1' });
    await halfSentRequest(api.port); // never finished
    await waitFor('request in flight', async () => (await metric(api, 'apistack_http_requests_in_flight')) >= 1, { timeoutMs: 5000 });
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(1);
    expect(api.output()).toContain('graceful timeout (1 s) passed: killing workers');
  });

  it('SIGTERM while the workers are still starting: none starts listening, and the replica exits 0 at once', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [bundle], {
      env: { ...process.env, ...testEnv(pg.url, redis.url, { HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(await freePort()), WEB_CONCURRENCY: '2', LOG_LEVEL: 'info' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The primary has forked; the workers are loading the bundle.
    await waitFor('primary started', () => output.includes('"msg":"started"'), { timeoutMs: 10_000 });
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    // Not the graceful timeout (30 s) a worker that missed its drain would have been killed at.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(output).not.toContain('Server listening');
  });

  it('an idle kept-alive client does not make a short graceful timeout kill the workers', async () => {
    // GRACEFUL_TIMEOUT 8: the drain waits 3 s for idle connections, then closes them itself.
    const api = await startApi({ WEB_CONCURRENCY: '1', GRACEFUL_TIMEOUT: '8', DRAIN_IDLE_TIMEOUT: '' });
    const socket = connect(api.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d));
    socket.write('GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('answer', () => received.includes('"status":"ok"'), { timeoutMs: 5000 });
    api.child.kill('SIGTERM');
    expect(await api.exited, api.output()).toBe(0);
    expect(api.output()).not.toContain('graceful timeout');
    socket.destroy();
  });

  /** The loadtest profile's balancer in front of `ports`, with its log for diagnostics. */
  async function balancer(ports: number[]) {
    const profile = loadProfile('loadtest');
    const statusPort = await freePort();
    let dir = '';
    const nginx = await startTestNginx((port, d) => {
      dir = d;
      return renderNginxConfig(profile, { kind: 'local', listenPort: port, statusPort, upstreamPorts: ports, prefixDir: d });
    });
    const errorLog = () => {
      try {
        return readFileSync(join(dir, 'logs', 'error.log'), 'utf8');
      } catch (e) {
        return String(e);
      }
    };
    return { ...nginx, profile, errorLog };
  }

  /** Scrape the request total every 20 ms until stopped: every scrape must answer, and never go down. */
  function scrapeWhile(api: Running) {
    const totals: number[] = [];
    let running = true;
    const done = (async () => {
      while (running) {
        totals.push(await metric(api, 'apistack_http_request_duration_seconds_count', '{method="GET",route="/api/status",status_code="200"}'));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    return { totals, stop: async () => ((running = false), await done) };
  }

  it('recycles at full speed through nginx with upstream keep-alive, two replicas: no failed request, no reset, neither taken out, metrics never drop', async () => {
    const profile = loadProfile('loadtest');
    // The drain wait the profile derives (nginx keepalive_timeout + margin), and a recycle every few thousand requests.
    const env = appEnvironment(profile);
    const recycling = { WEB_CONCURRENCY: '1', MAX_REQUESTS: '4000', MAX_REQUESTS_JITTER: '1000', DRAIN_IDLE_TIMEOUT: env.DRAIN_IDLE_TIMEOUT!, GRACEFUL_TIMEOUT: env.GRACEFUL_TIMEOUT! };
    // Two upstream servers, as the stack has: nginx never takes out its only server, so with one
    // the "temporarily disabled" check below could not fail.
    const apis = [await startApi(recycling), await startApi(recycling)];
    const nginx = await balancer(apis.map((a) => a.port));
    const diagnostics = () => `nginx error.log:\n${nginx.errorLog().slice(-3000)}\n${apis.map((a, i) => `API ${i} output:\n${a.output().slice(-2000)}`).join('\n')}`;
    const served = (api: Running) => metric(api, 'apistack_http_request_duration_seconds_count', '{method="GET",route="/api/status",status_code="200"}');
    try {
      const scrapes = scrapeWhile(apis[0]!);
      const r = await runWrk({ url: `${nginx.url}/api/status`, connections: 50, seconds: 20 });
      await scrapes.stop();
      expect({ non2xx: r.non2xx, socketErrors: socketErrorCount(r) }, `${r.output}\n${diagnostics()}`).toEqual({ non2xx: 0, socketErrors: 0 });
      // nginx saw no reset, no early close, and took neither replica out.
      expect(nginx.errorLog(), diagnostics()).not.toMatch(/recv\(\) failed|prematurely closed|temporarily disabled|no live upstreams|\[error\]/);
      let recycles = 0;
      for (const api of apis) {
        recycles += await metric(api, 'apistack_worker_restarts_total', '{reason="recycle"}');
        expect(await metric(api, 'apistack_worker_restarts_total', '{reason="crash"}'), diagnostics()).toBe(0);
      }
      // A worker asks to be recycled every 4000-5000 requests and serves on while its replacement
      // starts, so a loaded machine sees fewer recycles than requests / 5000; still, many.
      expect(recycles, diagnostics()).toBeGreaterThanOrEqual(5);
      expect(scrapes.totals.length).toBeGreaterThanOrEqual(10);
      expect(scrapes.totals, 'a scrape saw the request total go down').toEqual([...scrapes.totals].sort((a, b) => a - b));
      // nginx closing its upstream connections lets the lingering workers finish; then every
      // served request is counted exactly once: wrk's total plus the requests it abandoned when it stopped.
      await nginx.cleanup();
      await waitFor('retired totals handed over', async () => (await served(apis[0]!)) + (await served(apis[1]!)) >= r.requests, { timeoutMs: 20_000 });
      const counted = [await served(apis[0]!), await served(apis[1]!)];
      expect(counted[0]! + counted[1]! - r.requests).toBeLessThanOrEqual(50);
      // least_conn kept both busy: a replica taken out for a while would fall far behind.
      for (const c of counted) expect(c, `requests per replica: ${counted.join(', ')}`).toBeGreaterThan(r.requests / 4);
    } finally {
      await nginx.cleanup();
      for (const api of apis) api.child.kill('SIGTERM');
      await Promise.all(apis.map((a) => a.exited));
    }
  }, 90_000);

  it('recycles at full speed with clients connected directly: no socket error', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '2', MAX_REQUESTS: '4000', MAX_REQUESTS_JITTER: '1000', DRAIN_IDLE_TIMEOUT: '15' });
    try {
      const r = await runWrk({ url: `${api.url}/api/status`, connections: 50, seconds: 20 });
      expect({ non2xx: r.non2xx, socketErrors: r.socketErrors }, `${r.output}\n${api.output().slice(-3000)}`).toEqual({ non2xx: 0, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 } });
      expect(await metric(api, 'apistack_worker_restarts_total', '{reason="recycle"}')).toBeGreaterThanOrEqual(5);
      expect(await metric(api, 'apistack_worker_restarts_total', '{reason="crash"}')).toBe(0);
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
    }
  }, 90_000);

  it('a draining worker answers a request sent on an idle kept-alive connection, with Connection: close', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '1', DRAIN_IDLE_TIMEOUT: '10' });
    const socket = connect(api.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const request = 'GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n';
    socket.write(request);
    await waitFor('first answer', () => received.includes('"status":"ok"'), { timeoutMs: 5000 });
    expect(received.toLowerCase()).toContain('connection: keep-alive');
    received = '';
    // The connection is idle and the worker starts draining: it must not close it under the client.
    api.child.kill('SIGTERM');
    await waitFor('readiness off', async () => (await fetch(`${api.url}/readyz`).catch(() => undefined)) === undefined, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(socket.destroyed).toBe(false);
    socket.write(request);
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(await api.exited).toBe(0);
  });

  it('SHUTDOWN_DELAY: readiness goes 503 at once while requests are still served, then the replica drains and exits 0', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '1', SHUTDOWN_DELAY: '2' });
    api.child.kill('SIGTERM');
    await waitFor('readiness off', async () => (await fetch(`${api.url}/readyz`).catch(() => undefined))?.status === 503, { timeoutMs: 1500 });
    const during = await fetch(`${api.url}/api/status`);
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).not.toBe('close');
    expect(await api.exited).toBe(0);
    expect(api.output()).toContain('leaving: readiness off');
  });

  it('a worker that may have missed invalidations (its subscription dropped) stops serving from L1', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '1', CACHE_TTL_SECONDS: '300' });
    const admin = new Redis(redis.url);
    const db = connectDb(pg.url, { max: 1, statementTimeoutMs: 10_000 });
    try {
      const created = await fetch(`${api.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: 'Before', email: `missed-${Date.now()}@example.com` }) });
      const { id } = (await created.json()) as { id: string };
      expect(((await (await fetch(`${api.url}/api/users/${id}`)).json()) as { name: string }).name).toBe('Before'); // now in L1
      // The subscription drops, and a write's invalidation goes out while it is down (simulated:
      // the row changes and its Redis entry goes, but this worker hears nothing).
      await admin.client('KILL', 'TYPE', 'pubsub');
      await db`UPDATE users SET name = 'After', updated_at = now() WHERE id = ${id}`;
      await admin.del(`cache:user:${id}`);
      await expect.poll(async () => ((await (await fetch(`${api.url}/api/users/${id}`)).json()) as { name: string }).name, { timeout: 3000 }).toBe('After');
    } finally {
      admin.disconnect();
      await db.end();
      api.child.kill('SIGTERM');
      await api.exited;
    }
  });

  it('`migrate` run by several replicas at once applies each migration exactly once', async () => {
    const admin = connectDb(pg.url, { max: 1, statementTimeoutMs: 30_000 });
    const database = `fresh_${Date.now()}`;
    await admin.unsafe(`CREATE DATABASE ${database}`);
    const url = pg.url.replace(/\/[^/]+$/, `/${database}`);
    const run = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [bundle, 'migrate'], { env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        child.stderr!.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const results = await Promise.all([run(), run(), run()]);
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    const outputs = results.map((r) => r.out.trim()).sort();
    expect(outputs).toEqual(['applied migrations 1, 2', 'database is up to date', 'database is up to date']);
    const fresh = connectDb(url, { max: 1, statementTimeoutMs: 30_000 });
    try {
      expect((await fresh<{ id: number }[]>`SELECT id FROM schema_migrations ORDER BY id`).map((r) => r.id)).toEqual([1, 2]);
    } finally {
      await fresh.end();
      await admin.end();
    }
  });

  it('a worker that stops hands its hot keys on; the next one starts with them in L1', async () => {
    const first = await startApi({ WEB_CONCURRENCY: '1', CACHE_WARMUP_KEYS: '50' });
    const created = await fetch(`${first.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: 'Hot', email: `hot-${Date.now()}@example.com` }) });
    const { id } = (await created.json()) as { id: string };
    expect((await fetch(`${first.url}/api/users/${id}`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const next = await startApi({ WEB_CONCURRENCY: '1', CACHE_WARMUP_KEYS: '50' });
    try {
      expect(next.output()).toMatch(/"fromRedis":1,"fromPostgres":0.*cache warmed/);
      expect((await fetch(`${next.url}/api/users/${id}`)).status).toBe(200);
      expect(await metric(next, 'apistack_cache_requests_total', '{layer="l1",result="hit"}')).toBe(1);
      expect(await metric(next, 'apistack_cache_requests_total', '{layer="l1",result="miss"}')).toBe(0);
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
  });

  it('after a worker is SIGKILLed under load, every acknowledged event is stored exactly once', async () => {
    const api = await startApi({ WEB_CONCURRENCY: '2', RATE_LIMIT_PER_MINUTE: '1000000' });
    try {
      const keyRes = await fetch(`${api.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const { key } = (await keyRes.json()) as { key: string };
      const acked = new Map<string, string>();
      let killed = false;
      const send = async (n: number) => {
        const idem = `kill-test-${n}`;
        // A client retries with the same Idempotency-Key until it gets an answer.
        for (let attempt = 0; attempt < 50; attempt++) {
          try {
            const res = await fetch(`${api.url}/api/events`, {
              // A request handed to the worker as it died may never be answered: clients time out and retry.
              signal: AbortSignal.timeout(3000),
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-api-key': key, 'idempotency-key': idem },
              body: JSON.stringify({ type: 'kill-test', payload: { n } }),
            });
            if (res.status === 202) {
              acked.set(idem, ((await res.json()) as { id: string }).id);
              if (!killed && n === 100) {
                killed = true;
                process.kill(Number(res.headers.get('x-worker-id')), 'SIGKILL');
              }
              return;
            }
            await res.arrayBuffer();
          } catch {
            // connection reset by the killed worker: retry
          }
        }
        throw new Error(`event ${n} never acknowledged`);
      };
      for (let batch = 0; batch < 30; batch++) await Promise.all(Array.from({ length: 10 }, (_, i) => send(batch * 10 + i)));
      expect(killed).toBe(true);
      expect(acked.size).toBe(300);
      const psql = spawnSync('psql', [pg.url, '-tAc', "SELECT count(*), count(DISTINCT idempotency_key) FROM events WHERE type = 'kill-test'"], { encoding: 'utf8' });
      expect(psql.stdout.trim()).toBe('300|300');
      const ids = spawnSync('psql', [pg.url, '-tAc', "SELECT string_agg(idempotency_key || '=' || id, ',') FROM events WHERE type = 'kill-test'"], { encoding: 'utf8' }).stdout.trim().split(',');
      for (const pair of ids) {
        const [idem, id] = pair.split('=');
        expect(acked.get(idem!)).toBe(id);
      }
      await waitFor('crashed worker replaced', async () => (await metric(api, 'apistack_workers_alive')) === 2, { timeoutMs: 10_000 });
      expect(await metric(api, 'apistack_worker_restarts_total', '{reason="crash"}')).toBe(1);
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
    }
  }, 120_000);
});
