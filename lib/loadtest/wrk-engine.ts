/**
 * The faster engine: wrk (C, one event loop per thread) drives a scenario of one kind for a time,
 * with no fixed rate and no stages: status (one fixed request, wrk's fastest path) or read
 * (request() in Lua draws the seeded users uniformly, as the other engine does). It runs as a chain
 * of one-second wrk runs, so the report keeps its shape: a timeline per second, the warm-up as
 * its first seconds, and the latency distribution of each second read back from wrk's Lua
 * `done(summary, latency, requests)` hook (every recorded value and its count, in µs) into the
 * same histogram the other engine fills. Each link reconnects its connections (a millisecond on
 * loopback), which the timeline shows as the length of its seconds.
 *
 * wrk's latency distribution is corrected for coordinated omission (as wrk prints it: a
 * response slower than the connections' mean interval adds the values the requests it held
 * back would have seen), so its histogram may hold more values than there were answers.
 *
 * wrk counts no status codes: answers below 400 are reported as one class (2xx-3xx), answers of
 * 400 and above as another (4xx-5xx, failures).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { LatencyHistogram } from './histogram.ts';
import { RunRecorder, WRK_ERROR_CLASS, WRK_OK_CLASS } from './recorder.ts';
import { fixedRequest, NO_SEED, type SeedData } from './requests.ts';
import type { RunOptions, RunResult } from './runner.ts';
import { warmupSecondsOf, type Scenario } from './scenario.ts';
import { parseTargetUrl } from './url.ts';

/** The one line of JSON the script's done() prints, after this marker. */
const MARKER = 'APISTACK-WRK ';

/** The one kind of a scenario wrk can drive: status (one fixed request) or read (uniform over the seeded users). */
function wrkKind(s: Scenario): 'status' | 'read' | undefined {
  const kinds = new Set(s.mix.map((m) => m.kind));
  if (kinds.size !== 1) return undefined;
  const [kind] = kinds;
  return kind === 'status' || kind === 'read' ? kind : undefined;
}

/** Why wrk cannot run this scenario, or undefined when it can. */
export function wrkUnsupported(s: Scenario): string | undefined {
  if (!wrkKind(s)) return 'its mix is not status or read alone (wrk counts no kinds, and its writes would need per-request keys)';
  if (s.stages) return 'it ramps through stages';
  if (s.requests !== undefined) return 'it is bounded by a request count';
  if (s.rate !== undefined) return 'it drives a fixed rate';
  return undefined;
}

/** wrk on this machine: $APISTACK_WRK, then the PATH, then /usr/bin/wrk. */
export function findWrk(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.APISTACK_WRK, ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'wrk')), '/usr/bin/wrk'].filter((p): p is string => Boolean(p));
  for (const p of candidates) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Lua: reads drawn uniformly over the seeded users, as the other engine draws them (lib/loadtest/requests.ts). */
function readRequestLua(basePath: string, seed: SeedData): string {
  const total = seed.userIdRanges.reduce((sum, r) => sum + (r.last - r.first + 1), 0);
  if (total === 0) throw new Error('a read scenario needs seeded users');
  const ranges = seed.userIdRanges.map((r) => `{${r.first},${r.last}}`).join(',');
  return `local ranges = {${ranges}}
local total = ${total}
local prefix = ${JSON.stringify(`${basePath}/api/users/`)}
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local i = math.random(0, total - 1)
  for _, r in ipairs(ranges) do
    local size = r[2] - r[1] + 1
    if i < size then return wrk.format("GET", prefix .. string.format("%d", r[1] + i)) end
    i = i - size
  end
  return wrk.format("GET", prefix .. string.format("%d", ranges[#ranges][2]))
end
`;
}

/** The Lua script for wrk: the scenario's requests (a fixed one, or drawn by request()), and done() printing what was measured as JSON. */
export function wrkScript(request: { readonly method: string; readonly path: string; readonly headers?: Readonly<Record<string, string>> } | { readonly lua: string }): string {
  const requests =
    'lua' in request
      ? request.lua
      : `wrk.method = ${JSON.stringify(request.method)}
wrk.path = ${JSON.stringify(request.path)}
${Object.entries(request.headers ?? {})
  .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
  .join('\n')}`;
  return `${requests}
done = function(summary, latency, requests)
  local e = summary.errors
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    if count > 0 then parts[#parts + 1] = string.format("[%d,%d]", value, count) end
  end
  io.write(string.format('${MARKER}{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"latencyUs":[%s]}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ",")))
end
`;
}

interface WrkSecond {
  readonly requests: number;
  readonly durationUs: number;
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly status: number;
  readonly timeout: number;
  readonly latencyUs: readonly (readonly [number, number])[];
}

export function parseWrkDone(output: string): WrkSecond {
  const line = output.split('\n').find((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`wrk printed no result:\n${output.trim()}`);
  return JSON.parse(line.slice(MARKER.length)) as WrkSecond;
}

/** CPU time (user + system, ms) of the children this process has reaped, from /proc/self/stat. */
function reapedChildrenCpuMs(): number {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number);
    // cutime and cstime, in clock ticks (100 per second on Linux).
    return (v[13]! + v[14]!) * 10;
  } catch {
    return 0;
  }
}

/** Nanoseconds a process's threads ran and waited for a core so far (Linux schedstat), or undefined. */
function schedstat(pid: number): { runNs: number; waitNs: number } | undefined {
  try {
    let runNs = 0;
    let waitNs = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const v = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      runNs += v[0] ?? 0;
      waitNs += v[1] ?? 0;
    }
    return { runNs, waitNs };
  } catch {
    return undefined;
  }
}

/** One wrk run: its output, and how long its threads waited for a core (sampled while it ran: its last 100 ms are not seen). */
function runOnce(wrk: string, args: string[], signal: AbortSignal | undefined): Promise<{ output: string; waitNs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let waitNs = 0;
    const sampler = setInterval(() => {
      const s = child.pid !== undefined ? schedstat(child.pid) : undefined;
      if (s) waitNs = s.waitNs;
    }, 100);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // wrk stops at SIGINT and still prints what it measured.
    const onAbort = () => child.kill('SIGINT');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      signal?.removeEventListener('abort', onAbort);
      if (code !== 0 && !signal?.aborted) return reject(new Error(`wrk exited ${code}:\n${output.trim()}`));
      resolve({ output, waitNs });
    });
  });
}

export async function runWrkScenario(opts: RunOptions & { readonly wrk: string }): Promise<RunResult> {
  const s = opts.scenario;
  const why = wrkUnsupported(s);
  if (why) throw new Error(`wrk cannot run scenario ${s.name}: ${why}`);
  const url = parseTargetUrl(opts.url);
  const basePath = url.pathname.replace(/\/+$/, '');
  const kind = wrkKind(s)!;
  const fixed = fixedRequest(s, basePath);
  // wrk takes whole seconds.
  const warmup = Math.ceil(warmupSecondsOf(s));
  const measured = Math.max(1, Math.ceil(s.durationSeconds!));
  const seconds = warmup + measured;
  const dir = mkdtempSync(join(tmpdir(), 'apistack-wrk-'));
  const script = join(dir, 'scenario.lua');
  writeFileSync(script, wrkScript(fixed ?? { lua: readRequestLua(basePath, opts.seed ?? NO_SEED) }));
  const recorder = new RunRecorder({ connections: s.connections, warmupSeconds: warmup });
  const args = ['-t', '1', '-c', String(s.connections), '-d', '1s', '--timeout', `${Math.max(1, Math.round(opts.timeoutSeconds ?? 10))}s`, '-s', script, `${url.origin}${fixed?.path ?? `${basePath}/`}`];
  const startedAt = new Date();
  const cpu0 = process.cpuUsage();
  const children0 = reapedChildrenCpuMs();
  const t0 = performance.now();
  let lastSecond: number | undefined;
  let at = 0;
  let waitNs = 0;
  const progressTimer = opts.onProgress
    ? setInterval(() => {
        const elapsed = (performance.now() - t0) / 1000;
        const p = recorder.progress(at + 1000);
        opts.onProgress!({ elapsedSeconds: elapsed, plannedSeconds: seconds, ...(warmup > 0 ? { warmupSeconds: warmup } : {}), requests: p.requests, failed: p.failed, requestsPerSecond: lastSecond ?? 0, p95Ms: p.p95Ms, connections: s.connections, stage: 1, stages: 1 });
      }, opts.progressIntervalMs ?? 250)
    : undefined;
  try {
    for (let i = 0; i < seconds && !opts.signal?.aborted; i++) {
      const { output, waitNs: waited } = await runOnce(opts.wrk, args, opts.signal);
      waitNs += waited;
      // Stopped before wrk could say what it measured: the run ends with the last whole second.
      if (opts.signal?.aborted && !output.includes(MARKER)) break;
      const done = parseWrkDone(output);
      const latency = new LatencyHistogram();
      for (const [us, n] of done.latencyUs) latency.record(us / 1000, n);
      const sockets = { 'connection-refused': done.connect, 'connection-reset': done.read + done.write, timeout: done.timeout };
      // Each second is laid on the run's clock where it started.
      recorder.batch(at, { latency, statusCodes: { [WRK_OK_CLASS]: done.requests - done.status, [WRK_ERROR_CLASS]: done.status }, failures: sockets, kind });
      at += 1000;
      lastSecond = done.requests / Math.max(1e-6, done.durationUs / 1e6);
    }
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    rmSync(dir, { recursive: true, force: true });
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // wrk's own CPU (one thread) and this process's while it waited; no event loop of ours drove the load.
  const cpuMs = reapedChildrenCpuMs() - children0 + (cpu.user + cpu.system) / 1000;
  const interrupted = opts.signal?.aborted === true;
  const result = recorder.result(interrupted ? Math.min(at, wallMs) : at);
  return {
    ...result,
    startedAt,
    connections: s.connections,
    generator: { cpuPercent: Number(((cpuMs / Math.max(1, wallMs)) * 100).toFixed(1)), eventLoopDelayP99Ms: 0, runQueuePercent: Number(((waitNs / 1e6 / Math.max(1, wallMs)) * 100).toFixed(1)) },
    interrupted,
  };
}
