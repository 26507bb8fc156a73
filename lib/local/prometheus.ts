/** Prometheus scrape configuration for the local environment: the API replicas' metrics ports on loopback. */
import { stringify } from 'yaml';
import type { ResolvedProfile } from '../profile/load.ts';

export function renderLocalPrometheusConfig(p: ResolvedProfile, targets: { apiMetricsTargets: readonly string[] }): string {
  return stringify({
    global: { scrape_interval: `${p.monitoring.scrapeIntervalSeconds}s`, evaluation_interval: `${p.monitoring.scrapeIntervalSeconds}s`, external_labels: { profile: p.name, target: 'local' } },
    scrape_configs: [
      { job_name: 'api', metrics_path: '/metrics', static_configs: [{ targets: [...targets.apiMetricsTargets] }] },
      { job_name: 'prometheus', static_configs: [{ targets: ['localhost:9090'] }] },
    ],
  });
}
