/** Prometheus scrape configuration per target. */
import type { ResolvedProfile } from '../profile/load.ts';
import { PORTS } from '../profile/workloads.ts';

export type ScrapeTarget =
  | { readonly kind: 'local'; readonly apiMetricsTargets: readonly string[]; readonly prometheusTarget?: string }
  | { readonly kind: 'kubernetes'; readonly namespace: string }
  | { readonly kind: 'aws'; readonly apiMetricsDnsName: string; readonly nginxExporterDnsName?: string };

export const RULE_FILES = ['/etc/prometheus/rules/*.yml'];

export function prometheusConfig(p: ResolvedProfile, target: ScrapeTarget, opts: { ruleFiles?: readonly string[] } = {}): Record<string, unknown> {
  const interval = `${p.monitoring.scrapeIntervalSeconds}s`;
  const global = { scrape_interval: interval, evaluation_interval: interval, external_labels: externalLabels(p, target.kind) };
  const rule_files = [...(opts.ruleFiles ?? RULE_FILES)];
  if (target.kind === 'local') {
    return {
      global,
      rule_files,
      scrape_configs: [
        { job_name: 'api', metrics_path: '/metrics', static_configs: [{ targets: [...target.apiMetricsTargets] }] },
        ...(target.prometheusTarget ? [{ job_name: 'prometheus', static_configs: [{ targets: [target.prometheusTarget] }] }] : []),
      ],
    };
  }
  if (target.kind === 'kubernetes') {
    // Pods say what to scrape through their container ports' names: `metrics` (API) and `*-exporter`.
    const podJob = (job: string, portName: string) => ({
      job_name: job,
      kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [target.namespace] } }],
      relabel_configs: [
        { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: portName, action: 'keep' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], target_label: 'app' },
      ],
    });
    return {
      global,
      rule_files,
      ...alerting(p.monitoring.alertmanagerUrl),
      scrape_configs: [podJob('api', 'metrics'), podJob('nginx', 'nginx-exporter'), podJob('postgres', 'pg-exporter'), podJob('redis', 'redis-exporter'), { job_name: 'prometheus', static_configs: [{ targets: [`localhost:${PORTS.prometheus}`] }] }],
    };
  }
  return {
    global,
    rule_files,
    scrape_configs: [
      // ECS tasks registered in Cloud Map: one A record per task.
      { job_name: 'api', dns_sd_configs: [{ names: [target.apiMetricsDnsName], type: 'A', port: PORTS.apiMetrics, refresh_interval: interval }] },
      ...(target.nginxExporterDnsName
        ? [{ job_name: 'nginx', dns_sd_configs: [{ names: [target.nginxExporterDnsName], type: 'A', port: PORTS.nginxExporter, refresh_interval: interval }] }]
        : []),
      { job_name: 'prometheus', static_configs: [{ targets: [`localhost:${PORTS.prometheus}`] }] },
    ],
  };
}

/** The profile's Alertmanager URL taken apart as Prometheus' `alertmanagers` entry wants it. */
export function alertmanagerEndpoint(alertmanagerUrl: string): { scheme: 'http' | 'https'; host: string; port: number; pathPrefix: string } {
  const url = new URL(alertmanagerUrl);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  // url.port is empty for the scheme's default port, which Prometheus wants written out.
  return { scheme, host: url.hostname, port: Number(url.port || (scheme === 'https' ? 443 : 80)), pathPrefix: url.pathname.replace(/\/+$/, '') };
}

/** Where firing alerts go: the profile's Alertmanager, if it names one. */
function alerting(alertmanagerUrl: string | undefined): Record<string, unknown> {
  if (!alertmanagerUrl) return {};
  const a = alertmanagerEndpoint(alertmanagerUrl);
  return { alerting: { alertmanagers: [{ scheme: a.scheme, ...(a.pathPrefix ? { path_prefix: a.pathPrefix } : {}), static_configs: [{ targets: [`${a.host}:${a.port}`] }] }] } };
}

/**
 * Managed monitoring on AWS: a collector beside each task scrapes that task alone and
 * remote-writes to Amazon Managed Prometheus, where the rules run (no rule_files here; the
 * labels every series carries are set on the exporter, which is where the collector applies them).
 */
export function sidecarScrapeConfig(p: ResolvedProfile, job: 'api' | 'nginx'): Record<string, unknown> {
  const interval = `${p.monitoring.scrapeIntervalSeconds}s`;
  const port = job === 'api' ? PORTS.apiMetrics : PORTS.nginxExporter;
  return {
    global: { scrape_interval: interval },
    scrape_configs: [{ job_name: job, metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
  };
}

/** The labels every series from a target carries (Prometheus external_labels). */
export function externalLabels(p: ResolvedProfile, target: ScrapeTarget['kind']): Record<string, string> {
  return { profile: p.name, target };
}
