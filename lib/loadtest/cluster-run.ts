/**
 * One load-test run by k6 runners in a cluster, read back from the Prometheus they remote-wrote
 * to: which runners were this run, when it started and ended, what every push interval added, and
 * the run's final totals. The report (cluster-report.ts) and the verdict (verdict.ts) both read a
 * run through this, so they cannot disagree.
 *
 * Why not instant queries at the run's end: k6 pushes a series only when it changed and writes no
 * staleness markers, so a series idle for 5 minutes (the warm-up's, a status seen early on, a
 * runner that finished first) vanishes from instant queries; and an earlier run of the same
 * scenario that ended less than 5 minutes before is still "live". So:
 * - the run is found from k6_vus (pushed by every runner at every interval): the runner that wrote
 *   last, and every runner whose samples overlap its own, are the run;
 * - every series of those runners is read over the run with a range query, per series: what each
 *   interval added is that series' own increase, and its last value seen is its final total.
 * The selectors are the monitoring layer's, handed in (ClusterRunSeries), as for the dashboards.
 */
import { UserError } from '../errors.ts';
import { k6MeasuredScenario, k6TestId, SETUP_MAX_MINUTES, STACK_READY_MAX_MINUTES } from './k6.ts';
import { EMPTY_HISTOGRAM, histogramDelta, histogramSum } from './native-histogram.ts';
import { PrometheusApi, type NativeHistogramValue, type RangeSeries } from './prometheus.ts';
import { scenarioDurationSeconds, warmupSecondsOf, type Scenario } from './scenario.ts';

/** The PromQL selectors of a scenario's k6 series (lib/monitoring's loadTestRunSeries). */
export interface ClusterRunSeries {
  /** k6_vus of every runner of the testid. */
  readonly vus: string;
  /** Unix seconds of the last k6_vus sample in the day before the evaluation time. */
  readonly latestSample: string;
  /** Request counters and latency histograms of these runners. */
  requests(runners: readonly string[]): string;
  durations(runners: readonly string[]): string;
  /** The worst of these runners' per-stat latency gauges (seconds) of the measured scenario, at its last sample in the window. */
  worstTrend(stat: 'p50' | 'p95' | 'p99', runners: readonly string[], windowSeconds: number): string;
}

export interface ClusterRunPromql {
  runSeries(testId: string): ClusterRunSeries;
}

/** k6's remote-write push interval when a run has one push only: K6_PROMETHEUS_RW_PUSH_INTERVAL's default. */
export const K6_DEFAULT_PUSH_SECONDS = 5;
/** The timeline keeps at most this many points: a day-long run is charted in wider steps. */
const MAX_TIMELINE_POINTS = 300;

/** What one step of the run added, over every runner, warm-up included. */
export interface ClusterStep {
  /** Seconds from the run's start to the step's start. */
  readonly t: number;
  readonly requests: number;
  readonly failed: number;
  /** Latencies of the answered requests. */
  readonly histogram: NativeHistogramValue;
  readonly vus: number;
}

/** A run's totals, of its measured part (the warm-up is a k6 scenario of its own). */
export interface ClusterTotals {
  /** Every request, answered or not. */
  readonly requests: number;
  /** k6's failed requests (expected_response="false"): non-2xx answers and no answer. */
  readonly failed: number;
  /** Answered requests by status (k6 writes status 0 for no answer: not here). */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Answered requests by the mix's kind. */
  readonly byKind: Readonly<Record<string, number>>;
  /** Unanswered requests by k6 error code. */
  readonly unansweredByCode: Readonly<Record<string, number>>;
  /** Latencies of the answered requests, over every runner; undefined when the runners wrote no native histograms. */
  readonly histogram?: NativeHistogramValue;
  /** The worst runner's per-stat gauges, ms, from runners that wrote those instead. */
  readonly worstMs: { readonly p50?: number; readonly p95?: number; readonly p99?: number };
}

export interface ClusterRun {
  readonly testId: string;
  readonly runners: readonly string[];
  /** Unix seconds: one push interval before the first sample (k6 counts from its start), and the last sample. */
  readonly start: number;
  readonly end: number;
  readonly pushSeconds: number;
  readonly stepSeconds: number;
  readonly steps: readonly ClusterStep[];
  readonly measured: ClusterTotals;
  readonly warmupRequests: number;
  /** The warm-up's length when the runners sent one (its requests are labelled apart), else 0. */
  readonly warmupSeconds: number;
  /** From `start` to `end`, less the warm-up: what totals per second are over. */
  readonly measuredSeconds: number;
}

/** How far back from its last sample a run is read: the scenario, the longest waits of its runners (the stack, the setup), or a day. */
export function lookBackSeconds(s: Scenario): number {
  const planned = scenarioDurationSeconds(s);
  return planned === undefined ? 86_400 : planned + warmupSecondsOf(s) + (STACK_READY_MAX_MINUTES + SETUP_MAX_MINUTES) * 60;
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)]!;
};
const add = (m: Record<string, number>, key: string, n: number) => {
  if (n > 0) m[key] = (m[key] ?? 0) + n;
};

/**
 * Per series, what each step added and its total over the run, from raw samples: a sample's
 * increase over the previous one goes to the step it fell in, a drop is a reset (the new value is
 * all new), and a sample at or before the run's start is only the baseline.
 */
function perSeriesIncrease<T>(points: readonly (readonly [number, T])[], stepOf: (t: number) => number | undefined, steps: number, increase: (later: T, earlier: T | undefined) => T, add: (a: T, b: T) => T, zero: T): { added: (T | undefined)[]; total: T } {
  const added = new Array<T | undefined>(steps).fill(undefined);
  let last: T | undefined;
  let total = zero;
  for (const [t, v] of points) {
    const k = stepOf(t);
    if (k !== undefined) {
      const more = increase(v, last);
      added[k] = added[k] === undefined ? more : add(added[k]!, more);
      total = add(total, more);
    }
    last = v;
  }
  return { added, total };
}

const counterIncrease = (later: number, earlier: number | undefined) => (earlier === undefined || later < earlier ? later : later - earlier);
const histogramIncrease = (later: NativeHistogramValue, earlier: NativeHistogramValue | undefined) => (earlier === undefined || later.count < earlier.count ? later : histogramDelta(later, earlier));

/** One runner's stretch of k6_vus samples without a gap: a runner name seen in two runs has two. */
interface Session {
  readonly runner: string;
  readonly first: number;
  readonly last: number;
  readonly gaps: readonly number[];
}

function sessionsOf(runner: string, times: readonly number[], breakSeconds: number): Session[] {
  const out: Session[] = [];
  let from = 0;
  for (let i = 1; i <= times.length; i++) {
    if (i === times.length || times[i]! - times[i - 1]! > breakSeconds) {
      const part = times.slice(from, i);
      out.push({ runner, first: part[0]!, last: part.at(-1)!, gaps: part.slice(1).map((t, j) => t - part[j]!) });
      from = i;
    }
  }
  return out;
}

/**
 * The run: sessions chained by overlap (each starting before the chain's end, within two push
 * intervals), the chain that ends last. Runners that start late, after others finished, stay in it
 * as long as the chain has no gap; two runs back to back without a gap are one.
 */
function latestRun(sessions: readonly Session[], slack: number): Session[] {
  const chains: Session[][] = [];
  for (const session of [...sessions].sort((x, y) => x.first - y.first)) {
    const chain = chains.at(-1);
    if (chain && session.first <= Math.max(...chain.map((c) => c.last)) + slack) chain.push(session);
    else chains.push([session]);
  }
  return chains.reduce((a, b) => (Math.max(...b.map((x) => x.last)) > Math.max(...a.map((x) => x.last)) ? b : a));
}

/** The run whose last sample is the latest at or before `at` (default now), looked for over the day before it, read whole. */
export async function readClusterRun(opts: { prometheus: URL; scenario: Scenario; at?: number; promql: ClusterRunPromql; now?: () => number }): Promise<ClusterRun> {
  const s = opts.scenario;
  const api = new PrometheusApi(opts.prometheus);
  const label = opts.prometheus.href.replace(/\/$/, '');
  const testId = k6TestId(s);
  const series = opts.promql.runSeries(testId);
  const evaluatedAt = opts.at ?? (opts.now ?? Date.now)() / 1000;
  const lastVus = await api.scalar(series.latestSample, evaluatedAt);
  if (lastVus === undefined) {
    const when = new Date(evaluatedAt * 1000).toISOString();
    if (await api.hasSeries(series.vus)) throw new UserError(`k6 series with testid=${testId} are in Prometheus at ${label}, but none has a sample in the day before ${when}: pass --at with a time during the run or after it`);
    throw new UserError(`no k6 series with testid=${testId} in Prometheus at ${label}: did the runners remote-write there (K6_PROMETHEUS_RW_SERVER_URL), and is the run within Prometheus' retention?`);
  }

  // Who ran when, from k6_vus (every runner pushes it at every interval).
  const window = Math.ceil(lookBackSeconds(s));
  const times = new Map<string, number[]>();
  const vusSamples = await api.rawSamples(`${series.vus}[${window}s]`, lastVus);
  for (const r of vusSamples) times.set(r.metric.runner ?? '', [...(times.get(r.metric.runner ?? '') ?? []), ...r.values.map(([t]) => t)].sort((x, y) => x - y));
  const allGaps = [...times.values()].flatMap((ts) => ts.slice(1).map((t, i) => t - ts[i]!));
  const typicalPush = median(allGaps) ?? K6_DEFAULT_PUSH_SECONDS;
  const slack = 2 * typicalPush;
  const members = latestRun([...times].flatMap(([runner, ts]) => sessionsOf(runner, ts, 3 * typicalPush)), slack);
  const runners = [...new Set(members.map((m) => m.runner))].sort();
  const pushSeconds = Number((median(members.flatMap((m) => m.gaps)) ?? K6_DEFAULT_PUSH_SECONDS).toFixed(3));
  const start = Math.min(...members.map((m) => m.first)) - pushSeconds;
  if (start <= lastVus - window + pushSeconds) {
    throw new UserError(
      `the run of ${s.name} began before the ${window} s this scenario allows for it (its length, warm-up and the runners' waits): it ran longer than the scenario given says; pass the scenario file that ran`,
    );
  }

  // Read up to `at` (or now), not to the last k6_vus sample: k6 stamps a series with its latest sample, and the last counters come after the last k6_vus.
  const readWindow = Math.ceil(evaluatedAt - start) + 1;
  const [requestSeries, durationSeries] = await Promise.all([
    api.rawSamples(`${series.requests(runners)}[${readWindow}s]`, evaluatedAt),
    api.rawSamples(`${series.durations(runners)}[${readWindow}s]`, evaluatedAt),
  ]);
  const end = Math.max(lastVus, ...requestSeries.flatMap((r) => r.values.map(([t]) => t)).filter((t) => t <= lastVus + 2 * pushSeconds));
  const pushesPerStep = Math.max(1, Math.ceil((end - start) / pushSeconds / MAX_TIMELINE_POINTS));
  const stepSeconds = pushSeconds * pushesPerStep;
  // A sample's push interval, counted from its runner's own first push (runners push at their own moments, with jitter): none before the run or after its end.
  const firstOf = new Map(runners.map((runner) => [runner, Math.min(...members.filter((m) => m.runner === runner).map((m) => m.first))]));
  const pushOf = (runner: string | undefined, t: number): number | undefined => {
    const first = firstOf.get(runner ?? '');
    if (first === undefined || t < first - pushSeconds / 2 || t > end) return undefined;
    return Math.max(0, Math.round((first - start) / pushSeconds) - 1 + Math.round((t - first) / pushSeconds));
  };
  const lastPush = Math.max(0, ...[...requestSeries, ...vusSamples].flatMap((r) => r.values.map(([t]) => pushOf(r.metric.runner, t) ?? 0)));
  const steps = Math.floor(lastPush / pushesPerStep) + 1;
  const stepOf = (runner: string | undefined) => (t: number): number | undefined => {
    const push = pushOf(runner, t);
    return push === undefined ? undefined : Math.min(steps - 1, Math.floor(push / pushesPerStep));
  };

  const measuredScenario = k6MeasuredScenario(s);
  const perStep = Array.from({ length: steps }, (_, k) => ({ t: Number((k * stepSeconds).toFixed(3)), requests: 0, failed: 0, histogram: EMPTY_HISTOGRAM, vus: 0 }));
  const totals = { requests: 0, failed: 0, byStatus: {} as Record<string, number>, byKind: {} as Record<string, number>, unansweredByCode: {} as Record<string, number> };
  let warmupRequests = 0;
  for (const r of requestSeries) {
    const { added, total: n } = perSeriesIncrease(r.values, stepOf(r.metric.runner), steps, counterIncrease, (a, b) => a + b, 0);
    const failed = r.metric.expected_response === 'false';
    added.forEach((n, k) => {
      perStep[k]!.requests += n ?? 0;
      if (failed) perStep[k]!.failed += n ?? 0;
    });
    if (r.metric.scenario !== measuredScenario) {
      warmupRequests += n;
      continue;
    }
    totals.requests += n;
    if (failed) totals.failed += n;
    if (r.metric.status === '0') add(totals.unansweredByCode, r.metric.error_code ?? '', n);
    else {
      add(totals.byStatus, r.metric.status ?? 'unknown', n);
      if (r.metric.kind) add(totals.byKind, r.metric.kind, n);
    }
  }
  let measuredHistogram: NativeHistogramValue | undefined;
  for (const r of durationSeries) {
    // A request without an answer has a duration too (until it failed): not a latency.
    if (r.metric.status === '0') continue;
    const { added, total } = perSeriesIncrease(r.histograms, stepOf(r.metric.runner), steps, histogramIncrease, histogramSum, EMPTY_HISTOGRAM);
    added.forEach((h, k) => {
      if (h) perStep[k]!.histogram = histogramSum(perStep[k]!.histogram, h);
    });
    if (total.count > 0 && r.metric.scenario === measuredScenario) measuredHistogram = histogramSum(measuredHistogram ?? EMPTY_HISTOGRAM, total);
  }
  // Virtual users per step: each runner's last value in it, added up.
  for (const r of vusSamples.filter((x) => runners.includes(x.metric.runner ?? ''))) {
    const last = new Map<number, number>();
    const step = stepOf(r.metric.runner);
    for (const [t, v] of r.values) {
      const k = step(t);
      if (k !== undefined) last.set(k, v);
    }
    for (const [k, v] of last) perStep[k]!.vus += Math.round(v);
  }
  const worstMs: { p50?: number; p95?: number; p99?: number } = {};
  for (const stat of ['p50', 'p95', 'p99'] as const) {
    const worst = await api.scalar(series.worstTrend(stat, runners, readWindow), evaluatedAt);
    if (worst !== undefined) worstMs[stat] = Number((worst * 1000).toFixed(3));
  }
  const warmupSeconds = warmupRequests > 0 ? Math.min(warmupSecondsOf(s), end - start) : 0;
  return {
    testId,
    runners,
    start,
    end,
    pushSeconds,
    stepSeconds,
    steps: perStep,
    measured: { ...totals, ...(measuredHistogram ? { histogram: measuredHistogram } : {}), worstMs },
    warmupRequests,
    warmupSeconds,
    measuredSeconds: Math.max(end - start - warmupSeconds, pushSeconds),
  };
}
