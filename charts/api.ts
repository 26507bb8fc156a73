/** The API: Deployment (replicas owned by the HPA), HPA, PDB, ClusterIP and headless Services, config. */
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { appEnvironment } from '../lib/profile/app-env.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, PORTS } from '../lib/profile/workloads.ts';
import { apiImage, configChecksum, container, DATABASE, emptyDir, httpProbe, kubernetesDefaultScaling, meta, podDisruptionBudget, preStopSleep, selectByName, serviceFor, workloadProps } from './common.ts';
import { preferredTopologySpread, seccompRuntimeDefault } from './patches.ts';
import { secretEnv } from './secrets.ts';
import { APP_ROUTES } from '../lib/monitoring/index.ts';

export const API_HEADLESS_SERVICE = 'api-headless';
export const API_CONFIG_MAP = 'api-config';

/**
 * Where the API finds Postgres and Redis, without credentials: the app adds DATABASE_PASSWORD and
 * REDIS_PASSWORD (from Secrets) to these URLs, so the ConfigMap holds no secret.
 */
export function connectionUrls(p: ResolvedProfile): { DATABASE_URL: string; REDIS_URL: string } {
  const svc = (name: string) => `${name}.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}`;
  return {
    DATABASE_URL: `postgres://${DATABASE.user}@${svc('postgres')}:${PORTS.postgres}/${DATABASE.name}`,
    REDIS_URL: `redis://${svc('redis')}:${PORTS.redis}`,
  };
}

export interface ApiChartProps {
  readonly profile: ResolvedProfile;
  /** @default `${profile.api.imageRepository}:${profile.api.imageTag}` */
  readonly image?: string;
}

export class ApiChart extends Chart {
  constructor(scope: Construct, id: string, props: ApiChartProps) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace, labels: { 'app.kubernetes.io/part-of': 'apistack' } });
    const image = apiImage(p, props.image);
    const api = kubernetesWorkloads(p).find((w) => w.name === 'api')!;

    // `::` with IPv6 dual-stack sockets (Node's default) answers IPv4 and IPv6 pod addresses alike,
    // so the same pods serve on IPv4, IPv6-only and dual-stack clusters.
    const config = new kplus.ConfigMap(this, 'config', { metadata: meta(API_CONFIG_MAP, 'api'), data: { ...appEnvironment(p, { host: '::' }), ...connectionUrls(p) } });

    const base = workloadProps('api');
    const deployment = new kplus.Deployment(this, 'deployment', {
      ...base,
      // The environment is read at start: a changed ConfigMap must roll the pods.
      podMetadata: { ...base.podMetadata, annotations: configChecksum(config) },
      // No replicas: the HorizontalPodAutoscaler owns them (cdk8s-plus leaves them out once an HPA targets it).
      strategy: kplus.DeploymentStrategy.rollingUpdate({ maxUnavailable: kplus.PercentOrAbsolute.absolute(0), maxSurge: kplus.PercentOrAbsolute.absolute(1) }),
      terminationGracePeriod: Duration.seconds(p.derived.api.terminationGracePeriodSeconds),
      containers: [
        container(api.containers[0]!, {
          image,
          ports: [
            { name: 'http', number: PORTS.api },
            { name: 'metrics', number: PORTS.apiMetrics },
          ],
          envFrom: [kplus.Env.fromConfigMap(config)],
          envVariables: {
            DATABASE_PASSWORD: secretEnv(this, p, 'postgresPassword'),
            REDIS_PASSWORD: secretEnv(this, p, 'redisPassword'),
            ADMIN_TOKEN: secretEnv(this, p, 'adminToken'),
          },
          startup: httpProbe(APP_ROUTES.liveness, PORTS.api, { periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 2 }),
          liveness: httpProbe(APP_ROUTES.liveness, PORTS.api, { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 }),
          readiness: httpProbe(APP_ROUTES.readiness, PORTS.api, { periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 }),
          // Load balancers stop routing before the app starts draining.
          lifecycle: preStopSleep(p.api.preStopDelaySeconds),
          volumeMounts: [{ path: '/tmp', volume: emptyDir(this, 'tmp') }],
        }),
      ],
    });
    selectByName(deployment, 'api');
    seccompRuntimeDefault(deployment);
    preferredTopologySpread(deployment, 'api', ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);

    new kplus.HorizontalPodAutoscaler(this, 'hpa', {
      metadata: meta('api'),
      target: deployment,
      minReplicas: p.derived.autoscaling.minReplicas,
      maxReplicas: p.derived.autoscaling.maxReplicas,
      metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(p.api.autoscalingCpuTargetPercent)), kplus.Metric.resourceMemory(kplus.MetricTarget.averageUtilization(p.api.autoscalingMemoryTargetPercent))],
      ...kubernetesDefaultScaling(p.api.scaleUpStabilizationSeconds, p.api.scaleDownStabilizationSeconds),
    });
    podDisruptionBudget(this, 'api');
    const http: kplus.ServicePort = { name: 'http', port: PORTS.api, targetPort: PORTS.api };
    serviceFor(this, 'service', { name: 'api', owner: 'api', ports: [http] });
    // nginx resolves this name and balances least_conn over the pod IPs it returns.
    serviceFor(this, 'headless', { name: API_HEADLESS_SERVICE, owner: 'api', ports: [http], headless: true });
  }
}
