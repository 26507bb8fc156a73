/**
 * What a run measured, apart from how the load was driven: counts, status codes, failures by
 * kind, one latency histogram over the run and one per second for the timeline. An engine feeds
 * it events (an answer, a failure) stamped with the time since the run started; no sockets, so
 * it is tested on its own.
 *
 * A warm-up (the first `warmupSeconds` of the run) is recorded on the timeline, marked as such,
 * and left out of every total: counts, status codes, errors and percentiles are of the steady
 * part alone.
 */
import { LatencyHistogram } from './histogram.ts';
import type { RequestKind } from './scenario.ts';

export interface TimelinePoint {
  /** Start of this interval, seconds since the run started (the warm-up included). */
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
  /** Within the warm-up: shown, not counted in the totals. */
  readonly warmup?: boolean;
}

export interface Recorded {
  /** Every measured response's latency, whatever its status. */
  readonly latency: LatencyHistogram;
  /** Requests answered (any status) after the warm-up. */
  readonly responses: number;
  /** Requests that ended without an answer (timeout, reset, refused) after the warm-up. */
  readonly socketErrors: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** Failures by kind: non-2xx, timeout, connection-reset, connection-refused, socket-<code>. */
  readonly errors: Readonly<Record<string, number>>;
  readonly requestsByKind: Readonly<Partial<Record<RequestKind, number>>>;
  readonly timeline: readonly TimelinePoint[];
  /** The measured span: from the end of the warm-up to the end of the run. */
  readonly durationSeconds: number;
  /** The warm-up as it ran: its length and the requests finished in it (in no total). */
  readonly warmup: { readonly seconds: number; readonly requests: number };
}

/** What wrk counts as answered below 400 (it counts no codes, only statuses of 400 and above as errors). */
export const WRK_OK_CLASS = '2xx-3xx';
export const WRK_ERROR_CLASS = '4xx-5xx';

/** A status code (or wrk's class of answers below 400) that is a success. */
export function isSuccess(code: string): boolean {
  if (code === WRK_OK_CLASS) return true;
  const n = Number(code);
  return n >= 200 && n < 300;
}

class Interval {
  readonly latency = new LatencyHistogram();
  /** Answers (any status); wrk's corrected histogram may hold more values than it had answers. */
  answered = 0;
  failed = 0;
  socketErrors = 0;
  constructor(readonly connections: number) {}

  get requests(): number {
    return this.answered + this.socketErrors;
  }
}

export class RunRecorder {
  private readonly latency = new LatencyHistogram();
  private readonly statusCodes: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};
  private readonly byKind: Partial<Record<RequestKind, number>> = {};
  private readonly seconds: Interval[] = [];
  private readonly warmupMs: number;
  private responses = 0;
  private socketErrors = 0;
  private failedCount = 0;
  private warmupRequests = 0;
  /** The connections held now: each second is labelled with the count when it began. */
  connections: number;

  constructor(opts: { readonly connections: number; readonly warmupSeconds?: number }) {
    this.connections = opts.connections;
    this.warmupMs = Math.max(0, (opts.warmupSeconds ?? 0) * 1000);
  }

  private at(ms: number): Interval {
    const i = Math.max(0, Math.floor(ms / 1000));
    while (this.seconds.length <= i) this.seconds.push(new Interval(this.connections));
    return this.seconds[i]!;
  }

  /** An answer `ms` after the run started, with its status and latency. */
  response(ms: number, status: number, latencyMs: number, kind?: RequestKind): void {
    const second = this.at(ms);
    second.latency.record(latencyMs);
    second.answered++;
    const failed = status < 200 || status >= 300;
    if (failed) second.failed++;
    if (ms < this.warmupMs) {
      this.warmupRequests++;
      return;
    }
    this.responses++;
    if (kind) this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    this.latency.record(latencyMs);
    this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1;
    if (failed) {
      this.failedCount++;
      this.errors['non-2xx'] = (this.errors['non-2xx'] ?? 0) + 1;
    }
  }

  /** A request that ended without an answer, `ms` after the run started. */
  failure(ms: number, kind: string): void {
    const second = this.at(ms);
    second.failed++;
    second.socketErrors++;
    if (ms < this.warmupMs) {
      this.warmupRequests++;
      return;
    }
    this.socketErrors++;
    this.failedCount++;
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  /**
   * What an engine that measures in whole intervals (wrk) saw in one, starting `ms` after the
   * run started: its latency, answers by status (or wrk's classes), failures by kind.
   */
  batch(ms: number, b: { readonly latency: LatencyHistogram; readonly statusCodes: Readonly<Record<string, number>>; readonly failures: Readonly<Record<string, number>>; readonly kind?: RequestKind }): void {
    const second = this.at(ms);
    second.latency.add(b.latency);
    const answered = Object.values(b.statusCodes).reduce((a, n) => a + n, 0);
    second.answered += answered;
    const failures = Object.values(b.failures).reduce((a, n) => a + n, 0);
    const non2xx = Object.entries(b.statusCodes).reduce((a, [code, n]) => a + (isSuccess(code) ? 0 : n), 0);
    second.failed += non2xx + failures;
    second.socketErrors += failures;
    if (ms < this.warmupMs) {
      this.warmupRequests += answered + failures;
      return;
    }
    this.responses += answered;
    this.socketErrors += failures;
    this.failedCount += non2xx + failures;
    this.latency.add(b.latency);
    if (b.kind) this.byKind[b.kind] = (this.byKind[b.kind] ?? 0) + answered;
    for (const [code, n] of Object.entries(b.statusCodes)) if (n > 0) this.statusCodes[code] = (this.statusCodes[code] ?? 0) + n;
    if (non2xx > 0) this.errors['non-2xx'] = (this.errors['non-2xx'] ?? 0) + non2xx;
    for (const [kind, n] of Object.entries(b.failures)) if (n > 0) this.errors[kind] = (this.errors[kind] ?? 0) + n;
  }

  /** For live progress: requests finished so far (the warm-up included), failures and latency of the measured part. */
  progress(ms: number): { requests: number; failed: number; lastSecond?: number; p95Ms: number } {
    const last = this.seconds[Math.floor(ms / 1000) - 1];
    return {
      requests: this.responses + this.socketErrors + this.warmupRequests,
      failed: this.failedCount,
      ...(last ? { lastSecond: last.requests } : {}),
      p95Ms: this.latency.percentile(95),
    };
  }

  /** What was recorded over a run that lasted `totalMs` from its start. */
  result(totalMs: number): Recorded {
    const total = Math.max(totalMs / 1000, 0.001);
    const warmupSeconds = Math.min(this.warmupMs / 1000, total);
    // A last interval of a few milliseconds would show a rate from a handful of requests: it joins the second before it.
    const intervals = this.seconds.map((second, i) => ({ second, t: i, length: Math.max(0, Math.min(1, total - i)) }));
    const tail = intervals.at(-1);
    if (tail && intervals.length > 1 && tail.length < 0.5) {
      intervals.pop();
      const prev = intervals.at(-1)!;
      prev.second.latency.add(tail.second.latency);
      prev.second.answered += tail.second.answered;
      prev.second.failed += tail.second.failed;
      prev.second.socketErrors += tail.second.socketErrors;
      prev.length += tail.length;
    }
    const timeline = intervals.map(({ second, t, length }): TimelinePoint => ({
      t,
      seconds: Number(length.toFixed(3)),
      requests: second.requests,
      failed: second.failed,
      requestsPerSecond: length > 0 ? second.requests / length : 0,
      connections: second.connections,
      latencyMs: { p50: second.latency.percentile(50), p95: second.latency.percentile(95), p99: second.latency.percentile(99), max: second.latency.max, mean: second.latency.mean },
      // A second that starts inside the warm-up is the warm-up's (warm-ups are whole seconds by default).
      ...(t * 1000 < this.warmupMs ? { warmup: true } : {}),
    }));
    return {
      latency: this.latency,
      responses: this.responses,
      socketErrors: this.socketErrors,
      statusCodes: { ...this.statusCodes },
      errors: { ...this.errors },
      requestsByKind: { ...this.byKind },
      timeline,
      durationSeconds: Math.max(total - warmupSeconds, 0.001),
      warmup: { seconds: Number(warmupSeconds.toFixed(3)), requests: this.warmupRequests },
    };
  }
}
