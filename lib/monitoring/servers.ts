/** How Prometheus and Grafana run on every target: paths, flags and settings, in one place. */
import type { ResolvedProfile } from '../profile/load.ts';

export const PROMETHEUS_CONFIG_FILE = '/etc/prometheus/prometheus.yml';
export const PROMETHEUS_DATA_DIR = '/prometheus';
export const GRAFANA_DATA_DIR = '/var/lib/grafana/data';
/** Share of its storage the TSDB may fill when capped by size; the rest is WAL and compaction room. */
export const PROMETHEUS_RETENTION_SIZE_SHARE = 0.9;

export interface PrometheusArgOptions {
  /** Accept remote writes (k6 runners of a load test). */
  readonly remoteWriteReceiver: boolean;
  /** Cap the TSDB at a share of monitoring.storageGiB as well as by time. */
  readonly capBySize?: boolean;
  /** Allow reloads over HTTP (a config-reloader sidecar or kubectl exec). */
  readonly lifecycle?: boolean;
}

export function prometheusArgs(p: ResolvedProfile, o: PrometheusArgOptions): string[] {
  const m = p.monitoring;
  return [
    `--config.file=${PROMETHEUS_CONFIG_FILE}`,
    `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
    `--storage.tsdb.retention.time=${m.retentionDays}d`,
    ...(o.capBySize ? [`--storage.tsdb.retention.size=${Math.floor(m.storageGiB * PROMETHEUS_RETENTION_SIZE_SHARE)}GB`] : []),
    ...(o.lifecycle ? ['--web.enable-lifecycle'] : []),
    // k6 runners write their latencies as native histograms (lib/monitoring/metrics.ts: K6_DURATION_HISTOGRAM).
    ...(o.remoteWriteReceiver ? ['--web.enable-remote-write-receiver', '--enable-feature=native-histograms'] : []),
  ];
}

/** Grafana's settings besides its admin password (a secret each target supplies). */
export const GRAFANA_ENVIRONMENT: Readonly<Record<string, string>> = Object.freeze({ GF_PATHS_DATA: GRAFANA_DATA_DIR, GF_ANALYTICS_REPORTING_ENABLED: 'false' });
