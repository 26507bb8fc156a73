/** Grafana dashboards generated from code, so every panel's PromQL is checked like the rules. */
import { METRICS } from '../../app/src/metrics-contract.ts';
import type { ResolvedProfile } from '../profile/load.ts';

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly exprs: readonly { expr: string; legend: string }[];
}
export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
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
    templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus' }] },
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
