/** Grafana provisioning files (datasource, dashboard provider, dashboards) for any target. */
import type { ResolvedProfile } from '../profile/load.ts';
import { anyLoadTestDashboardSpec, dashboardSpecs, grafanaDashboard, loadTestDashboardSpec, type LoadTestView } from './dashboards.ts';
import { renderYaml } from './render.ts';

/** Where the provider reads dashboards from inside the Grafana container. */
export const GRAFANA_DASHBOARDS_DIR = '/var/lib/grafana/dashboards';

export interface GrafanaProvisioning {
  /** provisioning/datasources/prometheus.yml */
  readonly datasources: string;
  /** provisioning/dashboards/apistack.yml */
  readonly providers: string;
  /** File name → dashboard JSON, for GRAFANA_DASHBOARDS_DIR. */
  readonly dashboards: Readonly<Record<string, string>>;
}

export interface GrafanaProvisioningOptions {
  /**
   * Add the load-test dashboard for this run's testid and thresholds, or for any run ('any': a
   * stack whose load tests come and go, see anyLoadTestDashboardSpec). @default - no load-test dashboard
   */
  readonly loadTest?: LoadTestView | 'any';
}

export function grafanaProvisioning(p: ResolvedProfile, prometheusUrl: string, opts: GrafanaProvisioningOptions = {}): GrafanaProvisioning {
  const specs = [...dashboardSpecs(p), ...(opts.loadTest === 'any' ? [anyLoadTestDashboardSpec(p)] : opts.loadTest ? [loadTestDashboardSpec(p, opts.loadTest)] : [])];
  return {
    datasources: renderYaml({ apiVersion: 1, datasources: [{ name: 'Prometheus', type: 'prometheus', uid: 'prometheus', access: 'proxy', url: prometheusUrl, isDefault: true }] }),
    providers: renderYaml({ apiVersion: 1, providers: [{ name: 'apistack', folder: 'apistack', type: 'file', options: { path: GRAFANA_DASHBOARDS_DIR } }] }),
    dashboards: Object.fromEntries(specs.map((d) => [`${d.uid}.json`, JSON.stringify(grafanaDashboard(d))])),
  };
}
