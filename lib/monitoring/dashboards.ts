/** Grafana dashboards generated from code, so every panel's PromQL is checked like the rules. */
import { METRICS } from '../../app/src/metrics-contract.ts';
import type { ResolvedProfile } from '../profile/load.ts';
import { K6_DURATION_HISTOGRAM, K6_TREND_STATS, k6TrendMetric, type K6TrendStat } from './metrics.ts';

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly exprs: readonly { expr: string; legend: string }[];
}
export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  /** Dashboard variables filled from label values (`label_values(metric, label)`). @default - the datasource only */
  readonly variables?: readonly { name: string; query: string }[];
}

const H = METRICS.httpRequestDuration;

export function dashboardSpecs(p: ResolvedProfile): DashboardSpec[] {
  return [
    {
      uid: 'apistack-overview',
      title: 'apistack / overview',
      panels: [
        { title: 'Requests per second by route', unit: 'reqps', exprs: [{ expr: 'route:apistack_http_requests:rate5m', legend: '{{route}}' }] },
        { title: 'Error ratio by route', unit: 'percentunit', exprs: [{ expr: 'route:apistack_http_errors:ratio_rate5m', legend: '{{route}}' }] },
        {
          title: 'Latency p50 / p95 / p99',
          unit: 's',
          exprs: [50, 95, 99].map((q) => ({ expr: `histogram_quantile(${q / 100}, sum by (le) (rate(${H}_bucket[5m])))`, legend: `p${q}` })),
        },
        { title: 'In-flight requests', unit: 'short', exprs: [{ expr: `sum by (instance) (${METRICS.httpRequestsInFlight})`, legend: '{{instance}}' }] },
        {
          title: 'Saturation: CPU per replica',
          unit: 'percentunit',
          exprs: [{ expr: `sum by (instance) (rate(${METRICS.processCpuSeconds}{job="api"}[5m])) / ${p.api.vcpuPerReplica}`, legend: '{{instance}}' }],
        },
        { title: 'Availability error budget burn (1h)', unit: 'short', exprs: [{ expr: `apistack:slo_errors:ratio_rate1h / ${Math.round((1 - p.monitoring.slo.availabilityPercent / 100) * 1e6) / 1e6}`, legend: 'burn rate' }] },
      ],
    },
    {
      uid: 'apistack-workers',
      title: 'apistack / API workers',
      panels: [
        { title: 'Worker restarts by reason', unit: 'short', exprs: [{ expr: `sum by (reason) (increase(${METRICS.workerRestarts}[15m]))`, legend: '{{reason}}' }] },
        { title: 'Live workers', unit: 'short', exprs: [{ expr: `sum by (instance) (${METRICS.workersAlive})`, legend: '{{instance}}' }] },
        { title: 'Event-loop lag p99', unit: 's', exprs: [{ expr: `max by (instance, worker) (${METRICS.eventLoopLag})`, legend: '{{worker}}' }] },
        { title: 'Heap used', unit: 'bytes', exprs: [{ expr: `max by (instance, worker) (${METRICS.heapUsedBytes})`, legend: '{{worker}}' }] },
        { title: 'Resident memory', unit: 'bytes', exprs: [{ expr: `max by (instance, worker) (${METRICS.residentMemoryBytes})`, legend: '{{worker}}' }] },
      ],
    },
    {
      uid: 'apistack-data',
      title: 'apistack / data',
      panels: [
        {
          title: 'Pool connections in use and waiting',
          unit: 'short',
          exprs: [
            { expr: `sum(${METRICS.dbPoolConnectionsInUse})`, legend: 'in use' },
            { expr: `sum(${METRICS.dbPoolConnectionsWaiting})`, legend: 'waiting' },
            { expr: `sum(${METRICS.dbPoolConnectionsMax})`, legend: 'pool size' },
          ],
        },
        {
          title: 'Cache hit ratio by layer',
          unit: 'percentunit',
          exprs: [{ expr: `sum by (layer) (rate(${METRICS.cacheRequests}{result="hit"}[5m])) / sum by (layer) (rate(${METRICS.cacheRequests}[5m]))`, legend: '{{layer}}' }],
        },
        {
          title: 'Postgres connections vs max_connections',
          unit: 'short',
          exprs: [
            { expr: 'sum(pg_stat_database_numbackends)', legend: 'connections' },
            { expr: 'max(pg_settings_max_connections)', legend: 'max_connections' },
          ],
        },
        { title: 'Postgres commits per second', unit: 'ops', exprs: [{ expr: 'sum(rate(pg_stat_database_xact_commit[5m]))', legend: 'commits' }] },
        {
          title: 'Redis memory and hit ratio',
          unit: 'short',
          exprs: [
            { expr: 'redis_memory_used_bytes', legend: 'used bytes' },
            { expr: 'rate(redis_keyspace_hits_total[5m]) / (rate(redis_keyspace_hits_total[5m]) + rate(redis_keyspace_misses_total[5m]))', legend: 'hit ratio' },
          ],
        },
      ],
    },
    {
      uid: 'apistack-nginx',
      title: 'apistack / nginx',
      panels: [
        { title: 'Active connections', unit: 'short', exprs: [{ expr: 'sum(nginx_connections_active)', legend: 'active' }, { expr: 'sum(nginx_connections_waiting)', legend: 'waiting' }] },
        { title: 'Requests per second', unit: 'reqps', exprs: [{ expr: 'sum(rate(nginx_http_requests_total[5m]))', legend: 'requests' }] },
        {
          title: 'Upstream (API) response time p95 by route',
          unit: 's',
          exprs: [{ expr: 'route:apistack_http_request_duration_seconds:p95_5m', legend: '{{route}}' }],
        },
      ],
    },
  ];
}

/**
 * A load test's limits, as the scenario states them (lib/loadtest's Thresholds; declared here so
 * monitoring stays below the load tests).
 */
export interface LoadTestThresholds {
  readonly p50Ms?: number;
  readonly p95Ms?: number;
  readonly p99Ms?: number;
  readonly errorRatePercent?: number;
  readonly minRequestsPerSecond?: number;
}

/** The load test a dashboard shows: k6's `testid` tag (the scenario's name) and its limits. */
export interface LoadTestView {
  readonly testId: string;
  readonly thresholds: LoadTestThresholds;
}

/**
 * A k6 metric of this run's runners only: the setup run (another testid) seeds through the same
 * API, and a run of another scenario may still be fresh in Prometheus.
 */
function k6Series(testId: string, metric: string, matchers = ''): string {
  return `${metric}{testid=${JSON.stringify(testId)}${matchers ? `,${matchers}` : ''}}`;
}

/**
 * A k6 metric of the run's measured part: the runner script runs the scenario's warm-up as a k6
 * scenario of its own and the measured load as the k6 scenario named like the testid (lib/loadtest's
 * k6MeasuredScenario), so `scenario=<testid>` leaves the warm-up out.
 */
function k6Measured(testId: string, metric: string, matchers = ''): string {
  return k6Series(testId, metric, `scenario=${JSON.stringify(testId)}${matchers ? `,${matchers}` : ''}`);
}

/** Over the last minute: live enough to watch a run, smooth enough to read. */
const LIVE = '1m';
const K6_REQS = 'k6_http_reqs_total';
const QUANTILE: Record<K6TrendStat, number> = { 'p(50)': 0.5, 'p(95)': 0.95, 'p(99)': 0.99 };

/**
 * A latency percentile of a run in seconds: over every runner's requests from their native
 * histograms summed (exact to a bucket's width), or, for runners that wrote per-stat gauges
 * instead, the worst runner's value (an upper bound). `by` groups both (e.g. by request name).
 */
function runPercentile(testId: string, stat: K6TrendStat, by = ''): string {
  const grouping = by ? ` by (${by})` : '';
  return `(histogram_quantile(${QUANTILE[stat]}, sum${grouping} (${k6Measured(testId, K6_DURATION_HISTOGRAM)})) or max${grouping} (${k6Measured(testId, k6TrendMetric('http_req_duration', stat))}))`;
}

/** One threshold of a load test as PromQL over every runner. */
export interface LoadTestVerdict {
  /** As the dashboard's legend shows it, e.g. `p(95) < 50 ms`. */
  readonly name: string;
  /** The scenario threshold it judges. */
  readonly threshold: keyof LoadTestThresholds;
  /** The scenario's limit, in the threshold's unit (ms, %, req/s). */
  readonly limit: number;
  /** What is measured, in the threshold's unit: the value the verdict compares with the limit. */
  readonly value: string;
  /** 1 while the threshold is met, 0 when not. */
  readonly expr: string;
}

/**
 * One PromQL expression per threshold, the verdict over every runner's measured requests (the
 * warm-up left out): 1 while it is met, 0 when not. Throughput and errors add the runners' counters; a percentile is the run's over every
 * request from the runners' native histograms, or where a runner wrote only per-stat gauges, the
 * worst runner's value, which is conservative: if every runner keeps 95% of its requests under the
 * limit, so does the run. Each comes with the measured value it compares, so a report and the
 * dashboard read the same expression.
 */
export function loadTestVerdicts({ testId, thresholds: t }: LoadTestView): LoadTestVerdict[] {
  const out: LoadTestVerdict[] = [];
  const reqs = (matchers?: string) => k6Measured(testId, K6_REQS, matchers);
  for (const [key, stat] of [['p50Ms', 'p(50)'], ['p95Ms', 'p(95)'], ['p99Ms', 'p(99)']] as const) {
    const limit = t[key];
    if (limit === undefined) continue;
    // k6 writes trends in seconds.
    const measured = runPercentile(testId, stat);
    out.push({ name: `${stat} < ${limit} ms`, threshold: key, limit, value: `${measured} * 1000`, expr: `${measured} < bool ${limit / 1000}` });
  }
  if (t.errorRatePercent !== undefined) {
    const measured = `(sum(${reqs('expected_response="false"')}) or vector(0)) / sum(${reqs()})`;
    out.push({ name: `errors < ${t.errorRatePercent}%`, threshold: 'errorRatePercent', limit: t.errorRatePercent, value: `${measured} * 100`, expr: `${measured} < bool ${t.errorRatePercent / 100}` });
  }
  if (t.minRequestsPerSecond !== undefined) {
    const measured = `sum(rate(${reqs()}[${LIVE}]))`;
    out.push({ name: `throughput >= ${t.minRequestsPerSecond} req/s`, threshold: 'minRequestsPerSecond', limit: t.minRequestsPerSecond, value: measured, expr: `${measured} >= bool ${t.minRequestsPerSecond}` });
  }
  return out;
}

/** The selectors one run is read through (lib/loadtest's cluster-run.ts: `loadtest verdict` and `loadtest report`). */
export interface LoadTestRunSeries {
  readonly vus: string;
  readonly latestSample: string;
  requests(runners: readonly string[]): string;
  durations(runners: readonly string[]): string;
  worstTrend(stat: 'p50' | 'p95' | 'p99', runners: readonly string[], windowSeconds: number): string;
}

/** `runner=~"^(?:a|b)$"`: exactly these runners. */
function runnerMatcher(runners: readonly string[]): string {
  return `runner=~${JSON.stringify(`^(?:${runners.map((r) => r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`)}`;
}

/**
 * A run's series, by runner: its k6_vus (every runner pushes it every interval, so it says who ran
 * when), its request counters and latency histograms, and the per-stat gauges of runners without
 * native histograms (their last value in the window: a gauge idle for 5 minutes is still read).
 */
export function loadTestRunSeries(testId: string): LoadTestRunSeries {
  const vus = k6Series(testId, 'k6_vus');
  const stat = { p50: 'p(50)', p95: 'p(95)', p99: 'p(99)' } as const;
  return {
    vus,
    // timestamp() is the sample's own time: the latest one live, else the largest over the day's
    // minutes (a sample after the last whole minute is live, so the first term has it).
    latestSample: `max(timestamp(${vus})) or max_over_time(max(timestamp(${vus}))[1d:1m])`,
    requests: (runners) => k6Series(testId, K6_REQS, runnerMatcher(runners)),
    durations: (runners) => k6Series(testId, K6_DURATION_HISTOGRAM, runnerMatcher(runners)),
    worstTrend: (key, runners, windowSeconds) => `max(last_over_time(${k6Measured(testId, k6TrendMetric('http_req_duration', stat[key]), runnerMatcher(runners))}[${Math.ceil(windowSeconds)}s]))`,
  };
}

/**
 * A load test as it runs: what the k6 runners see (they remote-write to the stack's Prometheus,
 * each with its own `runner` label), the thresholds as lines and as verdicts, and the API's own
 * server-side view of the same minutes.
 */
export function loadTestDashboardSpec(p: ResolvedProfile, view: LoadTestView): DashboardSpec {
  const t = view.thresholds;
  const reqs = (matchers?: string) => k6Series(view.testId, K6_REQS, matchers);
  const vus = k6Series(view.testId, 'k6_vus');
  const line = (value: number | undefined, legend: string) => (value === undefined ? [] : [{ expr: `vector(${value})`, legend }]);
  return {
    uid: 'apistack-loadtest',
    title: 'apistack / load test',
    panels: [
      {
        title: 'Requests per second (all runners)',
        unit: 'reqps',
        exprs: [{ expr: `sum(rate(${reqs()}[${LIVE}]))`, legend: 'total' }, { expr: `sum by (name) (rate(${reqs()}[${LIVE}]))`, legend: '{{name}}' }, ...line(t.minRequestsPerSecond, 'threshold')],
      },
      {
        title: 'Error ratio (all runners)',
        unit: 'percentunit',
        exprs: [{ expr: `(sum(rate(${reqs('expected_response="false"')}[${LIVE}])) or vector(0)) / sum(rate(${reqs()}[${LIVE}]))`, legend: 'errors' }, ...line(t.errorRatePercent === undefined ? undefined : t.errorRatePercent / 100, 'threshold')],
      },
      {
        title: 'Client latency p50 / p95 / p99 (every runner, run so far)',
        unit: 's',
        exprs: [
          ...K6_TREND_STATS.map((stat) => ({ expr: runPercentile(view.testId, stat), legend: stat })),
          ...line(t.p95Ms === undefined ? undefined : t.p95Ms / 1000, 'p95 threshold'),
          ...line(t.p99Ms === undefined ? undefined : t.p99Ms / 1000, 'p99 threshold'),
        ],
      },
      { title: 'Client latency p95 by request', unit: 's', exprs: [{ expr: runPercentile(view.testId, 'p(95)', 'name'), legend: '{{name}}' }] },
      { title: 'Thresholds met (1) or not (0)', unit: 'short', exprs: loadTestVerdicts(view).map((v) => ({ expr: v.expr, legend: v.name })) },
      { title: 'Responses per second by status', unit: 'reqps', exprs: [{ expr: `sum by (status) (rate(${reqs()}[${LIVE}]))`, legend: '{{status}}' }] },
      { title: 'Virtual users by runner', unit: 'short', exprs: [{ expr: `sum(${vus})`, legend: 'total' }, { expr: `sum by (runner) (${vus})`, legend: '{{runner}}' }] },
      {
        title: 'Server side: API requests per second and p95',
        unit: 'short',
        exprs: [
          { expr: `sum(rate(${H}_count[${LIVE}]))`, legend: 'req/s' },
          { expr: `histogram_quantile(0.95, sum by (le) (rate(${H}_bucket[${LIVE}]))) * 1000`, legend: 'p95 ms' },
        ],
      },
      {
        title: 'Server side: CPU per API replica',
        unit: 'percentunit',
        exprs: [{ expr: `sum by (instance) (rate(${METRICS.processCpuSeconds}{job="api"}[${LIVE}])) / ${p.api.vcpuPerReplica}`, legend: '{{instance}}' }],
      },
      { title: 'Server side: in-flight requests and pool waits', unit: 'short', exprs: [{ expr: `sum(${METRICS.httpRequestsInFlight})`, legend: 'in flight' }, { expr: `sum(${METRICS.dbPoolConnectionsWaiting})`, legend: 'waiting for a connection' }] },
    ],
  };
}

/**
 * The load-test dashboard of whichever run is picked (the `testid` variable lists every scenario
 * that wrote to Prometheus), without thresholds: for a stack that outlives its load tests, so
 * that starting or ending one never changes it. `apistack loadtest verdict` judges a run against
 * its scenario's thresholds.
 */
export function anyLoadTestDashboardSpec(p: ResolvedProfile): DashboardSpec {
  const spec = loadTestDashboardSpec(p, { testId: '$testid', thresholds: {} });
  return { ...spec, panels: spec.panels.filter((panel) => panel.exprs.length > 0), variables: [{ name: 'testid', query: `label_values(${K6_REQS}, testid)` }] };
}

/** Grafana dashboard JSON (schema 39) for a spec, with a Prometheus datasource variable. */
export function grafanaDashboard(spec: DashboardSpec): Record<string, unknown> {
  return {
    uid: spec.uid,
    title: spec.title,
    schemaVersion: 39,
    version: 1,
    editable: false,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        ...(spec.variables ?? []).map((v) => ({ name: v.name, type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' }, query: { query: v.query, refId: v.name }, refresh: 2 })),
      ],
    },
    panels: spec.panels.map((panel, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: panel.title,
      datasource: { type: 'prometheus', uid: '${datasource}' },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.exprs.map((e, j) => ({ refId: String.fromCharCode(65 + j), expr: e.expr, legendFormat: e.legend })),
    })),
  };
}
