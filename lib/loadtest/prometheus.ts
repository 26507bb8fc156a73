/**
 * A small client of Prometheus' HTTP API, as the load-test verdict and the cluster report ask it:
 * instant queries, raw samples (floats and native histograms) and series, every failure a
 * one-line UserError naming Prometheus' base URL.
 */
import { UserError } from '../errors.ts';

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** One bucket of a native histogram as the API gives it: (lower, upper] for positive values. */
export interface NativeBucket {
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
}

/** A native histogram value: its count, its sum and its populated buckets, in ascending order. */
export interface NativeHistogramValue {
  readonly count: number;
  readonly sum: number;
  readonly buckets: readonly NativeBucket[];
}

/** A series over time: float values or native histograms, at unix seconds. */
export interface RangeSeries {
  readonly metric: Record<string, string>;
  readonly values: readonly (readonly [number, number])[];
  readonly histograms: readonly (readonly [number, NativeHistogramValue])[];
}

function toRangeSeries(result: unknown[]): RangeSeries[] {
  return (result as { metric: Record<string, string>; values?: [number, string][]; histograms?: [number, ApiHistogram][] }[]).map((r) => ({
    metric: r.metric,
    values: (r.values ?? []).map(([t, v]) => [t, Number(v)] as const),
    histograms: (r.histograms ?? []).map(([t, h]) => [t, parseHistogram(h)] as const),
  }));
}

type ApiHistogram = { count: string; sum: string; buckets?: [number, string, string, string][] };

function parseHistogram(h: ApiHistogram): NativeHistogramValue {
  const buckets = (h.buckets ?? []).map(([, lower, upper, count]) => ({ lower: Number(lower), upper: Number(upper), count: Number(count) }));
  return { count: Number(h.count), sum: Number(h.sum), buckets: buckets.sort((a, b) => a.lower - b.lower) };
}

const QUERY_TIMEOUT_MS = 30_000;

/** The reason of a failed fetch in one line (Node wraps it: "fetch failed", cause ECONNREFUSED, sometimes an AggregateError). */
function reason(e: unknown): string {
  const cause = (e as { cause?: unknown }).cause ?? e;
  const inner = cause instanceof AggregateError && cause.errors.length > 0 ? cause.errors[0] : cause;
  const err = inner as { code?: string; message?: string };
  return [err.code, err.message].filter((x, i, all) => x && !(i === 1 && all[0] && x.startsWith(all[0]))).join(' ').replace(/\s+/g, ' ') || String(inner);
}

/** A small client of Prometheus' HTTP API: instant queries and series, every failure a one-line UserError. */
export class PrometheusApi {
  constructor(private readonly base: URL) {}

  private get label(): string {
    return this.base.href.replace(/\/$/, '');
  }

  private async call(path: string, params: URLSearchParams): Promise<unknown> {
    const url = new URL(`${this.base.pathname.replace(/\/+$/, '')}${path}`, this.base.origin);
    let res: Response;
    try {
      // POST keeps long expressions out of the URL (Prometheus accepts form-encoded parameters).
      res = await fetch(url, { method: 'POST', body: params, signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
    } catch (e) {
      if ((e as Error).name === 'TimeoutError') throw new UserError(`Prometheus at ${this.label} did not answer within ${QUERY_TIMEOUT_MS / 1000} s`);
      throw new UserError(`cannot reach Prometheus at ${this.label}: ${reason(e)}`);
    }
    let text = '';
    try {
      text = await res.text();
    } catch (e) {
      // A large answer (the raw samples of a long run) can outlast the timeout while it is read.
      if ((e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError') throw new UserError(`Prometheus at ${this.label} did not finish its answer to ${path} within ${QUERY_TIMEOUT_MS / 1000} s`);
    }
    let body: { status?: string; data?: unknown; errorType?: string; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new UserError(`${this.label} did not answer like Prometheus (HTTP ${res.status} to ${path}): is it Prometheus' base URL?`);
    }
    if (body.status !== 'success') {
      throw new UserError(`Prometheus at ${this.label} answered an error (HTTP ${res.status}): ${body.errorType ?? 'error'}: ${(body.error ?? 'no message').replace(/\s+/g, ' ')}`);
    }
    return body.data;
  }

  async query(expr: string, at: number): Promise<Sample[]> {
    const data = (await this.call('/api/v1/query', new URLSearchParams({ query: expr, time: String(at) }))) as { resultType?: string; result?: unknown };
    if (data?.resultType !== 'vector' || !Array.isArray(data.result)) throw new UserError(`Prometheus at ${this.label} answered ${expr} with a ${data?.resultType ?? 'malformed'} result, not a vector`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** A range vector (`selector[window]`) at `at`: every raw sample, at its own timestamp. */
  async rawSamples(expr: string, at: number): Promise<RangeSeries[]> {
    const data = (await this.call('/api/v1/query', new URLSearchParams({ query: expr, time: String(at) }))) as { resultType?: string; result?: unknown };
    if (data?.resultType !== 'matrix' || !Array.isArray(data.result)) throw new UserError(`Prometheus at ${this.label} answered ${expr} with a ${data?.resultType ?? 'malformed'} result, not a matrix`);
    return toRangeSeries(data.result);
  }

  /** One number, or undefined when the result is empty or not a number. */
  async scalar(expr: string, at: number): Promise<number | undefined> {
    const [first] = await this.query(expr, at);
    return first !== undefined && Number.isFinite(first.value) ? first.value : undefined;
  }

  async hasSeries(selector: string): Promise<boolean> {
    const data = await this.call('/api/v1/series', new URLSearchParams({ 'match[]': selector }));
    return Array.isArray(data) && data.length > 0;
  }
}

