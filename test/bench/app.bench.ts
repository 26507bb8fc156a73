/**
 * API benchmark: one load generator (autocannon), 50 connections, against the app directly,
 * with the ceilings measured in the same run on the same machine: nginx answering `return 200`
 * itself, and pgbench select-only and single-row insert on the same Postgres. Writes
 * test/bench/results/app.json. Run with `npm run bench:app` (BENCH_SECONDS to change the duration,
 * BENCH_WARMUP_SECONDS the unmeasured warm-up before each HTTP case).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { requireBinary } from '../../lib/local/binaries.ts';
import { waitFor } from '../../lib/local/process.ts';
import { freePort, startTestNginx, startTestPostgres, startTestRedis } from '../helpers/servers.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const connections = 50;
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

interface Result {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p95Ms?: number;
  p99Ms: number;
  errors: number;
  non2xx?: number;
}

async function load(name: string, opts: Record<string, unknown>): Promise<Result> {
  // Steady state, not JIT warm-up: a short unmeasured run first, as pgbench's server needs none.
  await autocannon({ connections, duration: warmupSeconds, ...opts });
  const r = await autocannon({ connections, duration: seconds, ...opts });
  const result = { name, requestsPerSecond: Math.round(r.requests.average), p50Ms: r.latency.p50, p95Ms: r.latency.p97_5 ?? r.latency.p90, p99Ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
  console.log(JSON.stringify(result));
  return result;
}

function pgbench(name: string, url: string, args: string[]): Result {
  const bin = requireBinary('pgbench');
  const r = spawnSync(bin, [...args, '-c', String(connections), '-j', '2', '-T', String(seconds), '-n', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pgbench failed: ${r.stderr}`);
  const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1]);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(r.stdout)?.[1]);
  const result = { name, requestsPerSecond: Math.round(tps), p50Ms: latency, p99Ms: Number.NaN, errors: 0 };
  console.log(JSON.stringify(result));
  return result;
}

// Durable settings: the insert ceiling must include real commits.
const pg = await startTestPostgres({ settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', max_connections: 200 } });
const redis = await startTestRedis();
const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
if (built.status !== 0) throw new Error(built.stderr);
const bundle = join(repoRoot, 'dist', 'app', 'main.js');
const env = { ...process.env, DATABASE_URL: pg.url, REDIS_URL: redis.url, ADMIN_TOKEN, LOG_LEVEL: 'warn', HOST: '127.0.0.1', WEB_CONCURRENCY: '2', DATABASE_POOL_SIZE: '10', RATE_LIMIT_PER_MINUTE: '100000000' };
spawnSync(process.execPath, [bundle, 'migrate'], { env });
const port = await freePort();
const api = spawn(process.execPath, [bundle], { env: { ...env, PORT: String(port), METRICS_PORT: String(await freePort()) }, stdio: 'inherit' });
const url = `http://127.0.0.1:${port}`;
try {
  await waitFor('API ready', async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, { timeoutMs: 30_000 });
  const nginx = await startTestNginx((p, dir) => `worker_processes 1;\npid ${dir}/nginx.pid;\nevents { worker_connections 4096; }\nhttp { access_log off; client_body_temp_path ${dir}/temp;\n  server { listen 127.0.0.1:${p}; location / { return 200 "ok"; } } }\n`);
  const user = (await (await fetch(`${url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', email: 'bench@example.com' }) })).json()) as { id: string };
  const { key } = (await (await fetch(`${url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { key: string };

  const nginxStatic = await load('nginx return 200', { url: nginx.url });
  const status = await load('GET /api/status', { url: `${url}/api/status` });
  const cached = await load('GET /api/users/:id (cached)', { url: `${url}/api/users/${user.id}` });
  const events = await load('POST /api/events', { url: `${url}/api/events`, method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ type: 'bench', payload: { a: 1 } }) });
  await nginx.cleanup();

  spawnSync(requireBinary('psql'), [pg.url, '-c', 'CREATE TABLE IF NOT EXISTS bench_insert (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())']);
  const dir = join(repoRoot, 'dist', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'select.sql'), 'SELECT id, name, email FROM users WHERE id = 1;\n');
  writeFileSync(join(dir, 'insert.sql'), `INSERT INTO bench_insert (payload) VALUES ('{"type":"bench","payload":{"a":1}}');\n`);
  const pgSelect = pgbench('pgbench select-only', pg.url, ['-f', join(dir, 'select.sql')]);
  const pgInsert = pgbench('pgbench single-row insert', pg.url, ['-f', join(dir, 'insert.sql')]);

  const ratio = (a: Result, b: Result) => Math.round((a.requestsPerSecond / b.requestsPerSecond) * 1000) / 1000;
  const report = {
    machine: { cpus: (await import('node:os')).availableParallelism(), node: process.version },
    seconds,
    connections,
    results: [nginxStatic, status, cached, events, pgSelect, pgInsert],
    ratios: {
      statusVsNginxStatic: { value: ratio(status, nginxStatic), target: 0.5 },
      cachedUserVsStatus: { value: ratio(cached, status), target: 0.7 },
      eventsVsPgbenchInsert: { value: ratio(events, pgInsert), target: 0.4 },
    },
    eventsP99UnderMs50: events.p99Ms < 50,
  };
  const out = join(repoRoot, 'test', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'app.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report.ratios, null, 2));
} finally {
  api.kill('SIGTERM');
  await new Promise((r) => api.on('exit', r));
  await redis.cleanup();
  await pg.cleanup();
}
