/**
 * Prometheus recording and alert rules as pure functions of the profile: per-route rates, error
 * ratios and latency quantiles; multiwindow multi-burn-rate SLO alerts; KPI alerts.
 * https://sre.google/workbook/alerting-on-slos/ (burn rates 14.4×/6×/1×)
 */
import { HTTP_DURATION_BUCKETS_SECONDS, METRICS } from '../../app/src/metrics-contract.ts';
import type { ResolvedProfile } from '../profile/load.ts';

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

const H = METRICS.httpRequestDuration;
export const SLO_WINDOWS = ['5m', '30m', '1h', '6h', '3d'] as const;

/** Multiwindow, multi-burn-rate: [severity, long window, short window, burn rate]. */
export const BURN_RATE_ALERTS = [
  ['page', '1h', '5m', 14.4],
  ['page', '6h', '30m', 6],
  ['ticket', '3d', '6h', 1],
] as const;

/** The `le` label of the histogram bucket at the latency objective's threshold. */
export function latencyBucket(thresholdSeconds: number): string {
  if (!HTTP_DURATION_BUCKETS_SECONDS.includes(thresholdSeconds as (typeof HTTP_DURATION_BUCKETS_SECONDS)[number])) {
    throw new Error(
      `monitoring.slo.latencyThresholdSeconds ${thresholdSeconds} is not a histogram bucket boundary; use one of ${HTTP_DURATION_BUCKETS_SECONDS.join(', ')}`,
    );
  }
  return String(thresholdSeconds);
}

export function recordingRules(p: ResolvedProfile): RuleGroup[] {
  const le = latencyBucket(p.monitoring.slo.latencyThresholdSeconds);
  const perRoute: Rule[] = [
    { record: 'route:apistack_http_requests:rate5m', expr: `sum by (route) (rate(${H}_count[5m]))` },
    {
      record: 'route:apistack_http_errors:ratio_rate5m',
      expr: `sum by (route) (rate(${H}_count{status_code=~"5.."}[5m])) / sum by (route) (rate(${H}_count[5m]))`,
    },
    ...[0.5, 0.95, 0.99].map((q) => ({
      record: `route:apistack_http_request_duration_seconds:p${Math.round(q * 100)}_5m`,
      expr: `histogram_quantile(${q}, sum by (route, le) (rate(${H}_bucket[5m])))`,
    })),
  ];
  const slo: Rule[] = SLO_WINDOWS.flatMap((w) => [
    { record: `apistack:slo_errors:ratio_rate${w}`, expr: `sum(rate(${H}_count{status_code=~"5.."}[${w}])) / sum(rate(${H}_count[${w}]))` },
    { record: `apistack:slo_slow:ratio_rate${w}`, expr: `1 - (sum(rate(${H}_bucket{le="${le}"}[${w}])) / sum(rate(${H}_count[${w}])))` },
  ]);
  return [
    { name: 'apistack-routes', rules: perRoute },
    { name: 'apistack-slo', rules: slo },
  ];
}

function burnAlerts(kind: 'errors' | 'slow', objectivePercent: number, what: string): Rule[] {
  const budget = Math.round((1 - objectivePercent / 100) * 1e6) / 1e6;
  return (['page', 'ticket'] as const).map((severity) => {
    const parts = BURN_RATE_ALERTS.filter(([s]) => s === severity).map(
      ([, long, short, rate]) => `(apistack:slo_${kind}:ratio_rate${long} > ${rate} * ${budget} and apistack:slo_${kind}:ratio_rate${short} > ${rate} * ${budget})`,
    );
    return {
      alert: `Apistack${kind === 'errors' ? 'Availability' : 'Latency'}BudgetBurn${severity === 'page' ? 'Fast' : 'Slow'}`,
      expr: parts.join(' or '),
      labels: { severity },
      annotations: { summary: `${what} error budget (${objectivePercent}% objective) is burning ${severity === 'page' ? 'fast' : 'steadily'}` },
    };
  });
}

export function alertRules(p: ResolvedProfile): RuleGroup[] {
  const a = p.monitoring.alerts;
  const slo = p.monitoring.slo;
  const memoryBytes = a.workerMemoryMiB * 1024 * 1024;
  const kpi: Rule[] = [
    {
      alert: 'ApistackHighLatencyP95',
      expr: `histogram_quantile(0.95, sum by (le) (rate(${H}_bucket[5m]))) > ${a.p95LatencySeconds}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: { summary: `p95 latency above ${a.p95LatencySeconds} s` },
    },
    {
      alert: 'ApistackHighErrorRate',
      expr: `sum(rate(${H}_count{status_code=~"5.."}[5m])) / sum(rate(${H}_count[5m])) > ${a.errorRatePercent / 100}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: { summary: `more than ${a.errorRatePercent}% of requests fail` },
    },
    {
      alert: 'ApistackLowCacheHitRatio',
      expr: `sum(rate(${METRICS.cacheRequests}{result="hit"}[15m])) / sum(rate(${METRICS.cacheRequests}[15m])) < ${a.cacheHitRatioPercent / 100}`,
      for: '30m',
      labels: { severity: 'warning' },
      annotations: { summary: `cache hit ratio below ${a.cacheHitRatioPercent}%` },
    },
    {
      alert: 'ApistackWorkerMemoryHigh',
      expr: `max by (instance, worker) (${METRICS.residentMemoryBytes}) > ${memoryBytes}`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: { summary: `a worker uses more than ${a.workerMemoryMiB} MiB` },
    },
    {
      alert: 'ApistackCpuHigh',
      expr: `sum by (instance) (rate(${METRICS.processCpuSeconds}{job="api"}[5m])) / ${p.api.vcpuPerReplica} > ${a.cpuPercent / 100}`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: { summary: `an API replica uses more than ${a.cpuPercent}% of its ${p.api.vcpuPerReplica} vCPU` },
    },
    {
      alert: 'ApistackDatabaseConnectionsHigh',
      expr: `sum by (instance) (pg_stat_database_numbackends) / max by (instance) (pg_settings_max_connections) > ${a.dbConnectionsPercent / 100}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: { summary: `Postgres connections above ${a.dbConnectionsPercent}% of max_connections` },
    },
    {
      alert: 'ApistackWorkerRestartStorm',
      expr: `sum by (instance) (increase(${METRICS.workerRestarts}{reason="crash"}[15m])) > ${a.workerRestartsPer15m}`,
      labels: { severity: 'page' },
      annotations: { summary: `more than ${a.workerRestartsPer15m} worker crashes in 15 minutes` },
    },
    { alert: 'ApistackRedisDown', expr: 'redis_up == 0', for: '2m', labels: { severity: 'page' }, annotations: { summary: 'Redis is down' } },
    { alert: 'ApistackPostgresDown', expr: 'pg_up == 0', for: '1m', labels: { severity: 'page' }, annotations: { summary: 'Postgres is down' } },
    { alert: 'ApistackNginxDown', expr: 'nginx_up == 0', for: '1m', labels: { severity: 'page' }, annotations: { summary: 'nginx is down' } },
  ];
  return [
    { name: 'apistack-slo-alerts', rules: [...burnAlerts('errors', slo.availabilityPercent, 'Availability'), ...burnAlerts('slow', slo.latencyPercent, `Latency (${slo.latencyThresholdSeconds} s)`)] },
    { name: 'apistack-kpi-alerts', rules: kpi },
  ];
}

export function allRuleGroups(p: ResolvedProfile): RuleGroup[] {
  return [...recordingRules(p), ...alertRules(p)];
}
