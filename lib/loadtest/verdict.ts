/**
 * One verdict over every runner of a load test in a cluster. The runners remote-write to the
 * stack's Prometheus; this asks it, through its HTTP API, the same PromQL the load-test dashboard
 * shows, plus the run's totals from the same series, so the dashboard and the verdict cannot
 * disagree. The PromQL is the monitoring layer's (lib/monitoring/dashboards.ts): the caller hands
 * it in (`VerdictPromql`), so this layer asks and judges without importing it.
 */
import { parseChoice, UserError } from '../errors.ts';
import { PrometheusApi } from './prometheus.ts';
import { k6TestId, SETUP_MAX_MINUTES, STACK_READY_MAX_MINUTES } from './k6.ts';
import { scenarioDurationSeconds, warmupSecondsOf, type Scenario, type Thresholds } from './scenario.ts';
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
  /** The measured part: from the first remote-written sample (less one push interval: k6 counts from its start) to the last, less the warm-up. */
  readonly seconds?: number;
  readonly perSecond?: number;
  /** The worst runner's percentiles over its run, from runners that write per-stat gauges: an upper bound for the run as a whole. */
  readonly worstRunnerMs: { readonly p50?: number; readonly p95?: number; readonly p99?: number };
  /** The run's percentiles over every runner's requests, from their native histograms (exact to a bucket's width). */
  readonly allRunnersMs: { readonly p50?: number; readonly p95?: number; readonly p99?: number };
}

export interface Verdict {
  readonly scenario: string;
  readonly prometheus: string;
  /** RFC 3339: the time every query was evaluated at. */
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
export function parseAt(value: string | undefined, now: () => number = Date.now): number {
  if (value === undefined) return now() / 1000;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const ms = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new UserError(`--at must be an RFC 3339 time (2025-01-31T14:05:00Z) or unix seconds (1738332300), got "${value}"`);
  return ms / 1000;
}

/** One threshold as PromQL: what is measured (in the threshold's unit) and 1 while it is met. */
export interface VerdictQuery {
  readonly name: string;
  readonly threshold: keyof Thresholds;
  readonly limit: number;
  readonly value: string;
  readonly expr: string;
}

/** A run's totals as PromQL, over the series of one test id. */
export interface RunQueries {
  readonly series: string;
  readonly requests: string;
  readonly errors: string;
  readonly runners: string;
  readonly lastSample: string;
  readonly firstSample: string;
  readonly pushInterval: string;
  readonly warmupRequests: string;
  readonly runnerNames: string;
  readonly latestSampleInDay: string;
  readonly worstMs: Readonly<Record<'p50' | 'p95' | 'p99', string>>;
  readonly exactMs: Readonly<Record<'p50' | 'p95' | 'p99', string>>;
}

/** The PromQL the dashboards show (lib/monitoring's loadTestRunQueries and loadTestVerdicts). */
export interface VerdictPromql {
  runQueries(testId: string, lookBackSeconds: number): RunQueries;
  verdicts(view: { testId: string; thresholds: Thresholds }): readonly VerdictQuery[];
}

/** How far back the first sample of a run is looked for: the scenario's length and the longest runners wait (for the stack, then for setup), or a day. */
export function lookBackSeconds(s: Scenario): number {
  const planned = scenarioDurationSeconds(s);
  return planned === undefined ? 86_400 : planned + (STACK_READY_MAX_MINUTES + SETUP_MAX_MINUTES) * 60;
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** Refuses, saying what to do, when no series of the run has a sample in the 5 minutes before `at`. */
export async function requireLiveRun(api: PrometheusApi, queries: RunQueries, run: { testId: string; at: number; label: string }): Promise<void> {
  if ((await api.scalar(`count(${queries.series})`, run.at)) !== undefined) return;
  if (await api.hasSeries(queries.series)) {
    throw new UserError(
      `k6 series with testid=${run.testId} are in Prometheus at ${run.label}, but none has a sample in the 5 minutes before ${new Date(run.at * 1000).toISOString()}: pass --at with a time during the run (or up to 5 minutes after its end)`,
    );
  }
  throw new UserError(
    `no k6 series with testid=${run.testId} in Prometheus at ${run.label}: did the runners remote-write there (K6_PROMETHEUS_RW_SERVER_URL), and is the run within Prometheus' retention?`,
  );
}

/** The run's length from its request counters: first sample (less one push interval: k6 counts from its start) to the last. */
export async function runSpan(api: PrometheusApi, queries: RunQueries, at: number): Promise<{ first: number; last: number; pushSeconds?: number } | undefined> {
  const first = await api.scalar(queries.firstSample, at);
  const last = await api.scalar(queries.lastSample, at);
  const pushSeconds = await api.scalar(queries.pushInterval, at);
  if (first === undefined || last === undefined) return undefined;
  return { first, last, ...(pushSeconds !== undefined && pushSeconds > 0 ? { pushSeconds } : {}) };
}

export async function evaluateVerdict(opts: { prometheus: URL; scenario: Scenario; at: number; promql: VerdictPromql }): Promise<Verdict> {
  const { scenario, at } = opts;
  const api = new PrometheusApi(opts.prometheus);
  const label = opts.prometheus.href.replace(/\/$/, '');
  const testId = k6TestId(scenario);
  const queries = opts.promql.runQueries(testId, lookBackSeconds(scenario));
  const atText = new Date(at * 1000).toISOString();
  await requireLiveRun(api, queries, { testId, at, label });

  const thresholds: ThresholdVerdict[] = [];
  for (const v of opts.promql.verdicts({ testId, thresholds: scenario.thresholds })) {
    const met = await api.scalar(v.expr, at);
    const actual = await api.scalar(v.value, at);
    // No value (no sample in the window, or 0/0) is not a pass.
    thresholds.push({ name: v.name, threshold: v.threshold, limit: v.limit, passed: met === 1, ...(actual !== undefined ? { actual: round(actual) } : {}) });
  }

  const total = (await api.scalar(queries.requests, at)) ?? 0;
  const errors = (await api.scalar(queries.errors, at)) ?? 0;
  const runners = (await api.scalar(queries.runners, at)) ?? 0;
  const warmupRequests = (await api.scalar(queries.warmupRequests, at)) ?? 0;
  const warmupSeconds = warmupRequests > 0 ? warmupSecondsOf(scenario) : 0;
  const span = await runSpan(api, queries, at);
  const seconds = span?.pushSeconds !== undefined ? round(Math.max(span.last - span.first + span.pushSeconds - warmupSeconds, span.pushSeconds)) : undefined;
  const worstRunnerMs: { p50?: number; p95?: number; p99?: number } = {};
  const allRunnersMs: { p50?: number; p95?: number; p99?: number } = {};
  for (const key of ['p50', 'p95', 'p99'] as const) {
    const worst = await api.scalar(queries.worstMs[key], at);
    if (worst !== undefined) worstRunnerMs[key] = round(worst);
    const all = await api.scalar(queries.exactMs[key], at);
    if (all !== undefined && Number.isFinite(all)) allRunnersMs[key] = round(all);
  }
  return {
    scenario: scenario.name,
    prometheus: label,
    at: atText,
    thresholds,
    requests: {
      total,
      errors,
      errorRatePercent: total > 0 ? round((errors / total) * 100, 6) : null,
      runners,
      warmupRequests,
      ...(seconds !== undefined ? { seconds, perSecond: round(total / seconds, 2) } : {}),
      worstRunnerMs,
      allRunnersMs,
    },
    passed: thresholds.every((t) => t.passed),
  };
}

/** A threshold's measured value; `exact`: the percentiles came from every runner's native histograms. */
function actualText(t: ThresholdVerdict, exact: boolean): string {
  if (t.actual === undefined) return t.threshold === 'minRequestsPerSecond' ? 'none: no samples in the minute before --at; pass --at within the run' : 'none at that time';
  if (t.threshold === 'errorRatePercent') return errorPercentText(t.actual);
  if (t.threshold === 'minRequestsPerSecond') return `${fixed(t.actual, 1)} req/s over the last minute`;
  return `${msText(t.actual)} ms (${exact ? 'every runner' : 'worst runner'})`;
}

export function renderVerdict(v: Verdict, format: VerdictFormat): string {
  if (format === 'json') return `${JSON.stringify(v, null, 2)}\n`;
  const out: string[] = [`${v.scenario}: verdict over every runner, from Prometheus at ${v.prometheus}, at ${v.at}`];
  if (v.thresholds.length > 0) {
    out.push('', 'thresholds');
    const width = Math.max(...v.thresholds.map((t) => t.name.length));
    for (const t of v.thresholds) out.push(`  ${t.passed ? 'PASS' : 'FAIL'}  ${t.name.padEnd(width)}  actual ${actualText(t, Object.keys(v.requests?.allRunnersMs ?? {}).length > 0)}`);
  }
  const r = v.requests;
  if (r) {
    const rate = r.perSecond !== undefined && r.seconds !== undefined ? ` in ${fixed(r.seconds, 1)} s, ${fixed(r.perSecond, 1)} req/s` : '';
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
