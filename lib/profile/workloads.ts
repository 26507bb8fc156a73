/**
 * What runs on Kubernetes for a profile, with the exact requests and limits the charts set.
 * The charts and the cost model both read this, so what is priced is what is deployed.
 */
import type { ResolvedProfile } from './load.ts';

/** Ports every target agrees on. */
export const PORTS = Object.freeze({
  api: 8000,
  apiMetrics: 9464,
  /** Unprivileged, so nginx runs as non-root. */
  nginx: 8080,
  /** stub_status, internal only, for the exporter. */
  nginxStatus: 8081,
  /** Plain HTTP for callers inside the cluster when the public port takes PROXY protocol only. */
  nginxInternal: 8082,
  nginxExporter: 9113,
  postgres: 5432,
  postgresExporter: 9187,
  redis: 6379,
  redisExporter: 9121,
  redisSentinel: 26379,
  prometheus: 9090,
  grafana: 3000,
});

/**
 * AWS interface endpoints (construct name → service), when the profile asks for them: image pulls,
 * logs and secret reads then skip the NAT gateways. The stack creates these and the cost model
 * prices as many.
 */
export const AWS_INTERFACE_ENDPOINTS = Object.freeze({ EcrApi: 'ecr.api', EcrDocker: 'ecr.dkr', Logs: 'logs', SecretsManager: 'secretsmanager' });

/** The Postgres role and database the API, the migrations and the exporter use on every target; the password alone is secret. */
export const DATABASE = Object.freeze({ user: 'apistack', name: 'apistack' });

/**
 * How long a service's DNS answer is trusted: Cloud Map records live this long, and nginx
 * re-resolves the API's name this often (resolver valid=), so a replaced task drops out within it.
 */
export const SERVICE_DNS_TTL_SECONDS = 5;

/** Third-party images every target runs, pinned, so Kubernetes and AWS run the same versions. */
export const CONTAINER_IMAGES = Object.freeze({
  postgresExporter: 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0',
  redisExporter: 'oliver006/redis_exporter:v1.62.0',
  nginxExporter: 'nginx/nginx-prometheus-exporter:1.3.0',
  prometheus: 'prom/prometheus:v2.54.1',
  grafana: 'grafana/grafana:11.2.0',
  /** AWS Distro for OpenTelemetry collector: scrapes the API's metrics port into Amazon Managed Prometheus. */
  otelCollector: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3',
  /** With Redis Sentinel on Kubernetes: the proxy that sends clients to the current primary. */
  haproxy: 'haproxy:3.0.5-alpine',
  /** The load-test runners and their setup (`k6 run -o experimental-prometheus-rw`). */
  k6: 'grafana/k6:1.7.1',
});

/** Exporter sidecars: small, fixed sizes (their load does not grow with traffic). */
export const EXPORTER_RESOURCES = Object.freeze({
  nginxExporter: { cpuRequestMillicores: 20, memoryRequestMiB: 32, cpuLimitMillicores: 100, memoryLimitMiB: 64 },
  postgresExporter: { cpuRequestMillicores: 50, memoryRequestMiB: 64, cpuLimitMillicores: 200, memoryLimitMiB: 128 },
  redisExporter: { cpuRequestMillicores: 25, memoryRequestMiB: 32, cpuLimitMillicores: 100, memoryLimitMiB: 64 },
});

/**
 * Redis Sentinel on Kubernetes: a Sentinel beside each Redis, and a proxy (two pods, in two zones)
 * that health-checks every Redis for `role:master` and forwards clients only to it. Fixed sizes:
 * neither does work that grows with traffic beyond forwarding bytes.
 */
export const REDIS_HA_RESOURCES = Object.freeze({
  sentinel: { name: 'sentinel', cpuRequestMillicores: 25, memoryRequestMiB: 32, cpuLimitMillicores: 100, memoryLimitMiB: 64 },
  proxy: { name: 'haproxy', cpuRequestMillicores: 100, memoryRequestMiB: 64, cpuLimitMillicores: 500, memoryLimitMiB: 128 },
  proxyReplicas: 2,
});

/**
 * The migrations Job: one short-lived Node process running DDL, with the sizes kept next to the
 * other fixed ones. Not priced: it runs for seconds per deploy, in spare node capacity.
 */
export const MIGRATIONS_JOB_RESOURCES = Object.freeze({ name: 'migrate', cpuRequestMillicores: 100, memoryRequestMiB: 128, cpuLimitMillicores: 500, memoryLimitMiB: 256 });

/**
 * Load-test pods and tasks, fixed sizes kept with the others. A runner's k6 needs about a core
 * per few thousand requests/s and a few MiB per VU; raise parallelism, not these, to push harder.
 * Not priced: they run only during a test.
 */
export const LOADTEST_RESOURCES = Object.freeze({
  runner: { name: 'k6', cpuRequestMillicores: 1000, memoryRequestMiB: 512, cpuLimitMillicores: 2000, memoryLimitMiB: 1024 },
  setup: { name: 'k6', cpuRequestMillicores: 250, memoryRequestMiB: 256, cpuLimitMillicores: 1000, memoryLimitMiB: 512 },
  /** Waits in a loop for the fixtures file. */
  wait: { name: 'wait-for-setup', cpuRequestMillicores: 10, memoryRequestMiB: 16, cpuLimitMillicores: 50, memoryLimitMiB: 32 },
});

export interface ContainerResources {
  readonly name: string;
  readonly cpuRequestMillicores: number;
  readonly memoryRequestMiB: number;
  readonly cpuLimitMillicores: number;
  readonly memoryLimitMiB: number;
}

/** Cost groups a workload belongs to (the rows users read in a savings table). */
export type WorkloadGroup = 'Application Servers' | 'Load Balancer' | 'Database' | 'Cache' | 'Monitoring';

export interface Workload {
  readonly name: string;
  readonly group: WorkloadGroup;
  /** Cluster: a CloudNativePG Cluster, whose operator runs the pods. */
  readonly kind: 'Deployment' | 'StatefulSet' | 'Cluster';
  readonly replicasMin: number;
  readonly replicasMax: number;
  readonly containers: readonly ContainerResources[];
  /** Persistent volume per replica, if any. */
  readonly volumeGiB?: number;
}

export function podRequests(w: Workload): { cpuMillicores: number; memoryMiB: number } {
  return {
    cpuMillicores: w.containers.reduce((s, c) => s + c.cpuRequestMillicores, 0),
    memoryMiB: w.containers.reduce((s, c) => s + c.memoryRequestMiB, 0),
  };
}

/** The CloudNativePG Cluster's name: not `postgres`, so a name keeps one kind whichever way Postgres runs. */
export const POSTGRES_HA_CLUSTER = 'postgres-ha';
/** The Deployment in front of Redis Sentinel that the `redis` Service then selects. */
export const REDIS_PROXY = 'redis-proxy';

/** Every long-running workload of the Kubernetes target, sized from the profile. */
export function kubernetesWorkloads(p: ResolvedProfile): Workload[] {
  const apiMillicores = Math.round(p.api.vcpuPerReplica * 1000);
  const workloads: Workload[] = [
    {
      name: 'api',
      group: 'Application Servers',
      kind: 'Deployment',
      replicasMin: p.api.replicasMin,
      replicasMax: p.api.replicasMax,
      // Guaranteed QoS: requests equal limits, so the HPA's utilization math and the bill agree.
      containers: [{ name: 'api', cpuRequestMillicores: apiMillicores, memoryRequestMiB: p.api.memoryMiBPerReplica, cpuLimitMillicores: apiMillicores, memoryLimitMiB: p.api.memoryMiBPerReplica }],
    },
    {
      name: 'nginx',
      group: 'Load Balancer',
      kind: 'Deployment',
      replicasMin: p.nginx.replicasMin,
      replicasMax: p.nginx.replicasMax,
      containers: [
        { name: 'nginx', cpuRequestMillicores: p.nginx.cpuMillicores, memoryRequestMiB: p.nginx.memoryMiB, cpuLimitMillicores: p.nginx.cpuMillicores, memoryLimitMiB: p.nginx.memoryMiB },
        { name: 'nginx-exporter', ...EXPORTER_RESOURCES.nginxExporter },
      ],
    },
  ];
  const k = p.derived.kubernetes;
  const postgresContainer: ContainerResources = {
    name: 'postgres',
    cpuRequestMillicores: p.postgres.k8sCpuRequestMillicores,
    memoryRequestMiB: p.postgres.k8sMemoryRequestMiB,
    cpuLimitMillicores: p.postgres.k8sCpuLimitMillicores,
    memoryLimitMiB: p.postgres.k8sMemoryLimitMiB,
  };
  if (k.postgresMode === 'statefulset') {
    workloads.push({ name: 'postgres', group: 'Database', kind: 'StatefulSet', replicasMin: 1, replicasMax: 1, containers: [postgresContainer, { name: 'postgres-exporter', ...EXPORTER_RESOURCES.postgresExporter }], volumeGiB: p.postgres.storageGiB });
  } else if (k.postgresMode === 'cloudnative-pg') {
    // CloudNativePG's instance manager runs inside the postgres container and exports the metrics itself.
    workloads.push({ name: POSTGRES_HA_CLUSTER, group: 'Database', kind: 'Cluster', replicasMin: k.postgresInstances, replicasMax: k.postgresInstances, containers: [postgresContainer], volumeGiB: p.postgres.storageGiB });
  }
  if (k.redisMode !== 'external') {
    const sentinel = k.redisMode === 'sentinel';
    workloads.push({
      name: 'redis',
      group: 'Cache',
      kind: 'StatefulSet',
      replicasMin: k.redisPods,
      replicasMax: k.redisPods,
      containers: [
        {
          name: 'redis',
          cpuRequestMillicores: p.redis.k8sCpuRequestMillicores,
          memoryRequestMiB: p.redis.k8sMemoryRequestMiB,
          // Redis is single-threaded for commands; a limit above one core buys nothing.
          cpuLimitMillicores: Math.max(p.redis.k8sCpuRequestMillicores, 1000),
          memoryLimitMiB: p.redis.k8sMemoryLimitMiB,
        },
        ...(sentinel ? [REDIS_HA_RESOURCES.sentinel] : []),
        { name: 'redis-exporter', ...EXPORTER_RESOURCES.redisExporter },
      ],
      ...(p.redis.persistence ? { volumeGiB: p.redis.storageGiB } : {}),
    });
    if (sentinel) {
      workloads.push({ name: REDIS_PROXY, group: 'Cache', kind: 'Deployment', replicasMin: REDIS_HA_RESOURCES.proxyReplicas, replicasMax: REDIS_HA_RESOURCES.proxyReplicas, containers: [REDIS_HA_RESOURCES.proxy] });
    }
  }
  // With the Prometheus Operator the cluster's own Prometheus scrapes us; we run none.
  if (!p.monitoring.prometheusOperator) {
    const m = p.monitoring;
    workloads.push(
      {
        name: 'prometheus',
        group: 'Monitoring',
        kind: 'StatefulSet',
        replicasMin: 1,
        replicasMax: 1,
        containers: [{ name: 'prometheus', cpuRequestMillicores: m.prometheusCpuMillicores, memoryRequestMiB: m.prometheusMemoryMiB, cpuLimitMillicores: m.prometheusCpuMillicores * 2, memoryLimitMiB: m.prometheusMemoryMiB }],
        volumeGiB: m.storageGiB,
      },
      {
        name: 'grafana',
        group: 'Monitoring',
        kind: 'Deployment',
        replicasMin: 1,
        replicasMax: 1,
        containers: [{ name: 'grafana', cpuRequestMillicores: m.grafanaCpuMillicores, memoryRequestMiB: m.grafanaMemoryMiB, cpuLimitMillicores: m.grafanaCpuMillicores * 2, memoryLimitMiB: m.grafanaMemoryMiB }],
      },
    );
  }
  return workloads;
}
