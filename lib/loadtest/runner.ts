/**
 * The local runner: drives a scenario against a URL with autocannon (one Node process, the
 * programmatic API) and measures it on its own terms: every response's latency into one
 * histogram and one per second, status codes, and failures by kind.
 *
 * A scenario's ramp stages run as consecutive autocannon runs, each with its stage's
 * connections, sharing one clock, one request generator (Idempotency-Keys never repeat) and one
 * set of counters, so the report reads as one run.
 */
import { connect } from 'node:net';
import { UserError } from '../errors.ts';
import { autocannon, honourConnectionClose, type AutocannonInstance } from './autocannon.ts';
import { LatencyHistogram } from './histogram.ts';
import { fixedRequest, NO_SEED, requestPlan, type SeedData } from './requests.ts';
import { scenarioDurationSeconds, type RequestKind, type Scenario } from './scenario.ts';
import { parseTargetUrl } from './url.ts';

export interface RunOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 (a path, if any, prefixes every route). */
  readonly url: string;
  readonly scenario: Scenario;
  /** What setup seeded; needed when the mix reads or writes. */
  readonly seed?: SeedData;
  /** Makes this run's Idempotency-Keys unique. */
  readonly runId: string;
  /** A request not answered within this counts as a timeout. @default 10 */
  readonly timeoutSeconds?: number;
  /** Called about every `progressIntervalMs` while load runs. */
  readonly onProgress?: (p: RunProgress) => void;
  /** @default 250 */
  readonly progressIntervalMs?: number;
  /** Aborting stops the load at once; the result holds what was measured until then. */
  readonly signal?: AbortSignal;
}

export interface RunProgress {
  readonly elapsedSeconds: number;
  /** The scenario's length in seconds, when bounded by time. */
  readonly plannedSeconds?: number;
  /** The scenario's request count, when bounded by requests. */
  readonly plannedRequests?: number;
  /** Requests finished (answered or failed). */
  readonly requests: number;
  readonly failed: number;
  /** Throughput over the last whole second. */
  readonly requestsPerSecond: number;
  readonly p95Ms: number;
  readonly connections: number;
  /** 1-based stage, and how many there are (1 of 1 without stages). */
  readonly stage: number;
  readonly stages: number;
}

export interface TimelinePoint {
  /** Start of this interval, seconds since the run started. */
  readonly t: number;
  /** Length of the interval (1, shorter for the last). */
  readonly seconds: number;
  /** Requests finished in the interval (answered or failed). */
  readonly requests: number;
  readonly failed: number;
  readonly requestsPerSecond: number;
  readonly connections: number;
  /** Latency of the responses in the interval (0 when there were none). */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number; readonly mean: number };
}

export interface RunResult {
  readonly startedAt: Date;
  /** From the first request to the end of the last stage. */
  readonly durationSeconds: number;
  /** The most connections held at once (the peak stage). */
  readonly connections: number;
  readonly stages?: readonly { readonly durationSeconds: number; readonly connections: number }[];
  /** Every response's latency, whatever its status. */
  readonly latency: LatencyHistogram;
  /** Requests answered (any status). */
  readonly responses: number;
  /** Requests that ended without an answer (timeout, reset, refused). */
  readonly socketErrors: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** Failures by kind: non-2xx, timeout, connection-reset, connection-refused, socket-<code>. */
  readonly errors: Readonly<Record<string, number>>;
  /** Requests answered, by kind of the mix. */
  readonly requestsByKind: Readonly<Partial<Record<RequestKind, number>>>;
  readonly timeline: readonly TimelinePoint[];
  /** Stopped by the signal before the scenario's end. */
  readonly interrupted: boolean;
}

interface Phase {
  readonly connections: number;
  readonly durationSeconds?: number;
  readonly requests?: number;
}

function phasesOf(s: Scenario): Phase[] {
  if (s.stages) return s.stages.map((st) => ({ connections: st.connections, durationSeconds: st.durationSeconds }));
  if (s.requests !== undefined) return [{ connections: Math.min(s.connections, s.requests), requests: s.requests }];
  return [{ connections: s.connections, durationSeconds: s.durationSeconds! }];
}

/** What an error emitted for a request is, as a report's error kind. */
export function errorKind(error: { message?: string; code?: string }): string {
  if (error.message === 'request timed out') return 'timeout';
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection-reset';
    case 'ECONNREFUSED':
      return 'connection-refused';
    case undefined:
      return 'socket-error';
    default:
      return `socket-${error.code.toLowerCase()}`;
  }
}

/** Refuse at once, with a clear message, a target nothing listens on (autocannon would retry forever). */
export async function checkReachable(url: URL): Promise<void> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('no answer within 5 s'), { code: 'ETIMEDOUT' })), 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new UserError(`cannot connect to ${url.origin}: ${e.code ?? e.message}; is the target running and the URL right?`));
    });
  });
}

class SecondStats {
  /** Every answered request's latency (so its count is the answered requests). */
  readonly latency = new LatencyHistogram();
  /** Non-2xx answers and requests without an answer. */
  failed = 0;
  /** Requests without an answer. */
  socketErrors = 0;
  constructor(readonly connections: number) {}

  get requests(): number {
    return this.latency.count + this.socketErrors;
  }
}

export async function runScenario(opts: RunOptions): Promise<RunResult> {
  const s = opts.scenario;
  const url = parseTargetUrl(opts.url);
  await checkReachable(url);
  const basePath = url.pathname.replace(/\/+$/, '');
  const next = requestPlan(s, opts.seed ?? NO_SEED, { basePath, runId: opts.runId });
  const fixed = fixedRequest(s, basePath);
  const requests = fixed
    ? [{ method: fixed.method, path: fixed.path }]
    : [
        {
          setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
            const r = next();
            context.kind = r.kind;
            // autocannon hands over a fresh request object each time, and the plan a fresh header set: no copies.
            return Object.assign(req, { method: r.method, path: r.path, headers: r.headers, body: r.body });
          },
          // Called with the answered request's context just before the 'response' event.
          onResponse: (_status: number, _body: string, context: Record<string, unknown>) => {
            answeredKind = context.kind as RequestKind;
          },
        },
      ];
  let answeredKind: RequestKind | undefined;
  const phases = phasesOf(s);
  const latency = new LatencyHistogram();
  const statusCodes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const requestsByKind: Partial<Record<RequestKind, number>> = {};
  const seconds: SecondStats[] = [];
  let responses = 0;
  let socketErrors = 0;
  let failed = 0;
  let phaseIndex = 0;
  let current: AutocannonInstance | undefined;
  let interrupted = false;

  const startedAt = new Date();
  const t0 = performance.now();
  let end = t0;
  const secondAt = (now: number): SecondStats => {
    const i = Math.floor((now - t0) / 1000);
    while (seconds.length <= i) seconds.push(new SecondStats(phases[phaseIndex]!.connections));
    return seconds[i]!;
  };

  const onAbort = () => {
    interrupted = true;
    current?.stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const plannedSeconds = scenarioDurationSeconds(s);
  const progressTimer = opts.onProgress
    ? setInterval(() => {
        const now = performance.now();
        const last = seconds[Math.floor((now - t0) / 1000) - 1];
        opts.onProgress!({
          elapsedSeconds: (now - t0) / 1000,
          ...(plannedSeconds !== undefined ? { plannedSeconds } : {}),
          ...(s.requests !== undefined ? { plannedRequests: s.requests } : {}),
          requests: responses + socketErrors,
          failed,
          // The last whole second; before the first one ends, the rate so far.
          requestsPerSecond: last?.requests ?? Math.round(((responses + socketErrors) * 1000) / Math.max(1, now - t0)),
          p95Ms: latency.percentile(95),
          connections: phases[phaseIndex]!.connections,
          stage: phaseIndex + 1,
          stages: phases.length,
        });
      }, opts.progressIntervalMs ?? 250)
    : undefined;

  try {
    for (; phaseIndex < phases.length && !interrupted; phaseIndex++) {
      const phase = phases[phaseIndex]!;
      const phaseStart = performance.now();
      // autocannon stops at its next sample after the duration; what answers after the
      // deadline is not counted, so every stage lasts exactly as long as planned.
      const deadline = phase.durationSeconds !== undefined ? phaseStart + phase.durationSeconds * 1000 : Number.POSITIVE_INFINITY;
      let lastEvent = phaseStart;
      await new Promise<void>((resolve, reject) => {
        const instance = autocannon(
          {
            url: url.origin,
            connections: phase.connections,
            ...(phase.durationSeconds !== undefined ? { duration: phase.durationSeconds } : {}),
            ...(phase.requests !== undefined ? { amount: phase.requests } : {}),
            ...(s.rate !== undefined ? { overallRate: s.rate } : {}),
            timeout: opts.timeoutSeconds ?? 10,
            // Checks for the end every 100 ms instead of every second.
            sampleInt: 100,
            requests,
            setupClient: honourConnectionClose,
          },
          (err) => (err ? reject(err) : resolve()),
        );
        current = instance;
        instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
          const now = performance.now();
          if (now > deadline) return;
          lastEvent = now;
          responses++;
          const kind = fixed?.kind ?? answeredKind;
          if (kind) requestsByKind[kind] = (requestsByKind[kind] ?? 0) + 1;
          answeredKind = undefined;
          latency.record(ms);
          const st = secondAt(now);
          st.latency.record(ms);
          statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
          if (statusCode < 200 || statusCode >= 300) {
            failed++;
            st.failed++;
            errors['non-2xx'] = (errors['non-2xx'] ?? 0) + 1;
          }
        });
        instance.on('reqError', (error: { message?: string; code?: string }) => {
          const now = performance.now();
          if (now > deadline) return;
          lastEvent = now;
          socketErrors++;
          failed++;
          const st = secondAt(now);
          st.failed++;
          st.socketErrors++;
          const kind = errorKind(error);
          errors[kind] = (errors[kind] ?? 0) + 1;
        });
        if (interrupted) instance.stop();
      });
      current = undefined;
      end = interrupted ? performance.now() : Number.isFinite(deadline) ? deadline : lastEvent;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (progressTimer) clearInterval(progressTimer);
  }

  const durationSeconds = Math.max((end - t0) / 1000, 0.001);
  // A last interval of a few milliseconds (the clock started just before the first stage) would
  // show a rate from a handful of requests: it joins the second before it.
  const intervals = seconds.map((st, i) => ({ st, t: i, length: Math.max(0, Math.min(1, durationSeconds - i)) }));
  const tail = intervals.at(-1);
  if (tail && intervals.length > 1 && tail.length < 0.5) {
    intervals.pop();
    const prev = intervals.at(-1)!;
    prev.st.latency.add(tail.st.latency);
    prev.st.failed += tail.st.failed;
    prev.st.socketErrors += tail.st.socketErrors;
    prev.length += tail.length;
  }
  const timeline = intervals.map(({ st, t, length }): TimelinePoint => {
    const requests = st.requests;
    return {
      t,
      seconds: Number(length.toFixed(3)),
      requests,
      failed: st.failed,
      requestsPerSecond: length > 0 ? requests / length : 0,
      connections: st.connections,
      latencyMs: { p50: st.latency.percentile(50), p95: st.latency.percentile(95), p99: st.latency.percentile(99), max: st.latency.max, mean: st.latency.mean },
    };
  });
  return {
    startedAt,
    durationSeconds,
    connections: Math.max(...phases.map((p) => p.connections)),
    ...(s.stages ? { stages: s.stages.map((st) => ({ durationSeconds: st.durationSeconds, connections: st.connections })) } : {}),
    latency,
    responses,
    socketErrors,
    statusCodes,
    errors,
    requestsByKind,
    timeline,
    interrupted,
  };
}
