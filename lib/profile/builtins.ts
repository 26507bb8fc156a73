/**
 * Built-in profiles. `baseline` is complete; the others extend another profile and state
 * only what they change, each choice with its reason.
 */
import type { ProfileInput } from './schema.ts';

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> | null } : T;

export interface ProfileLayer extends DeepPartial<ProfileInput> {
  /** Name of the profile this one starts from. */
  extends?: string;
}

/**
 * The API image the built-in profiles name: a placeholder nobody publishes. The AWS target builds
 * app/Dockerfile itself; a cluster needs an image you built and pushed (`synth --target k8s`
 * refuses this one unless told it is only for review).
 */
export const PLACEHOLDER_API_IMAGE = Object.freeze({ repository: 'ghcr.io/apistack/api', tag: '0.1.0' });

/** The stack as commonly first deployed, before anyone measured it. */
const baseline: ProfileInput = {
  name: 'baseline',
  description: 'As first deployed: single-worker replicas, oversized Multi-AZ database on gp2, big cache nodes, managed monitoring, on-demand.',
  region: 'us-east-1',
  api: {
    imageRepository: PLACEHOLDER_API_IMAGE.repository,
    imageTag: PLACEHOLDER_API_IMAGE.tag,
    // One worker per task, so concurrency comes only from adding tasks.
    replicasMin: 6,
    replicasMax: 20,
    replicasExpected: 10,
    workersPerReplica: 1,
    // A single Node process cannot use more than one core, yet tasks were sized at 1 vCPU "to be safe".
    vcpuPerReplica: 1,
    memoryMiBPerReplica: 2048,
    cpuArchitecture: 'x86_64',
    // Driver default pool size, never tuned.
    dbPoolSizePerWorker: 10,
    maxRequestsPerWorker: 0,
    maxRequestsJitter: 0,
    // Above the ALB's 60 s idle timeout so the proxy, not the app, closes idle connections.
    keepAliveTimeoutSeconds: 65,
    gracefulTimeoutSeconds: 30,
    preStopDelaySeconds: 5,
    // Conservative targets scale out early: more replicas than the load needs.
    autoscalingCpuTargetPercent: 50,
    autoscalingMemoryTargetPercent: 70,
    scaleUpStabilizationSeconds: 0,
    scaleDownStabilizationSeconds: 300,
    cacheTtlSeconds: 60,
    authCacheTtlSeconds: 300,
    rateLimitPerMinute: 6000,
    maxInFlightPerWorker: 64,
    logLevel: 'info',
  },
  postgres: {
    engineVersion: '16',
    // Sized for peak without a cache in front; mostly idle CPU.
    instanceClass: 'db.m7g.large',
    // On Kubernetes the same oversizing, within what one m6i.large node offers to pods.
    k8sCpuRequestMillicores: 1500,
    k8sCpuLimitMillicores: 2000,
    k8sMemoryRequestMiB: 6144,
    k8sMemoryLimitMiB: 8192,
    storageGiB: 200,
    // gp2: the old console default; IOPS tied to size.
    storageType: 'gp2',
    multiAz: true,
    backupRetentionDays: 7,
    reservedConnections: 10,
    // Multi-AZ on Kubernetes too: a CloudNativePG primary and standby in two zones.
    k8sMode: 'cloudnative-pg',
  },
  redis: {
    engine: 'redis',
    engineVersion: '7.1',
    // Memory-optimized nodes bought for a cache that holds a few hundred MB.
    nodeType: 'cache.r7g.large',
    replicas: 1,
    multiAz: true,
    k8sCpuRequestMillicores: 1000,
    k8sMemoryRequestMiB: 6144,
    k8sMemoryLimitMiB: 6144,
    maxmemoryPercent: 75,
    maxmemoryPolicy: 'allkeys-lru',
    persistence: true,
    storageGiB: 20,
    // Multi-AZ on Kubernetes too: replicas that Sentinel promotes when the primary fails.
    k8sMode: 'sentinel',
  },
  nginx: {
    // 1.27.3 is the first open-source nginx with `resolve` in upstream server lines; the stable
    // 1.30 line is what the tests run (.ci/install-nginx.sh), and nginx/Dockerfile pins the same.
    imageTag: '1.30.6-alpine',
    replicasMin: 2,
    replicasMax: 2,
    cpuMillicores: 500,
    memoryMiB: 256,
    workerConnections: 4096,
    rateLimitPerClientPerSecond: 200,
    rateLimitBurst: 400,
    connLimitPerClient: 200,
    // Passive health checks count only connect errors, resets and timeouts (never an answer from
    // the app, and a recycling or draining worker causes none). max_fails is derived: more than the
    // requests one nginx can have in flight on a replica, so a killed worker's in-flight requests
    // never take it out, only new connects refused or timed out do (the replica is really gone).
    // Out for 10 s, then one request probes it (retried elsewhere if it fails).
    failTimeoutSeconds: 10,
    proxyConnectTimeoutSeconds: 2,
    proxyReadTimeoutSeconds: 30,
    proxySendTimeoutSeconds: 30,
    proxyNextUpstreamTries: 2,
    proxyNextUpstreamTimeoutSeconds: 5,
    clientMaxBodySizeMiB: 10,
    gzipMinLengthBytes: 1024,
    accessLog: true,
  },
  monitoring: {
    // Amazon Managed Prometheus and Grafana with their defaults.
    logRetentionDays: 30,
    mode: 'managed',
    prometheusOperator: false,
    scrapeIntervalSeconds: 15,
    retentionDays: 150,
    storageGiB: 50,
    prometheusCpuMillicores: 500,
    prometheusMemoryMiB: 2048,
    grafanaCpuMillicores: 250,
    grafanaMemoryMiB: 512,
    grafanaEditors: 2,
    grafanaViewers: 10,
    slo: { availabilityPercent: 99.9, latencyPercent: 99, latencyThresholdSeconds: 0.5 },
    alerts: {
      p95LatencySeconds: 1,
      errorRatePercent: 1,
      cacheHitRatioPercent: 70,
      workerMemoryMiB: 500,
      cpuPercent: 90,
      dbConnectionsPercent: 90,
      workerRestartsPer15m: 5,
    },
  },
  kubernetes: {
    namespace: 'apistack',
    clusterDomain: 'cluster.local',
    // General-purpose x86 nodes, the usual first pick.
    nodeInstanceType: 'm6i.large',
    spareNodes: 1,
    // The EBS CSI driver provisions the volumes: EKS ships only gp2, unmarked as default since 1.30.
    storageClassProvisioner: 'ebs.csi.aws.com',
    storageVolumeType: 'gp3',
    awsNlbAnnotations: true,
  },
  // The AWS-native balancer: nginx behind the NLB finds the tasks through Cloud Map DNS, which
  // gives it at most 8 of these 20 (lib/profile/derive.ts); the ALB's target group holds them all.
  network: { availabilityZones: 2, natGateways: 2, loadBalancer: 'alb' },
  purchase: { option: 'on-demand' },
  usage: {},
};

/** The same load after tuning. */
const optimized: ProfileLayer = {
  extends: 'baseline',
  name: 'optimized',
  description: 'Same load after tuning: multi-worker Graviton replicas, right-sized database behind a cache, gp3, Valkey, lean self-hosted monitoring, a savings plan.',
  api: {
    // Two workers use both vCPUs of a task, so half the tasks carry the same load.
    replicasMin: 2,
    replicasMax: 6,
    replicasExpected: 3,
    workersPerReplica: 2,
    vcpuPerReplica: 2,
    memoryMiBPerReplica: 4096,
    // Graviton: about 20% cheaper per vCPU-hour on Fargate for the same Node throughput.
    cpuArchitecture: 'arm64',
    // With the cache absorbing reads, 5 connections per worker keep the pool busy but not queued.
    dbPoolSizePerWorker: 5,
    // Recycle workers now and then to bound slow memory growth, jittered so they don't restart together.
    maxRequestsPerWorker: 100000,
    maxRequestsJitter: 10000,
    autoscalingCpuTargetPercent: 70,
    autoscalingMemoryTargetPercent: 80,
    cacheTtlSeconds: 300,
    // Recycled workers and new replicas start with the hot set instead of a burst of misses.
    cacheWarmupKeys: 1000,
  },
  postgres: {
    // The two-layer cache takes most reads off the database.
    instanceClass: 'db.t4g.medium',
    k8sCpuRequestMillicores: 1000,
    k8sCpuLimitMillicores: 2000,
    k8sMemoryRequestMiB: 4096,
    k8sMemoryLimitMiB: 4096,
    storageGiB: 50,
    // gp3: 3000 IOPS baseline regardless of size, cheaper per GiB on EBS.
    storageType: 'gp3',
    multiAz: false,
    k8sMode: 'statefulset',
  },
  redis: {
    // Valkey nodes are priced below Redis OSS on ElastiCache and speak the same protocol.
    engine: 'valkey',
    engineVersion: '8.0',
    nodeType: 'cache.t4g.medium',
    replicas: 0,
    multiAz: false,
    k8sCpuRequestMillicores: 250,
    k8sMemoryRequestMiB: 1024,
    k8sMemoryLimitMiB: 1024,
    persistence: false,
    k8sMode: 'single',
  },
  nginx: { cpuMillicores: 250, memoryMiB: 128 },
  monitoring: {
    // One small Prometheus + Grafana beside the stack; 30 s scrapes halve the samples.
    mode: 'self-hosted',
    scrapeIntervalSeconds: 30,
    retentionDays: 15,
    storageGiB: 20,
    prometheusCpuMillicores: 250,
    prometheusMemoryMiB: 1024,
    grafanaCpuMillicores: 100,
    grafanaMemoryMiB: 256,
    grafanaEditors: 0,
    grafanaViewers: 0,
  },
  // Graviton nodes: one 2-vCPU API pod each, with the small pods filling the rest.
  kubernetes: { nodeInstanceType: 'm7g.xlarge' },
  // nginx's least_conn behind the NLB: the 6 tasks fit Cloud Map's 8-address answers.
  network: { natGateways: 1, loadBalancer: 'nlb' },
  // A one-year compute savings plan with no upfront payment: no cash outlay, steady discount.
  purchase: { option: 'savings-plan', termYears: 1, payment: 'no-upfront' },
};

/** The smallest environment that still has every part, for throwaway load tests. */
const loadtest: ProfileLayer = {
  extends: 'optimized',
  name: 'loadtest',
  description: 'Smallest environment with every part, for throwaway load tests.',
  api: {
    // Two replicas, so least_conn and a rolling restart have something to do. One worker per
    // replica (one per vCPU): on a 2-core machine two single-worker replicas behind nginx served
    // more than two two-worker ones, which spend the difference switching between processes.
    replicasMin: 2,
    replicasMax: 3,
    replicasExpected: null,
    workersPerReplica: null,
    vcpuPerReplica: 1,
    memoryMiBPerReplica: 2048,
    dbPoolSizePerWorker: 4,
    // Recycling several times a minute at full speed (bench:load: ~10,000 requests/s per worker
    // through nginx on a 2-core machine, so every 15 to 17 s), so a minute's load test exercises
    // it without spending its CPU on forking workers.
    maxRequestsPerWorker: 150000,
    maxRequestsJitter: 15000,
  },
  postgres: {
    instanceClass: 'db.t4g.small',
    k8sCpuRequestMillicores: 250,
    k8sCpuLimitMillicores: 1000,
    k8sMemoryRequestMiB: 1024,
    k8sMemoryLimitMiB: 1024,
    storageGiB: 20,
    backupRetentionDays: 1,
    // Torn down after the run: protection would only make `cdk destroy` fail.
    deletionProtection: false,
  },
  redis: { nodeType: 'cache.t4g.micro', k8sCpuRequestMillicores: 100, k8sMemoryRequestMiB: 256, k8sMemoryLimitMiB: 256 },
  nginx: {
    replicasMin: 1,
    replicasMax: 1,
    // The load generator runs on loopback or inside the VPC/cluster: the per-client limits that
    // protect production would turn its load into 429s.
    rateLimitExemptCidrs: ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
    // Millions of 2xx lines a minute tell a load test nothing; every failure is still logged.
    accessLog: 'errors',
  },
  monitoring: { retentionDays: 2, storageGiB: 10, logRetentionDays: 7 },
  kubernetes: { nodeInstanceType: 't4g.medium', spareNodes: 0 },
  network: { natGateways: 1 },
  // Torn down within hours: a commitment would be wasted.
  purchase: { option: 'on-demand', termYears: null, payment: null },
};

/** optimized with every high-availability switch on. */
const productionHa: ProfileLayer = {
  extends: 'optimized',
  name: 'production-ha',
  description: 'optimized with every HA switch on: Multi-AZ everywhere, at least 3 replicas, one NAT per AZ.',
  api: {
    // Three replicas keep two serving while one is replaced or its AZ is down.
    replicasMin: 3,
    // At most the 8 addresses Cloud Map DNS gives nginx (lib/profile/derive.ts).
    replicasMax: 8,
    replicasExpected: 4,
    // Business hours start with capacity already there instead of waiting for CPU to climb.
    scheduledScaling: [
      { name: 'weekday-morning', schedule: 'cron(0 7 ? * MON-FRI *)', timeZone: 'America/New_York', replicasMin: 4, replicasMax: 8 },
      { name: 'weekday-evening', schedule: 'cron(0 20 ? * MON-FRI *)', timeZone: 'America/New_York', replicasMin: 3, replicasMax: 8 },
    ],
  },
  postgres: { multiAz: true, backupRetentionDays: 14, k8sMode: 'cloudnative-pg' },
  redis: { replicas: 2, multiAz: true, persistence: true, k8sMode: 'sentinel' },
  nginx: { replicasMin: 3, replicasMax: 6 },
  network: { availabilityZones: 3, natGateways: 3 },
  kubernetes: { spareNodes: 1 },
};

export const BUILTIN_PROFILES: Readonly<Record<string, ProfileLayer>> = Object.freeze({
  baseline: baseline as ProfileLayer,
  optimized,
  loadtest,
  'production-ha': productionHa,
});

export const DEFAULT_PROFILE = 'optimized';

export function builtinProfileNames(): string[] {
  return Object.keys(BUILTIN_PROFILES);
}
