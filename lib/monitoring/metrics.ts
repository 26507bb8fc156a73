/**
 * Every metric the rules and dashboards may use: the app's contract plus what the exporters and
 * Prometheus really export. A test checks each expression against this list.
 */
import { METRICS } from '../../app/src/metrics-contract.ts';

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

export const KNOWN_METRICS: ReadonlySet<string> = new Set([...APP_METRICS, ...EXPORTER_METRICS, ...PROMETHEUS_METRICS]);

/** Recording rules are names too: expressions may use what the rules record. */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const keywords = new Set(['sum', 'by', 'without', 'rate', 'increase', 'irate', 'histogram_quantile', 'max', 'min', 'avg', 'count', 'and', 'or', 'unless', 'on', 'ignoring', 'group_left', 'group_right', 'clamp_min', 'clamp_max', 'abs', 'absent', 'bool', 'le', 'offset', 'vector', 'scalar', 'topk', 'sort_desc']);
  // Label names inside braces or by(...) are not metrics.
  const labelsRemoved = withoutStrings.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  const candidates = labelsRemoved.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(candidates.filter((w) => !keywords.has(w) && !/^\d/.test(w)))];
}
