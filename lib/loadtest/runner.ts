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
import { startGeneratorMeter, type GeneratorLoad } from './generator.ts';
import { RunRecorder, type Recorded } from './recorder.ts';
import { fixedRequest, NO_SEED, requestPlan, type SeedData } from './requests.ts';
import { scenarioDurationSeconds, warmupSecondsOf, type RequestKind, type Scenario } from './scenario.ts';
import { parseTargetUrl } from './url.ts';

export type { TimelinePoint } from './recorder.ts';

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
  /** The warm-up at the start of the run (in plannedSeconds), when there is one. */
  readonly warmupSeconds?: number;
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

export interface RunResult extends Recorded {
  readonly startedAt: Date;
  /** The most connections held at once (the peak stage). */
  readonly connections: number;
  readonly stages?: readonly { readonly durationSeconds: number; readonly connections: number }[];
  /** What driving the load cost this process. */
  readonly generator: GeneratorLoad;
  /** Stopped by the signal before the scenario's end. */
  readonly interrupted: boolean;
}

interface Phase {
  readonly connections: number;
  readonly durationSeconds?: number;
  readonly requests?: number;
}

/** The stages as runs; a warm-up lengthens the first (the connections stay open into the measured part), or precedes a request count. */
function phasesOf(s: Scenario, warmup: number): Phase[] {
  const phases: Phase[] = s.stages
    ? s.stages.map((st) => ({ connections: st.connections, durationSeconds: st.durationSeconds }))
    : s.requests !== undefined
      ? [{ connections: Math.min(s.connections, s.requests), requests: s.requests }]
      : [{ connections: s.connections, durationSeconds: s.durationSeconds! }];
  if (warmup <= 0) return phases;
  const first = phases[0]!;
  if (first.durationSeconds === undefined) return [{ connections: first.connections, durationSeconds: warmup }, ...phases];
  return [{ ...first, durationSeconds: first.durationSeconds + warmup }, ...phases.slice(1)];
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
  const warmup = warmupSecondsOf(s);
  const phases = phasesOf(s, warmup);
  const recorder = new RunRecorder({ connections: phases[0]!.connections, warmupSeconds: warmup });
  let phaseIndex = 0;
  let current: AutocannonInstance | undefined;
  let interrupted = false;

  const startedAt = new Date();
  const meter = startGeneratorMeter();
  const t0 = performance.now();
  let end = t0;

  const onAbort = () => {
    interrupted = true;
    current?.stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const plannedSeconds = scenarioDurationSeconds(s);
  const progressTimer = opts.onProgress
    ? setInterval(() => {
        const now = performance.now();
        const p = recorder.progress(now - t0);
        opts.onProgress!({
          elapsedSeconds: (now - t0) / 1000,
          ...(plannedSeconds !== undefined ? { plannedSeconds: plannedSeconds + warmup } : {}),
          ...(s.requests !== undefined ? { plannedRequests: s.requests } : {}),
          ...(warmup > 0 ? { warmupSeconds: warmup } : {}),
          requests: p.requests,
          failed: p.failed,
          // The last whole second; before the first one ends, the rate so far.
          requestsPerSecond: p.lastSecond ?? Math.round((p.requests * 1000) / Math.max(1, now - t0)),
          p95Ms: p.p95Ms,
          connections: phases[phaseIndex]!.connections,
          stage: phaseIndex + 1,
          stages: phases.length,
        });
      }, opts.progressIntervalMs ?? 250)
    : undefined;

  try {
    for (; phaseIndex < phases.length && !interrupted; phaseIndex++) {
      const phase = phases[phaseIndex]!;
      recorder.connections = phase.connections;
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
          recorder.response(now - t0, statusCode, ms, fixed?.kind ?? answeredKind);
          answeredKind = undefined;
        });
        instance.on('reqError', (error: { message?: string; code?: string }) => {
          const now = performance.now();
          if (now > deadline) return;
          lastEvent = now;
          recorder.failure(now - t0, errorKind(error));
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

  const generator = meter.stop();
  return {
    ...recorder.result(end - t0),
    startedAt,
    connections: Math.max(...phases.map((p) => p.connections)),
    ...(s.stages ? { stages: s.stages.map((st) => ({ durationSeconds: st.durationSeconds, connections: st.connections })) } : {}),
    generator,
    interrupted,
  };
}
