/** The API: Deployment (replicas owned by the HPA), HPA, PDB, ClusterIP and headless Services, config. */
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { appEnvironment } from '../lib/profile/app-env.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, PORTS } from '../lib/profile/workloads.ts';
import { containerSecurityContext, labels, podSecurityContext, resources, secretRef, selector, type SecretValues, manifest, podDisruptionBudget } from './common.ts';

export const API_HEADLESS_SERVICE = 'api-headless';

export interface ApiChartProps {
  readonly profile: ResolvedProfile;
  readonly secrets: SecretValues;
  /** @default `${profile.api.imageRepository}:${profile.api.imageTag}` */
  readonly image?: string;
}

export class ApiChart extends Chart {
  constructor(scope: Construct, id: string, props: ApiChartProps) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace, labels: { 'app.kubernetes.io/part-of': 'apistack' } });
    const ns = p.kubernetes.namespace;
    const domain = p.kubernetes.clusterDomain;
    const image = props.image ?? `${p.api.imageRepository}:${p.api.imageTag}`;
    const api = kubernetesWorkloads(p).find((w) => w.name === 'api')!;

    manifest(this, 'config', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'api-config', labels: labels('api') }, data: appEnvironment(p) });
    manifest(this, 'secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'api-secrets', labels: labels('api') },
      type: 'Opaque',
      stringData: {
        'database-url': `postgres://apistack:${props.secrets.postgresPassword}@postgres.${ns}.svc.${domain}:${PORTS.postgres}/apistack`,
        'redis-url': `redis://:${props.secrets.redisPassword}@redis.${ns}.svc.${domain}:${PORTS.redis}`,
        'admin-token': props.secrets.adminToken,
      },
    });

    const probe = (path: string, extra: Record<string, number>) => ({ httpGet: { path, port: 'http' }, timeoutSeconds: 2, ...extra });
    manifest(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api', labels: labels('api') },
      spec: {
        // No replicas: the HorizontalPodAutoscaler owns them.
        selector: { matchLabels: selector('api') },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: labels('api') },
          spec: {
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(),
            terminationGracePeriodSeconds: p.derived.api.terminationGracePeriodSeconds,
            // Preferred, not required, so a small cluster still schedules every replica.
            topologySpreadConstraints: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
              maxSkew: 1,
              topologyKey,
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector('api') },
            })),
            containers: [
              {
                name: 'api',
                image,
                ports: [
                  { name: 'http', containerPort: PORTS.api },
                  { name: 'metrics', containerPort: PORTS.apiMetrics },
                ],
                envFrom: [{ configMapRef: { name: 'api-config' } }],
                env: [
                  { name: 'DATABASE_URL', ...secretRef('api-secrets', 'database-url') },
                  { name: 'REDIS_URL', ...secretRef('api-secrets', 'redis-url') },
                  { name: 'ADMIN_TOKEN', ...secretRef('api-secrets', 'admin-token') },
                ],
                resources: resources(api.containers[0]!),
                startupProbe: probe('/healthz', { periodSeconds: 2, failureThreshold: 30 }),
                livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3 }),
                readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 2 }),
                // Load balancers stop routing before the app starts draining.
                lifecycle: { preStop: { exec: { command: ['sleep', String(p.api.preStopDelaySeconds)] } } },
                securityContext: containerSecurityContext(),
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    });

    manifest(this, 'hpa', {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'api', labels: labels('api') },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
        minReplicas: p.derived.autoscaling.minReplicas,
        maxReplicas: p.derived.autoscaling.maxReplicas,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: p.api.autoscalingCpuTargetPercent } } },
          { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: p.api.autoscalingMemoryTargetPercent } } },
        ],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: p.api.scaleUpStabilizationSeconds },
          scaleDown: { stabilizationWindowSeconds: p.api.scaleDownStabilizationSeconds },
        },
      },
    });
    podDisruptionBudget(this, 'api');
    manifest(this, 'service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api', labels: labels('api') },
      spec: { type: 'ClusterIP', selector: selector('api'), ports: [{ name: 'http', port: PORTS.api, targetPort: 'http' }] },
    });
    // nginx resolves this name and balances least_conn over the pod IPs it returns.
    manifest(this, 'headless', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: API_HEADLESS_SERVICE, labels: labels('api') },
      spec: { clusterIP: 'None', selector: selector('api'), ports: [{ name: 'http', port: PORTS.api, targetPort: 'http' }] },
    });
  }
}
