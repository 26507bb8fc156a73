/**
 * Sustained-load benchmark: what a user sees when they drive the local stack hard. Starts the
 * real stack with `apistack local up --profile loadtest`, then drives it with wrk (1 thread, 50
 * connections): /api/status, cached user reads and event writes (keys seeded as the `write`
 * scenario seeds them), each through nginx least_conn,
 * next to references measured in the same run on the same machine with the same connections:
 * the stack's nginx answering `return 200` itself (the ceiling), a bare Fastify pair behind a
 * minimal nginx (what the framework alone costs), and pgbench select-only and single-row insert
 * on the stack's own Postgres (the database's ceilings for a read and a committed write).
 * Reports non-2xx, socket errors and worker recycles per case, and writes
 * test/bench/results/load.json and load.md.
 * Run with `npm run bench:load` (BENCH_SECONDS per stack case, default 60; BENCH_REFERENCE_SECONDS
 * per reference, default 15). Targets are reported, never enforced: exit 1 means the bench broke.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { LocalState } from '../../lib/local/env.ts';
import { BUILTIN_SCENARIOS } from '../../lib/loadtest/scenario.ts';
import { runSetup } from '../../lib/loadtest/setup.ts';
import { requireBinary } from '../../lib/local/binaries.ts';
import { isPortOpen, stopPid, waitFor } from '../../lib/local/process.ts';
import { freePort, startTestNginx } from '../helpers/servers.ts';
import { runWrk, socketErrorCount } from '../helpers/wrk.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'bin', 'apistack.mjs');
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const referenceSeconds = Number(process.env.BENCH_REFERENCE_SECONDS ?? 15);
const warmupSeconds = 3;
const connections = 50;
const threads = 1;

interface Result {
  name: string;
  seconds: number;
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number; total: number };
  /** Worker restarts during the measured run (stack cases only). */
  recycles?: number;
  crashes?: number;
  /** Where the CPU went, microseconds of CPU time per request (stack cases only). */
  cpuMicrosecondsPerRequest?: CpuShare;
  /** pgbench reports a mean latency only: p50/p90/p99 then hold that mean. */
  meanLatencyOnly?: boolean;
}

interface CpuShare {
  nginx: number;
  apiWorkers: number;
  apiPrimaries: number;
  /** Everything else the machine did: wrk, Postgres, Redis, the kernel's network stack. */
  other: number;
}

/** CPU ticks (utime + stime) of a process, and of its children it has reaped (cutime + cstime). */
function ticks(pid: number): { own: number; reaped: number } {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number);
    // Fields 14-17 of proc(5), counted from the state field (3).
    return { own: v[11]! + v[12]!, reaped: v[13]! + v[14]! };
  } catch {
    return { own: 0, reaped: 0 };
  }
}

function children(parent: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A group's CPU ticks so far: its parents' own, plus their children's, live and exited (recycled workers). */
function groupTicks(parents: number[]): { parents: number; children: number } {
  let own = 0;
  let kids = 0;
  for (const p of parents) {
    const t = ticks(p);
    own += t.own;
    kids += t.reaped + children(p).reduce((sum, c) => sum + ticks(c).own, 0);
  }
  return { parents: own, children: kids };
}

/** Busy ticks of the whole machine (/proc/stat: everything but idle and iowait). */
function machineTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
}

function cpuSnapshot(state: LocalState) {
  const api = groupTicks(state.services.filter((s) => s.name.startsWith('api-')).map((s) => s.pid));
  const nginx = groupTicks(state.services.filter((s) => s.name === 'nginx').map((s) => s.pid));
  return { api, nginx: nginx.parents + nginx.children, machine: machineTicks() };
}

function cpuShare(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, requests: number): CpuShare {
  const us = (t: number) => Math.round((t * (1e6 / CLOCK_TICKS_PER_SECOND) / requests) * 10) / 10;
  const nginx = after.nginx - before.nginx;
  const workers = after.api.children - before.api.children;
  const primaries = after.api.parents - before.api.parents;
  const machine = after.machine - before.machine;
  return { nginx: us(nginx), apiWorkers: us(workers), apiPrimaries: us(primaries), other: us(machine - nginx - workers - primaries) };
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

requireBinary('wrk'); // before anything starts: a missing wrk names its package

/** One case: an unmeasured warm-up (JIT, caches, upstream keepalive pools), then the measured run. */
async function measure(name: string, url: string, duration: number, between?: () => Promise<void>, scriptFile?: string): Promise<Result> {
  const script = scriptFile ? { script: scriptFile } : {};
  await runWrk({ url, seconds: warmupSeconds, connections, threads, ...script });
  await between?.();
  const r = await runWrk({ url, seconds: duration, connections, threads, ...script });
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  const result: Result = {
    name,
    seconds: duration,
    requestsPerSecond: Math.round(r.requestsPerSecond),
    requests: r.requests,
    p50Ms: round(r.latencyMs.p50),
    p90Ms: round(r.latencyMs.p90),
    p99Ms: round(r.latencyMs.p99),
    non2xx: r.non2xx,
    socketErrors: { ...r.socketErrors, total: socketErrorCount(r) },
  };
  console.error(`· ${name}: ${result.requestsPerSecond} req/s, p99 ${result.p99Ms} ms`);
  return result;
}

/** Worker restarts summed over every API replica, read from each primary's aggregated metrics. */
async function restarts(state: LocalState): Promise<{ recycle: number; crash: number }> {
  const total = { recycle: 0, crash: 0 };
  for (const s of state.services.filter((x) => x.name.startsWith('api-'))) {
    const text = await (await fetch(`http://127.0.0.1:${s.adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    for (const line of text.split('\n')) {
      const m = /^apistack_worker_restarts_total\{[^}]*reason="(recycle|crash)"[^}]*\}\s+([\d.e+]+)/.exec(line);
      if (m) total[m[1] as 'recycle' | 'crash'] += Number(m[2]);
    }
  }
  return total;
}

async function stackCase(name: string, url: string, state: LocalState, scriptFile?: string): Promise<Result> {
  // Counted around the measured run only, like every other figure of the case.
  let before = { recycle: 0, crash: 0 };
  let cpuBefore = cpuSnapshot(state);
  const result = await measure(
    name,
    url,
    seconds,
    async () => {
      before = await restarts(state);
      cpuBefore = cpuSnapshot(state);
    },
    scriptFile,
  );
  const cpu = cpuShare(cpuBefore, cpuSnapshot(state), result.requests);
  const after = await restarts(state);
  return { ...result, recycles: after.recycle - before.recycle, crashes: after.crash - before.crash, cpuMicrosecondsPerRequest: cpu };
}

/**
 * wrk Lua: POST /api/events with API keys taken in turn (each key has its own rate limit) and a
 * new Idempotency-Key per request, so every request is a committed write.
 */
function postEventsScript(keys: readonly string[]): string {
  return `local keys = { ${keys.map((k) => JSON.stringify(k)).join(', ')} }
local counter = 0
local run = "${process.pid}-${Date.now()}"
request = function()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-API-Key"] = keys[(counter % #keys) + 1],
    ["Idempotency-Key"] = run .. "-" .. counter,
  }
  return wrk.format("POST", "/api/events", headers, '{"type":"bench","payload":{"n":' .. counter .. '}}')
end
`;
}

/** pgbench with the same connections, on the stack's Postgres: the database's own ceiling. */
function pgbench(name: string, url: string, file: string): Result {
  const r = spawnSync(requireBinary('pgbench'), ['-f', file, '-c', String(connections), '-j', '2', '-T', String(referenceSeconds), '-n', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pgbench failed: ${r.stderr}`);
  const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1]);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(r.stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  console.error(`· ${name}: ${Math.round(tps)} tps, mean ${latency} ms`);
  // pgbench reports a mean, not percentiles: p50/p90/p99 hold the mean, marked as such.
  return { name, meanLatencyOnly: true, seconds: referenceSeconds, requestsPerSecond: Math.round(tps), requests: Math.round(tps * referenceSeconds), p50Ms: latency, p90Ms: latency, p99Ms: latency, non2xx: failed, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0, total: 0 } };
}

// One plain Fastify process, nothing of the app: the framework's own cost behind nginx.
const BARE_FASTIFY = `import { createRequire } from 'node:module';
const fastify = createRequire(${JSON.stringify(join(repoRoot, 'package.json'))})('fastify');
const app = fastify({ logger: false });
app.get('/api/status', async () => ({ status: 'ok', version: '0.1.0', uptimeSeconds: 1 }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
`;

const stateDir = mkdtempSync('/tmp/apistack-load-');
chmodSync(stateDir, 0o755); // Postgres runs as the postgres user when we are root: it must reach its data dir
const bareDir = mkdtempSync('/tmp/apistack-bare-');
const bareProcs: ChildProcess[] = [];
let bareNginx: Awaited<ReturnType<typeof startTestNginx>> | undefined;

/** The real CLI, its output on stderr so stdout carries only the markdown. */
function cliRun(...args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 2, 2] }).on('exit', resolve));
}

// Once only: the finally block and a signal may both ask for it.
let teardown: Promise<void> | undefined;
function tearDown(): Promise<void> {
  teardown ??= (async () => {
    await bareNginx?.cleanup();
    await Promise.all(bareProcs.map((p) => stopPid(p.pid!, { timeoutMs: 5000 })));
    // A failed down keeps the state dir: it is what a second `local down` needs to find the pids.
    if ((await cliRun('local', 'down', '--state-dir', stateDir)) !== 0) console.error(`· local down failed: run \`node bin/apistack.mjs local down --state-dir ${stateDir}\``);
    else rmSync(stateDir, { recursive: true, force: true });
    rmSync(bareDir, { recursive: true, force: true });
  })();
  return teardown;
}
// Ctrl-C mid-run must not leave the stack behind (finally blocks do not run on a signal). Async
// on purpose: tsx's parent SIGKILLs a child whose event loop stays blocked after a signal.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`· ${sig}: tearing down`);
    void tearDown().finally(() => process.exit(130));
  });
}

try {
  const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`app build failed:\n${built.stderr}`);
  const up = await cliRun('local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus');
  if (up !== 0) throw new Error(`apistack local up exited ${up}`);
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LocalState;

  const created = await fetch(`${state.url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${state.adminToken}` }, body: JSON.stringify({ name: 'Load Bench', email: `load-${Date.now()}@example.com` }) });
  if (created.status !== 201) throw new Error(`seeding a user answered ${created.status}: ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };

  const nginxStatic = await measure('nginx static return 200', `${state.url}/nginx-health`, referenceSeconds);

  writeFileSync(join(bareDir, 'bare.mjs'), BARE_FASTIFY);
  const barePorts = [await freePort(), await freePort()];
  for (const port of barePorts) bareProcs.push(spawn(process.execPath, [join(bareDir, 'bare.mjs')], { env: { ...process.env, PORT: String(port) }, stdio: 'inherit' }));
  await waitFor('bare Fastify listening', async () => (await Promise.all(barePorts.map((p) => isPortOpen(p)))).every(Boolean), { timeoutMs: 20_000 });
  // The same balancing and upstream keep-alive as the stack's nginx, and nothing else.
  bareNginx = await startTestNginx((port, dir) => `worker_processes 1;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/temp/client_body; proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi; uwsgi_temp_path ${dir}/temp/uwsgi; scgi_temp_path ${dir}/temp/scgi;
  upstream bare { least_conn; ${barePorts.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://bare; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`);
  const bareFastify = await measure('bare Fastify behind nginx', `${bareNginx.url}/api/status`, referenceSeconds);
  // Stopped before the stack cases so they do not compete for the two cores.
  await bareNginx.cleanup();
  bareNginx = undefined;
  await Promise.all(bareProcs.splice(0).map((p) => stopPid(p.pid!, { timeoutMs: 5000 })));

  // The database's ceilings, on the stack's own Postgres with its durable settings.
  const sqlDir = join(bareDir, 'sql');
  mkdirSync(sqlDir, { recursive: true });
  writeFileSync(join(sqlDir, 'select.sql'), `SELECT id, name, email FROM users WHERE id = ${Number(id)};\n`);
  writeFileSync(join(sqlDir, 'insert.sql'), `INSERT INTO bench_insert (payload) VALUES ('{"type":"bench","payload":{"n":1}}');\n`);
  const psql = (sql: string) => {
    const r = spawnSync(requireBinary('psql'), [state.databaseUrl, '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  psql('CREATE TABLE IF NOT EXISTS bench_insert (id bigserial primary key, payload jsonb not null, created_at timestamptz not null default now())');
  const pgSelect = pgbench('pgbench select one user by id', state.databaseUrl, join(sqlDir, 'select.sql'));
  const pgInsert = pgbench('pgbench single-row insert', state.databaseUrl, join(sqlDir, 'insert.sql'));
  psql('DROP TABLE bench_insert');

  const status = await stackCase('GET /api/status through the stack', `${state.url}/api/status`, state);
  const cached = await stackCase('GET /api/users/:id (cached) through the stack', `${state.url}/api/users/${id}`, state);
  // The same keys the built-in write scenario seeds: enough that the per-key rate limit is not what is measured.
  const { apiKeys } = await runSetup(BUILTIN_SCENARIOS.write!, { url: state.url, adminToken: state.adminToken, runId: `bench-${Date.now()}` });
  const eventsScript = join(bareDir, 'post-events.lua');
  writeFileSync(eventsScript, postEventsScript(apiKeys));
  const events = await stackCase('POST /api/events through the stack', `${state.url}/api/events`, state, eventsScript);

  const ratio = (a: Result, b: Result) => Math.round((a.requestsPerSecond / b.requestsPerSecond) * 1000) / 1000;
  const ratios = {
    statusVsStatic: ratio(status, nginxStatic),
    cachedVsStatic: ratio(cached, nginxStatic),
    statusVsBareFastify: ratio(status, bareFastify),
    cachedVsPgbenchSelect: ratio(cached, pgSelect),
    eventsVsPgbenchInsert: ratio(events, pgInsert),
  };
  const target = (name: string, value: number, op: '==' | '>=', want: number) => ({ name, value, target: want, op, passed: op === '==' ? value === want : value >= want });
  const targets = [
    ...[status, cached, events].flatMap((r) => [target(`${r.name}: non-2xx`, r.non2xx, '==', 0), target(`${r.name}: socket errors`, r.socketErrors.total, '==', 0)]),
    // Recycling must happen during the fast cases, or they did not test it (writes are fewer).
    ...[status, cached].map((r) => target(`${r.name}: recycles`, r.recycles ?? 0, '>=', 4)),
    target('statusVsStatic', ratios.statusVsStatic, '>=', 0.3),
  ];
  const nginxVersion = /nginx\/(\S+)/.exec(spawnSync(requireBinary('nginx'), ['-v'], { encoding: 'utf8' }).stderr)?.[1] ?? 'unknown';
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version, nginx: nginxVersion },
    settings: { connections, threads, seconds, referenceSeconds, warmupSeconds },
    results: [nginxStatic, bareFastify, pgSelect, pgInsert, status, cached, events],
    ratios,
    targets,
  };

  const dash = (v: number | undefined) => (v === undefined ? '–' : String(v));
  const md = [
    `# Sustained load (wrk, ${threads} thread, ${connections} connections)`,
    '',
    `${report.machine.cpus} CPUs, Node ${report.machine.node}, nginx ${nginxVersion}; stack cases ${seconds} s, references ${referenceSeconds} s, each HTTP case after ${warmupSeconds} s of unmeasured warm-up. pgbench reports a mean latency only: its p50 column shows that mean.`,
    '',
    '| case | req/s | p50 ms | p99 ms | non-2xx | socket errors | recycles | crashes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...report.results.map((r) => `| ${r.name} | ${r.requestsPerSecond} | ${r.meanLatencyOnly ? `mean ${r.p50Ms}` : r.p50Ms} | ${r.meanLatencyOnly ? '–' : r.p99Ms} | ${r.non2xx} | ${r.socketErrors.total} | ${dash(r.recycles)} | ${dash(r.crashes)} |`),
    '',
    'Where the CPU went, microseconds of CPU time per request (from /proc; "other" is everything else the machine did: wrk, Postgres, Redis, the kernel):',
    '',
    '| case | nginx | API workers | API primaries | other |',
    '|---|---:|---:|---:|---:|',
    ...report.results.filter((r) => r.cpuMicrosecondsPerRequest).map((r) => `| ${r.name} | ${r.cpuMicrosecondsPerRequest!.nginx} | ${r.cpuMicrosecondsPerRequest!.apiWorkers} | ${r.cpuMicrosecondsPerRequest!.apiPrimaries} | ${r.cpuMicrosecondsPerRequest!.other} |`),
    '',
    '| ratio | value |',
    '|---|---:|',
    ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| target | value | wanted | passed |',
    '|---|---:|---:|---|',
    ...targets.map((t) => `| ${t.name} | ${t.value} | ${t.op === '==' ? '=' : '≥'} ${t.target} | ${t.passed ? 'yes' : '**no**'} |`),
    '',
  ].join('\n');
  const out = join(repoRoot, 'test', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'load.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'load.md'), md);
  console.log(md);
} finally {
  await tearDown();
}
