/**
 * The full report of a load test run by k6 runners in a cluster, built from what they
 * remote-wrote to the stack's Prometheus (read by cluster-run.ts, as the verdict reads it): the
 * same report (lib/loadtest/report.ts) a local run writes, so every renderer, `loadtest compare`
 * and `plan` read it alike.
 *
 * - Totals, percentiles and thresholds are of the measured part over every runner: the runners'
 *   native histograms summed, so a percentile is the run's (to a bucket's width), not the worst
 *   runner's. The warm-up (its own k6 scenario) is left out.
 * - The timeline has one point per push interval (wider for very long runs): what the interval
 *   added over every runner, warm-up included and marked.
 */
import { UserError } from '../errors.ts';
import { readClusterRun, type ClusterRunPromql } from './cluster-run.ts';
import { runnersOf } from './k6.ts';
import { histogramMax, histogramMean, histogramQuantile, toLatencyHistogramMs } from './native-histogram.ts';
import { evaluateThresholds, REPORT_VERSION, reportCost, type LoadTestReport, type ReportContext } from './report.ts';
import { isSuccess } from './recorder.ts';
import type { TimelinePoint } from './runner.ts';
import type { Scenario } from './scenario.ts';

/** k6's codes for a request that got no answer, as the local runner names them (k6 docs: error codes). */
const K6_ERROR_KINDS: Readonly<Record<string, string>> = { '1050': 'timeout', '1211': 'timeout', '1212': 'connection-refused', '1220': 'connection-reset' };

export interface ClusterReportOptions {
  readonly prometheus: URL;
  readonly scenario: Scenario;
  /** Unix seconds during or after the run; absent: the latest run of the scenario in the last day. */
  readonly at?: number;
  readonly promql: ClusterRunPromql;
  /** What the report says about the environment: the profile and its cost. */
  readonly context?: Pick<ReportContext, 'profile' | 'cost'>;
  readonly now?: () => number;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const ms = (seconds: number) => (Number.isFinite(seconds) ? round(seconds * 1000) : 0);

export async function buildClusterReport(o: ClusterReportOptions): Promise<{ report: LoadTestReport; at: number; runners: number }> {
  const s = o.scenario;
  const label = o.prometheus.href.replace(/\/$/, '');
  const run = await readClusterRun(o);
  const measured = run.measured.histogram;
  if (!measured) {
    throw new UserError(
      `the runners of ${s.name} wrote no latency histograms to Prometheus at ${label}: a full report needs k6's native histograms ` +
        '(K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true, which the synthesized runners set) and Prometheus started with --enable-feature=native-histograms; ' +
        '`apistack loadtest verdict` still judges the run from the per-runner stats',
    );
  }
  const { warmupSeconds } = run;
  const timeline: TimelinePoint[] = run.steps.map((step) => ({
    t: step.t,
    seconds: run.stepSeconds,
    requests: step.requests,
    failed: step.failed,
    requestsPerSecond: round(step.requests / run.stepSeconds, 1),
    connections: step.vus,
    latencyMs: { p50: ms(histogramQuantile(step.histogram, 0.5)), p95: ms(histogramQuantile(step.histogram, 0.95)), p99: ms(histogramQuantile(step.histogram, 0.99)), max: ms(histogramMax(step.histogram)), mean: ms(histogramMean(step.histogram)) },
    ...(step.t < warmupSeconds ? { warmup: true } : {}),
  }));

  const statusCodes = { ...run.measured.byStatus };
  const errors: Record<string, number> = {};
  const non2xx = Object.entries(statusCodes).reduce((sum, [code, n]) => sum + (isSuccess(code) ? 0 : n), 0);
  if (non2xx > 0) errors['non-2xx'] = non2xx;
  for (const [code, n] of Object.entries(run.measured.unansweredByCode)) {
    const kind = K6_ERROR_KINDS[code] ?? `k6-${code || 'error'}`;
    errors[kind] = (errors[kind] ?? 0) + n;
  }
  const total = run.measured.requests;
  const ok = Object.values(statusCodes).reduce((a, b) => a + b, 0) - non2xx;
  const durationSeconds = run.measuredSeconds;
  const perSecond = round(total / durationSeconds, 2);
  const quantile = (q: number) => ms(histogramQuantile(measured, q));
  const n = run.runners.length;

  const base: LoadTestReport = {
    version: REPORT_VERSION,
    scenario: s.name,
    description: s.description,
    target: `k6 runners of testid=${run.testId}, from Prometheus at ${label}`,
    ...(o.context?.profile !== undefined ? { profile: o.context.profile } : {}),
    startedAt: new Date(run.start * 1000).toISOString(),
    durationSeconds: round(durationSeconds),
    connections: Math.max(0, ...timeline.map((p) => p.connections)),
    ...(s.rate !== undefined ? { rate: s.rate } : {}),
    ...(s.stages ? { stages: s.stages.map((st) => ({ ...st })) } : {}),
    mix: s.mix.map((m) => ({ ...m })),
    // k6 reports no CPU of its own: the engine and the runners, without accounting.
    generator: `k6 on ${n} runner${n === 1 ? '' : 's'} (scenario parallelism ${runnersOf(s)})`,
    ...(warmupSeconds > 0 ? { warmup: { seconds: round(warmupSeconds), requests: run.warmupRequests } } : {}),
    requests: { total, perSecond, byKind: { ...run.measured.byKind } },
    latencyMs: { p10: quantile(0.1), p25: quantile(0.25), p50: quantile(0.5), p75: quantile(0.75), p90: quantile(0.9), p95: quantile(0.95), p99: quantile(0.99), max: ms(histogramMax(measured)), mean: ms(histogramMean(measured)) },
    histogram: toLatencyHistogramMs(measured).displayBuckets(),
    statusCodes,
    errors,
    successRate: total === 0 ? 0 : round(ok / total, 6),
    thresholds: [],
    ...(o.context?.cost ? { cost: reportCost(o.context.cost, perSecond) } : {}),
    timeline,
  };
  return { report: { ...base, thresholds: evaluateThresholds(s.thresholds, base) }, at: run.end, runners: n };
}
