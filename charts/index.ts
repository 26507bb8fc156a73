/** Every chart of the Kubernetes target, composed in one cdk8s App; each is a function of the profile. */
import { App, YamlOutputType } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { k6TestId } from '../lib/loadtest/k6.ts';
import type { Scenario } from '../lib/loadtest/scenario.ts';
import { ApiChart } from './api.ts';
import { DataChart } from './data.ts';
import { LoadTestChart } from './loadtest.ts';
import { MonitoringChart } from './monitoring.ts';
import { NamespaceChart } from './namespace.ts';
import { NetworkChart } from './network.ts';
import { NginxChart } from './nginx.ts';
import { nodeArchitecture } from './common.ts';
import { MIGRATIONS_JOB, nameByTemplate, nodeArchitecture as selectArchitecture } from './patches.ts';

export { kubernetesNginxConfig } from './nginx.ts';
export * from './loadtest.ts';
export * from './common.ts';
export * from './secrets.ts';
export * from './prerequisites.ts';

export interface KubernetesAppProps {
  readonly profile: ResolvedProfile;
  /** Directory the YAML files go to. */
  readonly outdir: string;
  /** @default the profile's api image */
  readonly apiImage?: string;
  /**
   * Add 90-loadtest.yaml, this scenario's k6 Jobs, and let Prometheus receive their metrics and
   * Grafana show them. @default - no load test: the files are exactly the stack's
   */
  readonly loadTest?: Scenario;
}

/**
 * One file per chart: 00-namespace.yaml, 10-api.yaml, ... (ordered for `kubectl apply -f`), and
 * 90-loadtest.yaml when a load test is asked for. The files name the Secrets of
 * `referencedSecrets` and never contain them, so the same profile always synthesizes the same bytes.
 */
export function kubernetesApp(props: KubernetesAppProps): App {
  const app = new App({ outdir: props.outdir, outputFileExtension: '.yaml', yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const profile = props.profile;
  const image = props.apiImage ? { image: props.apiImage } : {};
  new NamespaceChart(app, '00-namespace', { profile });
  new DataChart(app, '10-data', { profile, ...(props.apiImage ? { apiImage: props.apiImage } : {}) });
  new ApiChart(app, '20-api', { profile, ...image });
  new NginxChart(app, '30-nginx', { profile });
  new MonitoringChart(app, '40-monitoring', { profile, ...(props.loadTest ? { loadTest: { testId: k6TestId(props.loadTest), thresholds: props.loadTest.thresholds } } : {}) });
  new NetworkChart(app, '50-network', { profile });
  if (props.loadTest) new LoadTestChart(app, '90-loadtest', { profile, scenario: props.loadTest });
  const workloads = app.node.findAll().filter((c): c is kplus.Deployment | kplus.StatefulSet | kplus.Job => c instanceof kplus.Deployment || c instanceof kplus.StatefulSet || c instanceof kplus.Job);
  // Every pod on nodes of the profile's architecture: an image built for the other one fails with "exec format error".
  const architecture = nodeArchitecture(profile);
  if (architecture) for (const w of workloads) selectArchitecture(w, architecture);
  // Last, once its template is final: a new template is a new Job (its template is immutable).
  for (const w of workloads) if (w instanceof kplus.Job && w.name === MIGRATIONS_JOB) nameByTemplate(w, MIGRATIONS_JOB);
  return app;
}
