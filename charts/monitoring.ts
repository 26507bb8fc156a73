/** Prometheus (RBAC for pod discovery, rules) and Grafana (datasource, dashboards), or Operator objects. */
import { ApiObject, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { allRuleGroups, GRAFANA_DASHBOARDS_DIR, GRAFANA_DATA_DIR, GRAFANA_ENVIRONMENT, PROMETHEUS_DATA_DIR, prometheusArgs, grafanaProvisioning, prometheusConfig, renderRulesYaml, renderYaml, type LoadTestView } from '../lib/monitoring/index.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, PORTS } from '../lib/profile/workloads.ts';
import { configChecksum, container, emptyDir, httpProbe, IMAGES, labels, meta, operatorSelection, selectByName, serviceFor, workloadProps } from './common.ts';
import { dataVolumeClaim, seccompRuntimeDefault } from './patches.ts';
import { secretEnv } from './secrets.ts';

/** The container port names Prometheus scrapes, one per pod that exports metrics. */
export const METRICS_PORT_NAMES = ['metrics', 'nginx-exporter', 'pg-exporter', 'redis-exporter'] as const;

export interface MonitoringChartProps {
  readonly profile: ResolvedProfile;
  /**
   * A load test will run: Grafana shows the load-test dashboard with these thresholds (Prometheus
   * receives remote writes either way). @default - no load test: no load-test dashboard
   */
  readonly loadTest?: LoadTestView;
}

export class MonitoringChart extends Chart {
  constructor(scope: Construct, id: string, props: MonitoringChartProps) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    if (p.monitoring.prometheusOperator) {
      this.operatorObjects(p);
      return;
    }
    const workloads = kubernetesWorkloads(p);
    const prom = workloads.find((w) => w.name === 'prometheus')!;
    const grafana = workloads.find((w) => w.name === 'grafana')!;

    // Pod discovery reads pods, services and endpoints of this namespace, nothing else.
    const account = new kplus.ServiceAccount(this, 'sa', { metadata: meta('prometheus'), automountToken: false });
    const role = new kplus.Role(this, 'role', { metadata: meta('prometheus') });
    role.allowRead(kplus.ApiResource.PODS, kplus.ApiResource.SERVICES, kplus.ApiResource.ENDPOINTS);
    new kplus.RoleBinding(this, 'binding', { metadata: meta('prometheus'), role }).addSubjects(account);

    const promConfig = new kplus.ConfigMap(this, 'prom-config', {
      metadata: meta('prometheus-config', 'prometheus'),
      data: { 'prometheus.yml': renderYaml(prometheusConfig(p, { kind: 'kubernetes', namespace: p.kubernetes.namespace })) },
    });
    const promRules = new kplus.ConfigMap(this, 'prom-rules', { metadata: meta('prometheus-rules', 'prometheus'), data: { 'apistack.yml': renderRulesYaml(p) } });
    const promService = serviceFor(this, 'prom-service', { name: 'prometheus', owner: 'prometheus', ports: [{ name: 'web', port: PORTS.prometheus, targetPort: PORTS.prometheus }] });
    const promBase = workloadProps('prometheus');
    const prometheus = new kplus.StatefulSet(this, 'prometheus', {
      ...promBase,
      // Prometheus reads its config and rules at start: a change rolls the pod (the TSDB stays on its volume).
      podMetadata: { ...promBase.podMetadata, annotations: configChecksum(promConfig, promRules) },
      service: promService,
      replicas: 1,
      serviceAccount: account,
      // Pod discovery needs the API token: the one pod that mounts it.
      automountServiceAccountToken: true,
      containers: [
        container(prom.containers[0]!, {
          image: IMAGES.prometheus,
          // Always on, so adding a load test never restarts Prometheus (its runners' first writes
          // would be lost); the port admits Grafana and, with a load test, its runners, no one else.
          args: prometheusArgs(p, { remoteWriteReceiver: true, lifecycle: true }),
          ports: [{ name: 'web', number: PORTS.prometheus }],
          liveness: httpProbe('/-/healthy', PORTS.prometheus, { periodSeconds: 15 }),
          readiness: httpProbe('/-/ready', PORTS.prometheus, { periodSeconds: 5 }),
          volumeMounts: [
            { path: '/etc/prometheus/prometheus.yml', subPath: 'prometheus.yml', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'config-volume', promConfig, { name: 'config' }) },
            { path: '/etc/prometheus/rules', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'rules-volume', promRules, { name: 'rules' }) },
          ],
        }),
      ],
    });
    selectByName(prometheus, 'prometheus');
    seccompRuntimeDefault(prometheus);
    dataVolumeClaim(prometheus, { name: 'prometheus', container: prometheus.containers[0]!, mountPath: PROMETHEUS_DATA_DIR, storageClassName: p.kubernetes.storageClassName, sizeGiB: prom.volumeGiB! });

    const provisioning = grafanaProvisioning(p, `http://prometheus:${PORTS.prometheus}`, props.loadTest ? { loadTest: props.loadTest } : {});
    const datasources = new kplus.ConfigMap(this, 'grafana-datasource', {
      metadata: meta('grafana-datasources', 'grafana'),
      data: { 'prometheus.yml': provisioning.datasources },
    });
    const providers = new kplus.ConfigMap(this, 'grafana-providers', {
      metadata: meta('grafana-dashboard-providers', 'grafana'),
      data: { 'apistack.yml': provisioning.providers },
    });
    const dashboards = new kplus.ConfigMap(this, 'grafana-dashboards', {
      metadata: meta('grafana-dashboards', 'grafana'),
      data: { ...provisioning.dashboards },
    });
    const grafanaBase = workloadProps('grafana');
    const grafanaDeployment = new kplus.Deployment(this, 'grafana', {
      ...grafanaBase,
      // Provisioning is read at start.
      podMetadata: { ...grafanaBase.podMetadata, annotations: configChecksum(datasources, providers, dashboards) },
      replicas: 1,
      containers: [
        container(grafana.containers[0]!, {
          image: IMAGES.grafana,
          ports: [{ name: 'web', number: PORTS.grafana }],
          envVariables: {
            GF_SECURITY_ADMIN_PASSWORD: secretEnv(this, p, 'grafanaAdminPassword'),
            ...Object.fromEntries(Object.entries(GRAFANA_ENVIRONMENT).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
          },
          liveness: httpProbe('/api/health', PORTS.grafana, { periodSeconds: 15 }),
          readiness: httpProbe('/api/health', PORTS.grafana, { periodSeconds: 5 }),
          volumeMounts: [
            { path: GRAFANA_DATA_DIR, volume: emptyDir(this, 'data') },
            { path: '/tmp', volume: emptyDir(this, 'tmp') },
            { path: '/etc/grafana/provisioning/datasources', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'datasources-volume', datasources, { name: 'datasources' }) },
            { path: '/etc/grafana/provisioning/dashboards', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'providers-volume', providers, { name: 'providers' }) },
            { path: GRAFANA_DASHBOARDS_DIR, readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'dashboards-volume', dashboards, { name: 'dashboards' }) },
          ],
        }),
      ],
    });
    selectByName(grafanaDeployment, 'grafana');
    seccompRuntimeDefault(grafanaDeployment);
    serviceFor(this, 'grafana-service', { name: 'grafana', owner: 'grafana', ports: [{ name: 'web', port: PORTS.grafana, targetPort: PORTS.grafana }] });
  }

  /**
   * The cluster's Prometheus Operator scrapes and evaluates: emit what it reads, labelled so its
   * Prometheus selects them. One PodMonitor over every pod of the stack, one endpoint per metrics
   * port name: each pod is scraped exactly once (a ServiceMonitor over the API's Services as well
   * would scrape each API pod again per Service, and every rate would read double or triple).
   */
  private operatorObjects(p: ResolvedProfile): void {
    const selection = operatorSelection(p);
    const objectLabels = { ...labels('apistack'), ...selection.selectorLabels };
    new ApiObject(this, 'pod-monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'apistack', labels: objectLabels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/part-of': 'apistack' } },
        // job="api", "nginx", ... as with the self-hosted Prometheus, which the rules and dashboards select by.
        jobLabel: 'app.kubernetes.io/name',
        podMetricsEndpoints: METRICS_PORT_NAMES.map((port) => ({
          port,
          interval: `${p.monitoring.scrapeIntervalSeconds}s`,
          relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], targetLabel: 'app' }],
        })),
      },
    });
    new ApiObject(this, 'rules', { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'apistack', labels: objectLabels }, spec: { groups: allRuleGroups(p) } });
  }
}
