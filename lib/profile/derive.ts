/**
 * Values derived from a profile, computed in one place so every target agrees. The invariants
 * they must satisfy are in invariants.ts.
 */
import { AVAILABILITY_ZONE_LETTERS, elasticacheParameterFamily, RDS_FAMILIES, rdsInstanceMemoryGiB } from './instances.ts';
import { FARGATE_VCPU, type Profile } from './schema.ts';
import { SERVICE_DNS_TTL_SECONDS } from './workloads.ts';

/** Usage figures the cost depends on, used when a profile does not give them. */
export const USAGE_DEFAULTS = Object.freeze({
  /** About 100 requests per second on average. */
  requestsPerMonth: 260_000_000,
  /** About 2 KB per response on average at 260M requests, plus some headroom. */
  dataTransferOutGBPerMonth: 500,
  /** JSON access and app logs, sampled at info level. */
  logIngestGBPerMonth: 50,
  /** ~3,000 active series scraped every 15 s: 3000 × 4 × 60 × 730. */
  metricSamplesPerMonth: 525_600_000,
  /** Image pulls, package updates and AWS API calls from private subnets. */
  natProcessedGBPerMonth: 100,
});

export type UsageField = keyof typeof USAGE_DEFAULTS;

/**
 * Memory of every RDS instance class apistack knows, in GiB (lib/profile/instances.ts).
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
 */
export const RDS_INSTANCE_MEMORY_GIB: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(Object.entries(RDS_FAMILIES).flatMap(([family, f]) => f.sizes.map((size) => [`${family}.${size}`, rdsInstanceMemoryGiB(`${family}.${size}`)!]))),
);

const BYTES_PER_GIB = 1024 ** 3;
export const BYTES_PER_MIB = 1024 ** 2;
/** Memory RDS's default max_connections formula counts per connection. */
export const POSTGRES_BYTES_PER_CONNECTION = 9531392;

/**
 * RDS for PostgreSQL's default max_connections: LEAST({DBInstanceClassMemory/9531392}, 5000).
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections
 */
export function postgresMaxConnectionsForMemoryBytes(memoryBytes: number): number {
  return Math.min(Math.floor(memoryBytes / POSTGRES_BYTES_PER_CONNECTION), 5000);
}

/** The ALB idle timeout default; the app's keep-alive must outlive it. */
export const ALB_IDLE_TIMEOUT_SECONDS = 60;
/** The slack each link of the timeout chain keeps over the one it must outlast. */
export const TIMEOUT_MARGIN_SECONDS = 5;
/**
 * nginx's upstream keepalive_timeout when the profile sets none. Short, because a draining API
 * worker waits for nginx to close its idle connections (closing them itself would race a request
 * nginx may be sending); long enough that any steady traffic keeps its connections.
 */
export const UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS = 10;
/** Postgres keeps this many connections for superusers (superuser_reserved_connections' default). */
export const POSTGRES_SUPERUSER_RESERVED_CONNECTIONS = 3;
/**
 * Default ALB scaling target: 500 requests/s per worker, about 70% of what one Node worker served
 * on cached reads with a database round trip now and then (docs/holding-load.md: sustained load).
 */
export const REQUESTS_PER_WORKER_PER_MINUTE = 30_000;
/** What a query's client-side deadline keeps over the statement timeout: the server's cancel and its answer travelling back. */
export const DB_QUERY_DEADLINE_MARGIN_MS = 1000;
/**
 * From a task leaving Cloud Map until no nginx sends it a request: the record's TTL (cached by the
 * VPC resolver) plus nginx's re-resolve interval (valid=), plus a margin.
 */
export const DNS_DEREGISTRATION_SECONDS = 2 * SERVICE_DNS_TTL_SECONDS + TIMEOUT_MARGIN_SECONDS;
/**
 * Cloud Map's DNS answers (Route 53 multivalue answer routing) hold at most 8 healthy records, of
 * any type (A and SRV alike), so nginx resolving the API's name sees at most 8 tasks.
 * @see https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-multivalue.html
 */
export const CLOUD_MAP_MAX_ANSWERS = 8;
/** ECS caps a container's stopTimeout at 120 s on Fargate. */
export const ECS_MAX_STOP_TIMEOUT_SECONDS = 120;

export interface ConnectionBudget {
  /** Connections one API replica may open: workers × pool per worker. */
  readonly perReplica: number;
  /** All API replicas at their maximum: replicasMax × workers × pool. */
  readonly apiAtMaxReplicas: number;
  readonly reserved: number;
  /** apiAtMaxReplicas + reserved. */
  readonly required: number;
  readonly maxConnections: number;
  /** maxConnections − required; negative means the budget is broken. */
  readonly headroom: number;
}

export interface Derived {
  readonly api: {
    readonly workersPerReplica: number;
    /** All workers at maximum replicas. */
    readonly workersAtMaxReplicas: number;
    /** Node's headersTimeout; above keep-alive so a slow request line never races the idle close. */
    readonly headersTimeoutSeconds: number;
    readonly containerStopTimeoutSeconds: number;
    readonly terminationGracePeriodSeconds: number;
    readonly memoryMiBPerWorker: number;
    readonly dbAcquireTimeoutMs: number;
    readonly statementTimeoutMs: number;
    /**
     * The client-side deadline on each query once it has a connection: the statement timeout
     * plus a margin, so Postgres cancels a slow statement first and the deadline fires only on a
     * server that does not answer at all (stopped, or packets dropped).
     */
    readonly dbQueryDeadlineMs: number;
    /**
     * The longest the app takes to answer a request that waits for the database: the pool wait
     * plus the query deadline. Below nginx's read timeout, so a slow request is answered by
     * the app (which nginx never counts as a failure) rather than timed out by nginx (which it does).
     */
    readonly slowestAnswerSeconds: number;
    /**
     * How long a draining worker waits for clients to close their idle kept-alive connections
     * before it closes what is left itself: nginx's upstream keepalive_timeout plus a margin,
     * so nginx has always closed its own first (docs/holding-load.md: draining without resets).
     */
    readonly drainIdleTimeoutSeconds: number;
    /**
     * AWS: how long a stopping API task keeps serving after SIGTERM before it drains (the app's
     * SHUTDOWN_DELAY). ECS takes the task out of Cloud Map and then signals it at once; nginx
     * may still hold its address for the record's TTL (the VPC resolver's cache) plus its own
     * re-resolve interval (resolver valid=), both SERVICE_DNS_TTL_SECONDS, so the task waits
     * that out plus a margin, or api.preStopDelaySeconds if longer (docs/aws-balancer.md).
     */
    readonly shutdownDelaySeconds: number;
    /** ALB request-count target per task per minute (only used behind an ALB). */
    readonly autoscalingRequestsPerTargetPerMinute: number;
  };
  readonly postgres: {
    readonly instanceMemoryGiB: number;
    /** max_connections on RDS for the profile's instance class. */
    readonly maxConnectionsAws: number;
    /** max_connections set on the Kubernetes StatefulSet, from its memory limit. */
    readonly maxConnectionsKubernetes: number;
    readonly budgetAws: ConnectionBudget;
    readonly budgetKubernetes: ConnectionBudget;
    readonly deletionProtection: boolean;
  };
  readonly monitoring: {
    readonly logRetentionDays: number;
  };
  readonly kubernetes: {
    /** The StorageClass every PVC names; undefined: none, the cluster's default class. */
    readonly storageClassName: string | undefined;
    /** The EBS volume type the PVCs get and are priced at. */
    readonly storageVolumeType: 'gp3' | 'gp2';
    /** Emit the StorageClass (with kubernetes.storageClassProvisioner). */
    readonly emitStorageClass: boolean;
    /** Retain a database's volume when its claim is deleted, unless the profile drops deletion protection. */
    readonly storageReclaimPolicy: 'Retain' | 'Delete';
    readonly postgresMode: 'statefulset' | 'cloudnative-pg' | 'external';
    /** Postgres pods: a CloudNativePG primary plus, with multiAz, one standby (as RDS Multi-AZ). */
    readonly postgresInstances: number;
    /** The memory-backed /dev/shm of a Postgres pod (parallel query workers), a quarter of its memory limit, which it counts against. */
    readonly postgresShmMiB: number;
    readonly redisMode: 'single' | 'sentinel' | 'external';
    /**
     * Redis/Valkey pods: one, or with Sentinel the primary and redis.replicas replicas, at least
     * three, so that the Sentinels left after losing one pod are still a majority.
     */
    readonly redisPods: number;
  };
  readonly redis: {
    readonly maxmemoryMiB: number;
    /** The ElastiCache parameter group family for the engine and version (undefined: not one apistack deploys). */
    readonly parameterFamily: string | undefined;
  };
  readonly network: {
    /** The zones the AWS target uses (undefined: the region's zone letters are not known; set network.availabilityZoneNames). */
    readonly availabilityZoneNames: readonly string[] | undefined;
  };
  readonly nginx: {
    /** One worker process per requested core, at least one (`auto` would count the host's cores). */
    readonly workerProcesses: number;
    /** Client networks that bypass limit_req and limit_conn. */
    readonly rateLimitExemptCidrs: readonly string[];
    /** Connections one nginx replica may hold to one API replica: its share of the replica's workers × in-flight. */
    readonly maxConnsPerUpstreamServer: number;
    /**
     * max_fails: nginx.maxFails, else one more than max_conns. Every request in flight on a killed
     * worker fails at once and counts; only failures beyond what one nginx can have in flight on
     * a replica (new connects refused or timed out) mean the replica itself is down.
     */
    readonly maxFails: number;
    /**
     * client_header_timeout and client_body_timeout: a client gets as long to send its headers
     * (or the next piece of its body) as the app takes at most to answer, so a slow client never
     * holds a connection longer than a slow request does (nginx's 60 s default would).
     */
    readonly clientTimeoutSeconds: number;
    /**
     * Idle keepalive connections each nginx worker process keeps to the upstream group: as many as
     * it can have open at once (every server's max_conns), so a connection finished under load
     * goes back to the pool instead of being closed and opened again for the next request.
     */
    readonly upstreamKeepaliveConnections: number;
    readonly upstreamKeepaliveTimeoutSeconds: number;
    readonly hpa: boolean;
    readonly autoscalingCpuTargetPercent: number;
    readonly preStopDelaySeconds: number;
    /** worker_shutdown_timeout: a graceful quit gives in-flight requests the longest a proxied request can take. */
    readonly shutdownTimeoutSeconds: number;
    /** ECS stopTimeout for nginx: the graceful quit plus a margin, within Fargate's cap. */
    readonly containerStopTimeoutSeconds: number;
    /** Covers the preStop delay and the graceful quit, so Kubernetes never kills nginx mid-request. */
    readonly terminationGracePeriodSeconds: number;
  };
  readonly autoscaling: {
    readonly minReplicas: number;
    readonly maxReplicas: number;
  };
  /** Usage with defaults filled in. */
  readonly usage: Readonly<Record<UsageField, number>>;
  /** Usage fields taken from USAGE_DEFAULTS rather than the profile: costs built on them are assumptions. */
  readonly usageAssumed: readonly UsageField[];
}

function budget(p: Profile, workersPerReplica: number, maxConnections: number): ConnectionBudget {
  const perReplica = workersPerReplica * p.api.dbPoolSizePerWorker;
  const apiAtMaxReplicas = p.api.replicasMax * perReplica;
  const required = apiAtMaxReplicas + p.postgres.reservedConnections;
  return { perReplica, apiAtMaxReplicas, reserved: p.postgres.reservedConnections, required, maxConnections, headroom: maxConnections - required };
}

/** Derive values; assumes the profile already passed the schema. Unknown instance classes give NaN memory and are reported by checkInvariants. */
export function derive(p: Profile): Derived {
  const workersPerReplica = p.api.workersPerReplica ?? Math.max(1, Math.floor(p.api.vcpuPerReplica));
  const shutdownDelaySeconds = Math.max(p.api.preStopDelaySeconds, DNS_DEREGISTRATION_SECONDS);
  const containerStopTimeoutSeconds = p.api.containerStopTimeoutSeconds ?? shutdownDelaySeconds + p.api.gracefulTimeoutSeconds + TIMEOUT_MARGIN_SECONDS;
  const terminationGracePeriodSeconds = p.api.terminationGracePeriodSeconds ?? containerStopTimeoutSeconds + TIMEOUT_MARGIN_SECONDS;
  const instanceMemoryGiB = RDS_INSTANCE_MEMORY_GIB[p.postgres.instanceClass] ?? Number.NaN;
  const maxConnectionsAws = postgresMaxConnectionsForMemoryBytes(instanceMemoryGiB * BYTES_PER_GIB);
  const maxConnectionsKubernetes = postgresMaxConnectionsForMemoryBytes(p.postgres.k8sMemoryLimitMiB * BYTES_PER_MIB);

  const workerProcesses = Math.max(1, Math.ceil(p.nginx.cpuMillicores / 1000));
  const nginxPreStop = p.nginx.preStopDelaySeconds ?? p.api.preStopDelaySeconds;
  const nginxShutdown = p.nginx.proxyConnectTimeoutSeconds + p.nginx.proxyReadTimeoutSeconds;
  const maxConnsPerUpstreamServer = Math.max(1, Math.ceil((workersPerReplica * p.api.maxInFlightPerWorker) / p.nginx.replicasMin));
  const upstreamKeepaliveConnections = Math.max(
    8,
    Math.min(Math.ceil((p.api.replicasMax * maxConnsPerUpstreamServer) / workerProcesses), Math.floor(p.nginx.workerConnections / 2)),
  );
  const upstreamKeepaliveTimeoutSeconds = p.nginx.upstreamKeepaliveTimeoutSeconds ?? UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS;
  const dbAcquireTimeoutMs = p.api.dbAcquireTimeoutMs ?? 2000;
  const statementTimeoutMs = p.api.statementTimeoutMs ?? 5000;
  const dbQueryDeadlineMs = statementTimeoutMs + DB_QUERY_DEADLINE_MARGIN_MS;

  const usageAssumed: UsageField[] = [];
  const usage = {} as Record<UsageField, number>;
  for (const field of Object.keys(USAGE_DEFAULTS) as UsageField[]) {
    const given = p.usage[field];
    if (given === undefined) usageAssumed.push(field);
    usage[field] = given ?? USAGE_DEFAULTS[field];
  }

  return {
    api: {
      workersPerReplica,
      workersAtMaxReplicas: workersPerReplica * p.api.replicasMax,
      headersTimeoutSeconds: p.api.keepAliveTimeoutSeconds + TIMEOUT_MARGIN_SECONDS,
      containerStopTimeoutSeconds,
      terminationGracePeriodSeconds,
      memoryMiBPerWorker: Math.floor(p.api.memoryMiBPerReplica / workersPerReplica),
      dbAcquireTimeoutMs,
      statementTimeoutMs,
      dbQueryDeadlineMs,
      slowestAnswerSeconds: (dbAcquireTimeoutMs + dbQueryDeadlineMs) / 1000,
      drainIdleTimeoutSeconds: upstreamKeepaliveTimeoutSeconds + TIMEOUT_MARGIN_SECONDS,
      shutdownDelaySeconds,
      autoscalingRequestsPerTargetPerMinute: p.api.autoscalingRequestsPerTargetPerMinute ?? workersPerReplica * REQUESTS_PER_WORKER_PER_MINUTE,
    },
    postgres: {
      instanceMemoryGiB,
      maxConnectionsAws,
      maxConnectionsKubernetes,
      budgetAws: budget(p, workersPerReplica, maxConnectionsAws),
      budgetKubernetes: budget(p, workersPerReplica, maxConnectionsKubernetes),
      deletionProtection: p.postgres.deletionProtection ?? true,
    },
    monitoring: { logRetentionDays: p.monitoring.logRetentionDays ?? 30 },
    kubernetes: kubernetesStorage(p),
    redis: { maxmemoryMiB: Math.floor((p.redis.k8sMemoryLimitMiB * p.redis.maxmemoryPercent) / 100), parameterFamily: elasticacheParameterFamily(p.redis.engine, p.redis.engineVersion) },
    network: { availabilityZoneNames: zoneNames(p) },
    nginx: {
      workerProcesses,
      rateLimitExemptCidrs: p.nginx.rateLimitExemptCidrs ?? [],
      maxConnsPerUpstreamServer,
      maxFails: p.nginx.maxFails ?? maxConnsPerUpstreamServer + 1,
      clientTimeoutSeconds: Math.max(TIMEOUT_MARGIN_SECONDS, Math.ceil((dbAcquireTimeoutMs + statementTimeoutMs) / 1000)),
      upstreamKeepaliveConnections,
      upstreamKeepaliveTimeoutSeconds,
      hpa: p.nginx.replicasMax > p.nginx.replicasMin,
      autoscalingCpuTargetPercent: p.nginx.autoscalingCpuTargetPercent ?? p.api.autoscalingCpuTargetPercent,
      preStopDelaySeconds: nginxPreStop,
      shutdownTimeoutSeconds: nginxShutdown,
      containerStopTimeoutSeconds: Math.min(ECS_MAX_STOP_TIMEOUT_SECONDS, nginxShutdown + TIMEOUT_MARGIN_SECONDS),
      terminationGracePeriodSeconds: nginxPreStop + nginxShutdown + TIMEOUT_MARGIN_SECONDS,
    },
    autoscaling: { minReplicas: p.api.replicasMin, maxReplicas: p.api.replicasMax },
    usage,
    usageAssumed,
  };
}

function kubernetesStorage(p: Profile): Derived['kubernetes'] {
  const k = p.kubernetes;
  const storageVolumeType = k.storageVolumeType ?? 'gp3';
  const emitStorageClass = k.storageClassProvisioner !== undefined;
  const postgresMode = p.postgres.k8sMode ?? 'statefulset';
  const redisMode = p.redis.k8sMode ?? 'single';
  return {
    storageClassName: k.storageClassName ?? (emitStorageClass ? `${k.namespace}-${storageVolumeType}` : undefined),
    storageVolumeType,
    emitStorageClass,
    storageReclaimPolicy: (p.postgres.deletionProtection ?? true) ? 'Retain' : 'Delete',
    postgresMode,
    postgresInstances: postgresMode === 'external' ? 0 : postgresMode === 'cloudnative-pg' && p.postgres.multiAz ? 2 : 1,
    postgresShmMiB: Math.max(64, Math.floor(p.postgres.k8sMemoryLimitMiB / 4)),
    redisMode,
    redisPods: redisMode === 'external' ? 0 : redisMode === 'sentinel' ? Math.max(3, 1 + p.redis.replicas) : 1,
  };
}

/** Fargate's valid memory (MiB) for a vCPU size. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size */
export function fargateMemoryRangeMiB(vcpu: number): { min: number; max: number; stepMiB: number; fixed?: number[] } | undefined {
  switch (vcpu) {
    case 0.25:
      return { min: 512, max: 2048, stepMiB: 512, fixed: [512, 1024, 2048] };
    case 0.5:
      return { min: 1024, max: 4096, stepMiB: 1024 };
    case 1:
      return { min: 2048, max: 8192, stepMiB: 1024 };
    case 2:
      return { min: 4096, max: 16384, stepMiB: 1024 };
    case 4:
      return { min: 8192, max: 30720, stepMiB: 1024 };
    case 8:
      return { min: 16384, max: 61440, stepMiB: 4096 };
    case 16:
      return { min: 32768, max: 122880, stepMiB: 8192 };
    default:
      return undefined;
  }
}

/** The largest Fargate task. */
export const FARGATE_MAX = Object.freeze({ vcpu: 16, memoryMiB: 122880 });

/**
 * Provisioned IOPS RDS accepts on io1 and io2, and per GiB of storage.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#USER_PIOPS
 */
export const RDS_PIOPS = Object.freeze({ min: 1000, max: 256000, minPerGiB: 0.5, maxPerGiB: { io1: 50, io2: 1000 } });

export function fargateTaskSizeOrUndefined(cpuMillicores: number, memoryMiB: number): { vcpu: number; memoryMiB: number } | undefined {
  for (const vcpu of FARGATE_VCPU) {
    if (vcpu * 1000 < cpuMillicores) continue;
    const range = fargateMemoryRangeMiB(vcpu)!;
    const options = range.fixed ?? Array.from({ length: (range.max - range.min) / range.stepMiB + 1 }, (_, i) => range.min + i * range.stepMiB);
    const fit = options.find((m) => m >= memoryMiB);
    if (fit !== undefined) return { vcpu, memoryMiB: fit };
  }
  return undefined;
}

function zoneNames(p: Profile): string[] | undefined {
  if (p.network.availabilityZoneNames) return [...p.network.availabilityZoneNames];
  const letters = AVAILABILITY_ZONE_LETTERS[p.region];
  return letters ? [...letters.slice(0, p.network.availabilityZones)].map((l) => `${p.region}${l}`) : undefined;
}

/** The smallest valid Fargate task size that holds a requested CPU and memory (checkInvariants refuses profiles where none does). */
export function fargateTaskSize(cpuMillicores: number, memoryMiB: number): { vcpu: number; memoryMiB: number } {
  const size = fargateTaskSizeOrUndefined(cpuMillicores, memoryMiB);
  if (!size) throw new Error(`no Fargate task size holds ${cpuMillicores}m CPU and ${memoryMiB} MiB`);
  return size;
}
