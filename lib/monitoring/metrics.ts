/**
 * Every metric the rules and dashboards may use: the app's contract plus what the exporters and
 * Prometheus really export. A test checks each expression against this list.
 */
import { METRICS } from '../../app/src/metrics-contract.ts';

/** The app's routes (health, readiness, metrics), for the probes every target points at them. */
export { ROUTES as APP_ROUTES } from '../../app/src/metrics-contract.ts';

/** Workers of one API process that are listening; the local environment waits for all of them. */
export const WORKERS_LISTENING_METRIC = METRICS.workersAlive;
/** The request-duration histogram; its _count says how many requests a replica answered. */
export const REQUEST_DURATION_METRIC = METRICS.httpRequestDuration;

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

export const APP_METRICS: readonly string[] = Object.values(METRICS).flatMap((name) =>
  name === METRICS.httpRequestDuration ? HISTOGRAM_SUFFIXES.map((s) => `${name}${s}`) : [name],
);

/** redis_exporter (oliver006), postgres_exporter (prometheus-community), nginx-prometheus-exporter (nginx). */
export const EXPORTER_METRICS: readonly string[] = [
  'redis_up',
  'redis_connected_clients',
  'redis_memory_used_bytes',
  'redis_memory_max_bytes',
  'redis_keyspace_hits_total',
  'redis_keyspace_misses_total',
  'redis_commands_processed_total',
  'pg_up',
  'pg_stat_database_numbackends',
  'pg_settings_max_connections',
  'pg_stat_database_xact_commit',
  'pg_stat_database_xact_rollback',
  'nginx_up',
  'nginx_connections_active',
  'nginx_connections_accepted',
  'nginx_connections_handled',
  'nginx_connections_waiting',
  'nginx_http_requests_total',
];

export const PROMETHEUS_METRICS: readonly string[] = ['up'];



/** Recording rules are names too: expressions may use what the rules record. */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const keywords = new Set(['sum', 'by', 'without', 'rate', 'increase', 'irate', 'histogram_quantile', 'max', 'min', 'avg', 'count', 'and', 'or', 'unless', 'on', 'ignoring', 'group_left', 'group_right', 'clamp_min', 'clamp_max', 'abs', 'absent', 'bool', 'le', 'offset', 'vector', 'scalar', 'topk', 'sort_desc']);
  // Label names inside braces or by(...) are not metrics.
  const labelsRemoved = withoutStrings.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  const candidates = labelsRemoved.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(candidates.filter((w) => !keywords.has(w) && !/^\d/.test(w)))];
}

/**
 * What k6's Prometheus remote-write output (`k6 run -o experimental-prometheus-rw`) writes: every
 * name prefixed `k6_`; counters suffixed `_total`, rates `_rate`, gauges as they are, and each
 * trend as one gauge per stat in K6_PROMETHEUS_RW_TREND_STATS (`p(95)` → `_p95`), in seconds,
 * computed over the run so far by each runner.
 * @see https://grafana.com/docs/k6/latest/results-output/real-time/prometheus-remote-write/
 */
export const K6_TREND_STATS = ['p(50)', 'p(95)', 'p(99)'] as const;
export type K6TrendStat = (typeof K6_TREND_STATS)[number];
/** The value of K6_PROMETHEUS_RW_TREND_STATS that writes the stats K6_METRICS lists. */
export const K6_TREND_STATS_ENV = K6_TREND_STATS.join(',');

/**
 * With K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true, k6 writes each trend as one Prometheus
 * native histogram over the runner's run so far (`_seconds`), instead of the per-stat gauges above.
 * Summed over the runners, a histogram gives the run's percentiles over every request (to the
 * bucket's width: k6 writes them at a bucket factor of 1.1, schema 3, 9%), where the per-runner stats give only the worst
 * runner's. Prometheus must run with --enable-feature=native-histograms.
 */
export const K6_DURATION_HISTOGRAM = 'k6_http_req_duration_seconds';
export const K6_NATIVE_HISTOGRAM_ENV = { K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM: 'true' } as const;

const K6_COUNTERS = ['http_reqs', 'iterations', 'dropped_iterations', 'data_sent', 'data_received'];
const K6_RATES = ['http_req_failed', 'checks'];
const K6_GAUGES = ['vus', 'vus_max'];
const K6_TRENDS = ['http_req_duration', 'http_req_waiting', 'http_req_connecting', 'http_req_blocked', 'http_req_sending', 'http_req_receiving', 'http_req_tls_handshaking', 'iteration_duration'];

export function k6TrendMetric(trend: string, stat: K6TrendStat): string {
  return `k6_${trend}_${stat.replace(/[()]/g, '').replace('.', '')}`;
}

export const K6_METRICS: readonly string[] = [
  ...K6_COUNTERS.map((n) => `k6_${n}_total`),
  ...K6_RATES.map((n) => `k6_${n}_rate`),
  ...K6_GAUGES.map((n) => `k6_${n}`),
  ...K6_TRENDS.flatMap((t) => K6_TREND_STATS.map((s) => k6TrendMetric(t, s))),
  ...K6_TRENDS.map((t) => `k6_${t}_seconds`),
];

/** Every name above; k6's exist while a load test remote-writes to the stack's Prometheus. */
export const KNOWN_METRICS: ReadonlySet<string> = new Set([...APP_METRICS, ...EXPORTER_METRICS, ...PROMETHEUS_METRICS, ...K6_METRICS]);
