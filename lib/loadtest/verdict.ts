/**
 * One verdict over every runner of a load test in a cluster, from the stack's Prometheus that the
 * runners remote-wrote to: the run is read as `loadtest report` reads it (cluster-run.ts: this
 * run's runners only, every series whole, the warm-up apart), then judged against the scenario's
 * thresholds. The dashboard's live panels are the same sums over the same series.
 */
import { parseChoice, UserError } from '../errors.ts';
import { readClusterRun, type ClusterRun, type ClusterRunPromql } from './cluster-run.ts';
import { histogramQuantile } from './native-histogram.ts';
import type { Scenario, Thresholds } from './scenario.ts';
import { errorPercentText, fixed, int, msText } from './wording.ts';

export const VERDICT_FORMATS = ['text', 'json'] as const;
export type VerdictFormat = (typeof VERDICT_FORMATS)[number];

export interface ThresholdVerdict {
  readonly name: string;
  readonly threshold: keyof Thresholds;
  readonly limit: number;
  readonly passed: boolean;
  /** In the threshold's unit (ms, %, req/s); absent when Prometheus had no value for it. */
  readonly actual?: number;
}

export interface RunTotals {
  /** Requests of the measured part (the warm-up's are in warmupRequests only). */
  readonly total: number;
  readonly errors: number;
  readonly errorRatePercent: number | null;
  readonly runners: number;
  /** Requests the runners sent in the scenario's warm-up, before the measured part: in no total, percentile or threshold. */
  readonly warmupRequests: number;
  /** The measured part: from one push interval before the first sample (k6 counts from its start) to the last, less the warm-up. */
  readonly seconds: number;
  readonly perSecond: number;
  /** The worst runner's percentiles over its run, from runners that write per-stat gauges: an upper bound for the run as a whole. */
  readonly worstRunnerMs: { readonly p50?: number; readonly p95?: number; readonly p99?: number };
  /** The run's percentiles over every runner's requests, from their native histograms (exact to a bucket's width). */
  readonly allRunnersMs: { readonly p50?: number; readonly p95?: number; readonly p99?: number };
}

export interface Verdict {
  readonly scenario: string;
  readonly prometheus: string;
  /** RFC 3339: the run's last sample, where it was read up to. */
  readonly at: string;
  readonly thresholds: readonly ThresholdVerdict[];
  readonly requests?: RunTotals;
  readonly passed: boolean;
}

export function parseVerdictFormat(value: string): VerdictFormat {
  return parseChoice('--format', value, VERDICT_FORMATS);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `--at` as unix seconds: an RFC 3339 time or unix seconds. */
export function parseAt(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new UserError(`--at must be an RFC 3339 time (2025-01-31T14:05:00Z) or unix seconds (1738332300), got "${value}"`);
  return ms / 1000;
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** The run's percentiles over every runner's answered requests, ms, from their native histograms. */
export function runPercentilesMs(run: ClusterRun): { p50?: number; p95?: number; p99?: number } {
  const h = run.measured.histogram;
  if (!h || h.count === 0) return {};
  return { p50: round(histogramQuantile(h, 0.5) * 1000), p95: round(histogramQuantile(h, 0.95) * 1000), p99: round(histogramQuantile(h, 0.99) * 1000) };
}

const PERCENTILES = [['p50Ms', 'p50', 'p(50)'], ['p95Ms', 'p95', 'p(95)'], ['p99Ms', 'p99', 'p(99)']] as const;

/**
 * The run judged against the scenario's thresholds, over its measured part: the percentiles over
 * every runner's requests (or, from runners without native histograms, the worst runner's), the
 * error rate and the throughput over the whole measured run.
 */
export function judgeRun(run: ClusterRun, s: Scenario, prometheus: string): Verdict {
  const t = s.thresholds;
  const all = runPercentilesMs(run);
  const total = run.measured.requests;
  const seconds = round(run.measuredSeconds);
  const thresholds: ThresholdVerdict[] = [];
  for (const [key, stat, name] of PERCENTILES) {
    const limit = t[key];
    if (limit === undefined) continue;
    const actual = all[stat] ?? run.measured.worstMs[stat];
    thresholds.push({ name: `${name} < ${limit} ms`, threshold: key, limit, passed: actual !== undefined && actual < limit, ...(actual !== undefined ? { actual } : {}) });
  }
  const errorRate = total > 0 ? round((run.measured.failed / total) * 100, 6) : null;
  if (t.errorRatePercent !== undefined) {
    thresholds.push({ name: `errors < ${t.errorRatePercent}%`, threshold: 'errorRatePercent', limit: t.errorRatePercent, passed: errorRate !== null && errorRate < t.errorRatePercent, ...(errorRate !== null ? { actual: errorRate } : {}) });
  }
  const perSecond = round(total / seconds, 2);
  if (t.minRequestsPerSecond !== undefined) {
    thresholds.push({ name: `throughput >= ${t.minRequestsPerSecond} req/s`, threshold: 'minRequestsPerSecond', limit: t.minRequestsPerSecond, passed: total > 0 && perSecond >= t.minRequestsPerSecond, actual: perSecond });
  }
  return {
    scenario: s.name,
    prometheus,
    at: new Date(run.end * 1000).toISOString(),
    thresholds,
    requests: { total, errors: run.measured.failed, errorRatePercent: errorRate, runners: run.runners.length, warmupRequests: run.warmupRequests, seconds, perSecond, worstRunnerMs: run.measured.worstMs, allRunnersMs: all },
    passed: thresholds.every((x) => x.passed),
  };
}

export async function evaluateVerdict(opts: { prometheus: URL; scenario: Scenario; at?: number; promql: ClusterRunPromql }): Promise<Verdict> {
  const run = await readClusterRun(opts);
  return judgeRun(run, opts.scenario, opts.prometheus.href.replace(/\/$/, ''));
}

/** A threshold's measured value; `exact`: the percentiles came from every runner's native histograms. */
function actualText(t: ThresholdVerdict, exact: boolean): string {
  if (t.actual === undefined) return t.threshold === 'errorRatePercent' ? 'none: no request was measured' : 'none: the runners wrote no latencies';
  if (t.threshold === 'errorRatePercent') return errorPercentText(t.actual);
  if (t.threshold === 'minRequestsPerSecond') return `${fixed(t.actual, 1)} req/s over the measured run`;
  return `${msText(t.actual)} ms (${exact ? 'every runner' : 'worst runner'})`;
}

export function renderVerdict(v: Verdict, format: VerdictFormat): string {
  if (format === 'json') return `${JSON.stringify(v, null, 2)}\n`;
  const out: string[] = [`${v.scenario}: verdict over every runner, from Prometheus at ${v.prometheus}, the run up to ${v.at}`];
  if (v.thresholds.length > 0) {
    out.push('', 'thresholds');
    const width = Math.max(...v.thresholds.map((t) => t.name.length));
    for (const t of v.thresholds) out.push(`  ${t.passed ? 'PASS' : 'FAIL'}  ${t.name.padEnd(width)}  actual ${actualText(t, Object.keys(v.requests?.allRunnersMs ?? {}).length > 0)}`);
  }
  const r = v.requests;
  if (r) {
    const rate = ` in ${fixed(r.seconds, 1)} s, ${fixed(r.perSecond, 1)} req/s`;
    const warmup = r.warmupRequests > 0 ? ` (after a warm-up of ${int(r.warmupRequests)} requests, in no total)` : '';
    out.push('', `requests   ${int(r.total)} from ${r.runners} runner${r.runners === 1 ? '' : 's'}${rate}${warmup}`);
    out.push(`errors     ${int(r.errors)}${r.errorRatePercent !== null ? ` (${errorPercentText(r.errorRatePercent)})` : ''}`);
    const all = (['p50', 'p95', 'p99'] as const).filter((k) => r.allRunnersMs[k] !== undefined).map((k) => `${k} ${msText(r.allRunnersMs[k]!)} ms`);
    if (all.length > 0) out.push(`latency    ${all.join(', ')}: over every runner's requests (native histograms)`);
    const p = (['p50', 'p95', 'p99'] as const).filter((k) => r.worstRunnerMs[k] !== undefined).map((k) => `${k} ${msText(r.worstRunnerMs[k]!)} ms`);
    if (p.length > 0) out.push(`${all.length > 0 ? 'worst      ' : 'latency    '}${p.join(', ')}: the worst runner's, an upper bound for the whole run`);
  }
  const failed = v.thresholds.filter((t) => !t.passed).length;
  out.push('', v.thresholds.length === 0 ? 'no thresholds' : v.passed ? `PASS (${v.thresholds.length} of ${v.thresholds.length} thresholds met)` : `FAIL (${failed} of ${v.thresholds.length} thresholds not met)`);
  return `${out.join('\n')}\n`;
}
