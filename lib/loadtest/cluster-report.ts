/**
 * The full report of a load test run by k6 runners in a cluster, built from what they
 * remote-wrote to the stack's Prometheus: the same report (lib/loadtest/report.ts) a local run
 * writes, so every renderer, `loadtest compare` and `plan` read it alike.
 *
 * - Totals, percentiles and thresholds are of the measured part over every runner: the runners'
 *   native histograms summed, so a percentile is the run's (to a bucket's width), not the worst
 *   runner's. The warm-up (its own k6 scenario) is left out.
 * - The timeline is one point per push interval (k6 writes cumulative values every few seconds):
 *   what the interval added, warm-up included and marked.
 * - The PromQL is the monitoring layer's, handed in (ClusterReportPromql), as for the verdict.
 */
import { UserError } from '../errors.ts';
import { k6TestId, runnersOf } from './k6.ts';
import { EMPTY_HISTOGRAM, histogramDelta, histogramMax, histogramMean, histogramQuantile, toLatencyHistogramMs } from './native-histogram.ts';
import { PrometheusApi, type NativeHistogramValue, type RangeSeries } from './prometheus.ts';
import { evaluateThresholds, REPORT_VERSION, reportCost, type LoadTestReport, type ReportContext } from './report.ts';
import { isSuccess } from './recorder.ts';
import type { TimelinePoint } from './runner.ts';
import { warmupSecondsOf, type Scenario } from './scenario.ts';
import { lookBackSeconds, requireLiveRun, runSpan, type VerdictPromql } from './verdict.ts';

/** The report's PromQL over one run's runners (lib/monitoring's loadTestReportQueries). */
export interface ClusterReportQueries {
  readonly requests: string;
  readonly failed: string;
  readonly histogram: string;
  readonly vus: string;
  readonly measuredHistogram: string;
  readonly measuredByStatus: string;
  readonly measuredByKind: string;
  readonly measuredUnansweredByErrorCode: string;
}

export interface ClusterReportPromql extends Pick<VerdictPromql, 'runQueries'> {
  reportQueries(testId: string, runners: readonly string[]): ClusterReportQueries;
}

/** k6's remote-write push interval when it cannot be measured (one push only): K6_PROMETHEUS_RW_PUSH_INTERVAL's default. */
export const K6_DEFAULT_PUSH_SECONDS = 5;

/** k6's codes for a request that got no answer, as the local runner names them (k6 docs: error codes). */
const K6_ERROR_KINDS: Readonly<Record<string, string>> = { '1050': 'timeout', '1211': 'timeout', '1212': 'connection-refused', '1220': 'connection-reset' };

export interface ClusterReportOptions {
  readonly prometheus: URL;
  readonly scenario: Scenario;
  /** Unix seconds during the run or up to 5 minutes after it; absent: the latest run of the scenario in the last day. */
  readonly at?: number;
  readonly promql: ClusterReportPromql;
  /** What the report says about the environment: the profile and its cost. */
  readonly context?: Pick<ReportContext, 'profile' | 'cost'>;
  readonly now?: () => number;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const ms = (seconds: number) => (Number.isFinite(seconds) ? round(seconds * 1000) : 0);

/** A range result's one series as values at each step k (0..steps), carried forward where a step has none. */
function perStep<T>(series: readonly RangeSeries[], pick: (s: RangeSeries) => readonly (readonly [number, T])[], start: number, step: number, steps: number, empty: T): T[] {
  const out = new Array<T | undefined>(steps + 1).fill(undefined);
  for (const [t, v] of series[0] ? pick(series[0]) : []) {
    const k = Math.round((t - start) / step);
    if (k >= 0 && k <= steps) out[k] = v;
  }
  let last = empty;
  return out.map((v) => (last = v ?? last));
}

/** Where the run is: `at` as given, or the end of the latest run in the day before now. */
async function locateRun(api: PrometheusApi, o: ClusterReportOptions, label: string): Promise<number> {
  const queries = o.promql.runQueries(k6TestId(o.scenario), lookBackSeconds(o.scenario));
  if (o.at !== undefined) return o.at;
  const now = (o.now ?? Date.now)() / 1000;
  if ((await api.scalar(`count(${queries.series})`, now)) !== undefined) return now;
  const latest = await api.scalar(queries.latestSampleInDay, now);
  if (latest === undefined) {
    if (await api.hasSeries(queries.series)) throw new UserError(`the last run of ${o.scenario.name} in Prometheus at ${label} ended more than a day ago: pass --at with a time during it (RFC 3339 or unix seconds)`);
    // No series at all: its error says where the runners should have written.
    await requireLiveRun(api, queries, { testId: k6TestId(o.scenario), at: now, label });
  }
  return latest ?? now;
}

export async function buildClusterReport(o: ClusterReportOptions): Promise<{ report: LoadTestReport; at: number }> {
  const s = o.scenario;
  const api = new PrometheusApi(o.prometheus);
  const label = o.prometheus.href.replace(/\/$/, '');
  const testId = k6TestId(s);
  const at = await locateRun(api, o, label);
  const run = o.promql.runQueries(testId, lookBackSeconds(s));
  await requireLiveRun(api, run, { testId, at, label });

  const runners = (await api.query(run.runnerNames, at)).map((r) => r.metric.runner ?? '').filter(Boolean).sort();
  const q = o.promql.reportQueries(testId, runners);
  const measured = (await api.histograms(q.measuredHistogram, at))[0]?.histogram;
  if (!measured) {
    throw new UserError(
      `the runners of ${s.name} wrote no latency histograms to Prometheus at ${label}: a full report needs k6's native histograms ` +
        '(K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true, which the synthesized runners set) and Prometheus started with --enable-feature=native-histograms; ' +
        '`apistack loadtest verdict` still judges the run from the per-runner stats',
    );
  }
  const span = (await runSpan(api, run, at))!;
  const push = round(span.pushSeconds ?? K6_DEFAULT_PUSH_SECONDS, 3);
  const start = span.first - push;
  const steps = Math.max(1, Math.ceil((span.last - start) / push - 1e-6));
  const end = start + steps * push;

  const range = (expr: string) => api.queryRange(expr, start, end, push);
  const [requests, failed, vus, histograms] = await Promise.all([range(q.requests), range(q.failed), range(q.vus), range(q.histogram)]);
  const cumulative = {
    requests: perStep(requests, (x) => x.values, start, push, steps, 0),
    failed: perStep(failed, (x) => x.values, start, push, steps, 0),
    vus: perStep(vus, (x) => x.values, start, push, steps, 0),
    histogram: perStep<NativeHistogramValue>(histograms, (x) => x.histograms, start, push, steps, EMPTY_HISTOGRAM),
  };
  const warmupRequests = (await api.scalar(run.warmupRequests, at)) ?? 0;
  const warmupSeconds = warmupRequests > 0 ? Math.min(warmupSecondsOf(s), span.last - start) : 0;

  const timeline: TimelinePoint[] = [];
  for (let k = 1; k <= steps; k++) {
    const added = histogramDelta(cumulative.histogram[k]!, cumulative.histogram[k - 1]!);
    const t = round((k - 1) * push);
    const n = Math.max(0, cumulative.requests[k]! - cumulative.requests[k - 1]!);
    timeline.push({
      t,
      seconds: push,
      requests: n,
      failed: Math.max(0, cumulative.failed[k]! - cumulative.failed[k - 1]!),
      requestsPerSecond: round(n / push, 1),
      connections: Math.round(cumulative.vus[k]!),
      latencyMs: { p50: ms(histogramQuantile(added, 0.5)), p95: ms(histogramQuantile(added, 0.95)), p99: ms(histogramQuantile(added, 0.99)), max: ms(histogramMax(added)), mean: ms(histogramMean(added)) },
      ...(t < warmupSeconds ? { warmup: true } : {}),
    });
  }

  const statusCodes: Record<string, number> = {};
  for (const r of await api.query(q.measuredByStatus, at)) if (r.metric.status && r.metric.status !== '0' && r.value > 0) statusCodes[r.metric.status] = r.value;
  const errors: Record<string, number> = {};
  const non2xx = Object.entries(statusCodes).reduce((sum, [code, n]) => sum + (isSuccess(code) ? 0 : n), 0);
  if (non2xx > 0) errors['non-2xx'] = non2xx;
  for (const r of await api.query(q.measuredUnansweredByErrorCode, at)) {
    if (!(r.value > 0)) continue;
    const kind = K6_ERROR_KINDS[r.metric.error_code ?? ''] ?? `k6-${r.metric.error_code ?? 'error'}`;
    errors[kind] = (errors[kind] ?? 0) + r.value;
  }
  const byKind: Record<string, number> = {};
  for (const r of await api.query(q.measuredByKind, at)) if (r.metric.kind && r.value > 0) byKind[r.metric.kind] = r.value;
  const answered = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const unanswered = Object.entries(errors).reduce((sum, [kind, n]) => sum + (kind === 'non-2xx' ? 0 : n), 0);
  const total = answered + unanswered;
  const ok = answered - non2xx;
  const durationSeconds = Math.max(span.last - start - warmupSeconds, push);
  const perSecond = round(total / durationSeconds, 2);
  const latency = toLatencyHistogramMs(measured);
  const quantile = (p: number) => ms(histogramQuantile(measured, p));

  const base: LoadTestReport = {
    version: REPORT_VERSION,
    scenario: s.name,
    description: s.description,
    target: `k6 runners of testid=${testId}, from Prometheus at ${label}`,
    ...(o.context?.profile !== undefined ? { profile: o.context.profile } : {}),
    startedAt: new Date(start * 1000).toISOString(),
    durationSeconds: round(durationSeconds),
    connections: Math.max(0, ...timeline.map((p) => p.connections)),
    ...(s.rate !== undefined ? { rate: s.rate } : {}),
    ...(s.stages ? { stages: s.stages.map((st) => ({ ...st })) } : {}),
    mix: s.mix.map((m) => ({ ...m })),
    // k6 reports no CPU of its own: the engine and the runners, without accounting.
    generator: `k6 on ${runners.length} runner${runners.length === 1 ? '' : 's'} (scenario parallelism ${runnersOf(s)})`,
    ...(warmupSeconds > 0 ? { warmup: { seconds: round(warmupSeconds), requests: warmupRequests } } : {}),
    requests: { total, perSecond, byKind },
    latencyMs: {
      p10: quantile(0.1),
      p25: quantile(0.25),
      p50: quantile(0.5),
      p75: quantile(0.75),
      p90: quantile(0.9),
      p95: quantile(0.95),
      p99: quantile(0.99),
      max: ms(histogramMax(measured)),
      mean: ms(histogramMean(measured)),
    },
    histogram: latency.displayBuckets(),
    statusCodes,
    errors,
    successRate: total === 0 ? 0 : round(ok / total, 6),
    thresholds: [],
    ...(o.context?.cost ? { cost: reportCost(o.context.cost, perSecond) } : {}),
    timeline,
  };
  return { report: { ...base, thresholds: evaluateThresholds(s.thresholds, base) }, at };
}
