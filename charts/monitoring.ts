/** Prometheus (RBAC for pod discovery, rules) and Grafana (datasource, dashboards), or Operator objects. */
import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { allRuleGroups, dashboardSpecs, grafanaDashboard, prometheusConfig, renderRulesYaml, renderYaml } from '../lib/monitoring/index.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, PORTS } from '../lib/profile/workloads.ts';
import { containerSecurityContext, IMAGES, labels, podSecurityContext, resources, secretRef, selector, type SecretValues, manifest, dataVolumeClaim } from './common.ts';

export class MonitoringChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; secrets: SecretValues }) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    if (p.monitoring.prometheusOperator) {
      this.operatorObjects(p);
      return;
    }
    const workloads = kubernetesWorkloads(p);
    const prom = workloads.find((w) => w.name === 'prometheus')!;
    const grafana = workloads.find((w) => w.name === 'grafana')!;

    manifest(this, 'sa', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'prometheus', labels: labels('prometheus') }, automountServiceAccountToken: false });
    manifest(this, 'role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'prometheus', labels: labels('prometheus') },
      rules: [{ apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] }],
    });
    manifest(this, 'binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'prometheus', labels: labels('prometheus') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'prometheus' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: p.kubernetes.namespace }],
    });
    manifest(this, 'prom-config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'prometheus-config', labels: labels('prometheus') },
      data: {
        'prometheus.yml': renderYaml(prometheusConfig(p, { kind: 'kubernetes', namespace: p.kubernetes.namespace }, { ruleFiles: ['/etc/prometheus/rules/*.yml'] })),
      },
    });
    manifest(this, 'prom-rules', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'prometheus-rules', labels: labels('prometheus') }, data: { 'apistack.yml': renderRulesYaml(p) } });
    manifest(this, 'prometheus', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'prometheus', labels: labels('prometheus') },
      spec: {
        serviceName: 'prometheus',
        replicas: 1,
        selector: { matchLabels: selector('prometheus') },
        template: {
          metadata: { labels: labels('prometheus') },
          spec: {
            serviceAccountName: 'prometheus',
            // Pod discovery needs the API token: the one pod that mounts it.
            automountServiceAccountToken: true,
            securityContext: podSecurityContext(),
            containers: [
              {
                name: 'prometheus',
                image: IMAGES.prometheus,
                args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', `--storage.tsdb.retention.time=${p.monitoring.retentionDays}d`, '--web.enable-lifecycle'],
                ports: [{ name: 'web', containerPort: PORTS.prometheus }],
                resources: resources(prom.containers[0]!),
                livenessProbe: { httpGet: { path: '/-/healthy', port: 'web' }, periodSeconds: 15 },
                readinessProbe: { httpGet: { path: '/-/ready', port: 'web' }, periodSeconds: 5 },
                securityContext: containerSecurityContext(),
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/prometheus/prometheus.yml', subPath: 'prometheus.yml', readOnly: true },
                  { name: 'rules', mountPath: '/etc/prometheus/rules', readOnly: true },
                  { name: 'data', mountPath: '/prometheus' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'prometheus-config' } },
              { name: 'rules', configMap: { name: 'prometheus-rules' } },
            ],
          },
        },
        volumeClaimTemplates: [dataVolumeClaim('prometheus', p.kubernetes.storageClassName, prom.volumeGiB!)],
      },
    });
    manifest(this, 'prom-service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'prometheus', labels: labels('prometheus') }, spec: { selector: selector('prometheus'), ports: [{ name: 'web', port: PORTS.prometheus, targetPort: 'web' }] } });

    manifest(this, 'grafana-secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'grafana-admin', labels: labels('grafana') }, type: 'Opaque', stringData: { password: props.secrets.grafanaAdminPassword } });
    manifest(this, 'grafana-datasource', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'grafana-datasources', labels: labels('grafana') },
      data: { 'prometheus.yml': renderYaml({ apiVersion: 1, datasources: [{ name: 'Prometheus', type: 'prometheus', uid: 'prometheus', access: 'proxy', url: `http://prometheus:${PORTS.prometheus}`, isDefault: true }] }) },
    });
    manifest(this, 'grafana-providers', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'grafana-dashboard-providers', labels: labels('grafana') },
      data: { 'apistack.yml': renderYaml({ apiVersion: 1, providers: [{ name: 'apistack', folder: 'apistack', type: 'file', options: { path: '/var/lib/grafana/dashboards' } }] }) },
    });
    const dashboards = Object.fromEntries(dashboardSpecs(p).map((d) => [`${d.uid}.json`, JSON.stringify(grafanaDashboard(d))]));
    manifest(this, 'grafana-dashboards', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'grafana-dashboards', labels: labels('grafana') }, data: dashboards });
    manifest(this, 'grafana', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'grafana', labels: labels('grafana') },
      spec: {
        replicas: 1,
        selector: { matchLabels: selector('grafana') },
        template: {
          metadata: { labels: labels('grafana') },
          spec: {
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(),
            containers: [
              {
                name: 'grafana',
                image: IMAGES.grafana,
                ports: [{ name: 'web', containerPort: PORTS.grafana }],
                env: [
                  { name: 'GF_SECURITY_ADMIN_PASSWORD', ...secretRef('grafana-admin', 'password') },
                  { name: 'GF_PATHS_DATA', value: '/var/lib/grafana/data' },
                  { name: 'GF_ANALYTICS_REPORTING_ENABLED', value: 'false' },
                ],
                resources: resources(grafana.containers[0]!),
                livenessProbe: { httpGet: { path: '/api/health', port: 'web' }, periodSeconds: 15 },
                readinessProbe: { httpGet: { path: '/api/health', port: 'web' }, periodSeconds: 5 },
                securityContext: containerSecurityContext(),
                volumeMounts: [
                  { name: 'data', mountPath: '/var/lib/grafana/data' },
                  { name: 'tmp', mountPath: '/tmp' },
                  { name: 'datasources', mountPath: '/etc/grafana/provisioning/datasources', readOnly: true },
                  { name: 'providers', mountPath: '/etc/grafana/provisioning/dashboards', readOnly: true },
                  { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'data', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
              { name: 'datasources', configMap: { name: 'grafana-datasources' } },
              { name: 'providers', configMap: { name: 'grafana-dashboard-providers' } },
              { name: 'dashboards', configMap: { name: 'grafana-dashboards' } },
            ],
          },
        },
      },
    });
    manifest(this, 'grafana-service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'grafana', labels: labels('grafana') }, spec: { selector: selector('grafana'), ports: [{ name: 'web', port: PORTS.grafana, targetPort: 'web' }] } });
  }

  /** The cluster's Prometheus Operator scrapes and evaluates: emit what it reads. */
  private operatorObjects(p: ResolvedProfile): void {
    new ApiObject(this, 'pod-monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'apistack', labels: labels('apistack') },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/part-of': 'apistack' } },
        podMetricsEndpoints: ['metrics', 'nginx-exporter', 'pg-exporter', 'redis-exporter'].map((port) => ({ port, interval: `${p.monitoring.scrapeIntervalSeconds}s` })),
      },
    });
    new ApiObject(this, 'service-monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'api', labels: labels('api') },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } }, endpoints: [{ targetPort: PORTS.apiMetrics, interval: `${p.monitoring.scrapeIntervalSeconds}s` }] },
    });
    new ApiObject(this, 'rules', { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'apistack', labels: labels('apistack') }, spec: { groups: allRuleGroups(p) } });
  }
}
