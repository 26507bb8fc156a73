/**
 * wrk, the load generator the tests and benchmarks drive the stack with (on 2 cores it spends
 * far less CPU per request than a Node generator, so it measures the stack, not itself).
 */
import { spawn } from 'node:child_process';
import { requireBinary } from '../../lib/local/binaries.ts';

export interface WrkResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Responses with a status outside 2xx and 3xx. */
  readonly non2xx: number;
  readonly socketErrors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number };
  /** Percentiles from `--latency`, milliseconds. */
  readonly latencyMs: { readonly p50: number; readonly p75: number; readonly p90: number; readonly p99: number };
  readonly output: string;
}

export interface WrkOptions {
  readonly url: string;
  readonly seconds: number;
  /** @default 50 */
  readonly connections?: number;
  /** @default 1 */
  readonly threads?: number;
  /** Extra request headers, e.g. { 'accept-encoding': 'br' }. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Path of a Lua script file that builds the requests (see postUsersScript). */
  readonly script?: string;
  /** Ends the run early, as Ctrl-C does: wrk stops and reports what it measured so far (exit 0). */
  readonly signal?: AbortSignal;
}

/** wrk Lua: POST /api/users (with the admin token) with a new email each time (unique per script), a write that commits in Postgres. */
export const postUsersScript = (adminToken: string, run = `${process.pid}-${Date.now()}`): string => `local counter = 0
local run = "${run}"
request = function()
  counter = counter + 1
  local body = '{"name":"Load","email":"u' .. counter .. '-' .. run .. '@example.com"}'
  return wrk.format("POST", "/api/users", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer ${adminToken}" }, body)
end
`;

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

/** Parse wrk's report (run with --latency). */
export function parseWrk(output: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(output)?.[1] ?? Number.NaN);
  const requests = num(/(\d+) requests in /);
  const requestsPerSecond = num(/Requests\/sec:\s+([\d.]+)/);
  if (!Number.isFinite(requests) || !Number.isFinite(requestsPerSecond)) throw new Error(`wrk printed no result:\n${output}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)$`, 'm').exec(output);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  return {
    requests,
    requestsPerSecond,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    socketErrors: { connect: Number(socket?.[1] ?? 0), read: Number(socket?.[2] ?? 0), write: Number(socket?.[3] ?? 0), timeout: Number(socket?.[4] ?? 0) },
    latencyMs: { p50: pct('50'), p75: pct('75'), p90: pct('90'), p99: pct('99') },
    output,
  };
}

/** Run wrk for a bounded time against a loopback URL. */
export function runWrk(opts: WrkOptions): Promise<WrkResult> {
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(opts.url)) throw new Error(`load tests only target loopback, got ${opts.url}`);
  const bin = requireBinary('wrk');
  const args = ['-t', String(opts.threads ?? 1), '-c', String(opts.connections ?? 50), '-d', `${opts.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(opts.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (opts.script) args.push('-s', opts.script);
  args.push(opts.url);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    opts.signal?.addEventListener('abort', () => child.kill('SIGINT'), { once: true });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      // wrk says it cannot open a script and then runs plain GETs anyway, exit 0: a silent wrong result.
      if (code !== 0 || /: cannot open /.test(output)) return reject(new Error(`wrk exited ${code}:\n${output}`));
      try {
        resolve(parseWrk(output));
      } catch (e) {
        reject(e);
      }
    });
  });
}

export function socketErrorCount(r: WrkResult): number {
  return r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;
}
