/**
 * Generator benchmark: how much of what the target serves `apistack loadtest` can measure, with
 * each engine, next to wrk measured in the same run on the same machine with the same
 * connections (1 thread, 50): against nginx answering `return 200` itself (the fastest target
 * there is, where the generator is the limit) and through the local stack's nginx on
 * /api/status. Each `apistack loadtest` run is the real CLI with --format json; its report says
 * which engine ran and whether the generator was saturated. Writes test/bench/results/generator.json
 * and generator.md. Run with `npx tsx test/bench/generator.bench.ts` (BENCH_SECONDS per case,
 * default 8). Targets are reported, never enforced: exit 1 means the bench broke.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalState } from '../../lib/local/env.ts';
import type { LoadTestReport } from '../../lib/loadtest/report.ts';
import { startTestNginx } from '../helpers/servers.ts';
import { runWrk } from '../helpers/wrk.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'bin', 'apistack.mjs');
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const warmupSeconds = 2;
const connections = 50;
const work = mkdtempSync(join(tmpdir(), 'apistack-bench-generator-'));
// Postgres runs as the postgres user when we are root: it must reach its data dir.
chmodSync(work, 0o755);
const stateDir = join(work, 'stack');

interface Case {
  name: string;
  engine: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuPercent?: number;
  saturated?: boolean;
}

function cliRun(args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 2, 2] }).on('exit', resolve));
}

async function wrkCase(name: string, url: string): Promise<Case> {
  // The same warm-up as the loadtest runs get, unmeasured.
  await runWrk({ url, seconds: warmupSeconds, connections, threads: 1 });
  const w = await runWrk({ url, seconds, connections, threads: 1 });
  const errors = w.non2xx + w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout;
  return { name: `${name}: wrk (reference)`, engine: 'wrk (reference)', requestsPerSecond: Math.round(w.requestsPerSecond), p50Ms: w.latencyMs.p50, p99Ms: w.latencyMs.p99, errors };
}

async function loadtestCase(name: string, target: string, engine: 'wrk' | 'autocannon'): Promise<Case> {
  const out = join(work, `${name.replace(/\W+/g, '-')}-${engine}.json`);
  const code = await cliRun(['loadtest', '--target', target, '--scenario', 'status', '--connections', String(connections), '--duration', `${seconds}s`, '--warmup', `${warmupSeconds}s`, '--engine', engine, '--format', 'json', '--out', out]);
  if (code !== 0 && code !== 2) throw new Error(`apistack loadtest --engine ${engine} exited ${code}`);
  const r = JSON.parse(readFileSync(out, 'utf8')) as LoadTestReport;
  const g = typeof r.generator === 'object' ? r.generator : undefined;
  const label = `apistack loadtest --engine ${engine}${g ? ` (${g.engine})` : ''}`;
  return {
    name: `${name}: ${label}`,
    engine: label,
    requestsPerSecond: Math.round(r.requests.perSecond),
    p50Ms: r.latencyMs.p50,
    p99Ms: r.latencyMs.p99,
    errors: r.requests.total - Math.round(r.successRate * r.requests.total),
    ...(g ? { cpuPercent: g.cpuPercent, saturated: g.saturated } : {}),
  };
}

/** The three generators on one target, in turn. */
async function target(name: string, base: string): Promise<Case[]> {
  const reference = await wrkCase(name, `${base}/api/status`);
  const withWrk = await loadtestCase(name, base, 'wrk');
  const withAutocannon = await loadtestCase(name, base, 'autocannon');
  return [reference, withWrk, withAutocannon];
}

let nginx: Awaited<ReturnType<typeof startTestNginx>> | undefined;
let stackUp = false;
try {
  nginx = await startTestNginx((port, dir) => `worker_processes 1;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; location / { return 200 'ok'; } }
}
`);
  const staticCases = await target('nginx return 200', nginx.url);
  await nginx.cleanup();
  nginx = undefined;

  const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`app build failed:\n${built.stderr}`);
  if ((await cliRun(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus'])) !== 0) throw new Error('apistack local up failed');
  stackUp = true;
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LocalState;
  const stackCases = await target('GET /api/status through the stack', state.url);

  const ratio = (a: Case, b: Case) => Math.round((a.requestsPerSecond / b.requestsPerSecond) * 1000) / 1000;
  const ratios = {
    staticWrkEngineVsWrk: ratio(staticCases[1]!, staticCases[0]!),
    staticAutocannonVsWrk: ratio(staticCases[2]!, staticCases[0]!),
    stackWrkEngineVsWrk: ratio(stackCases[1]!, stackCases[0]!),
    stackAutocannonVsWrk: ratio(stackCases[2]!, stackCases[0]!),
  };
  const targets = [{ name: 'staticWrkEngineVsWrk', value: ratios.staticWrkEngineVsWrk, target: 0.8, op: '>=', passed: ratios.staticWrkEngineVsWrk >= 0.8 }];
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version },
    settings: { connections, threads: 1, seconds, warmupSeconds },
    results: [...staticCases, ...stackCases],
    ratios,
    targets,
  };
  const md = [
    `# Load generators against wrk (1 thread, ${connections} connections, ${seconds} s after ${warmupSeconds} s of warm-up)`,
    '',
    '| target: generator | req/s | p50 ms | p99 ms | errors | generator CPU | saturated |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...report.results.map((c) => `| ${c.name} | ${c.requestsPerSecond} | ${c.p50Ms} | ${c.p99Ms} | ${c.errors} | ${c.cpuPercent === undefined ? '–' : `${c.cpuPercent}%`} | ${c.saturated === undefined ? '–' : c.saturated ? 'yes' : 'no'} |`),
    '',
    '| ratio | value |',
    '|---|---:|',
    ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...targets.map((t) => `Target ${t.name} ≥ ${t.target}: ${t.value} (${t.passed ? 'met' : '**not met**'})`),
    '',
  ].join('\n');
  const out = join(repoRoot, 'test', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'generator.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'generator.md'), md);
  console.log(md);
} finally {
  await nginx?.cleanup();
  if (stackUp && (await cliRun(['local', 'down', '--state-dir', stateDir])) !== 0) console.error(`· local down failed: run \`node bin/apistack.mjs local down --state-dir ${stateDir}\``);
  rmSync(work, { recursive: true, force: true });
}
