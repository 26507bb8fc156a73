/**
 * Values derived from a profile, computed in one place so every target agrees,
 * and the invariants they must satisfy.
 */
import { AVAILABILITY_ZONE_LETTERS, ELASTICACHE_PARAMETER_FAMILIES, elasticacheParameterFamily, RDS_FAMILIES, rdsInstanceMemoryGiB } from './instances.ts';
import { ACM_CERTIFICATE_ARN, FARGATE_VCPU, type Profile } from './schema.ts';
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
const BYTES_PER_MIB = 1024 ** 2;

/**
 * RDS for PostgreSQL's default max_connections: LEAST({DBInstanceClassMemory/9531392}, 5000).
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections
 */
export function postgresMaxConnectionsForMemoryBytes(memoryBytes: number): number {
  return Math.min(Math.floor(memoryBytes / 9531392), 5000);
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
 * on cached reads with a database round trip now and then (README: sustained load).
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
     * so nginx has always closed its own first (README: draining without resets).
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

function fargateTaskSizeOrUndefined(cpuMillicores: number, memoryMiB: number): { vcpu: number; memoryMiB: number } | undefined {
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

/** One broken invariant: the field to change, what is wrong, and how to fix it. */
export interface InvariantProblem {
  readonly path: string;
  readonly message: string;
  /** The one deploy target the check is about (a Postgres that only it runs); unset: every target. */
  readonly target?: 'aws' | 'k8s';
}

export function checkInvariants(p: Profile, d: Derived): InvariantProblem[] {
  const problems: InvariantProblem[] = [];
  const add = (path: string, message: string, target?: 'aws' | 'k8s') => problems.push({ path, message, ...(target ? { target } : {}) });
  const { api, postgres, nginx } = p;

  if (api.replicasMin > api.replicasMax) {
    add('api.replicasMin', `'api.replicasMin' (${api.replicasMin}) must be <= 'api.replicasMax' (${api.replicasMax})`);
  }
  if (api.replicasExpected !== undefined && (api.replicasExpected < api.replicasMin || api.replicasExpected > api.replicasMax)) {
    add('api.replicasExpected', `'api.replicasExpected' (${api.replicasExpected}) must be between replicasMin (${api.replicasMin}) and replicasMax (${api.replicasMax})`);
  }
  if (nginx.replicasMin > nginx.replicasMax) {
    add('nginx.replicasMin', `'nginx.replicasMin' (${nginx.replicasMin}) must be <= 'nginx.replicasMax' (${nginx.replicasMax})`);
  }

  // nginx finds the API tasks through Cloud Map DNS, whose answers stop at 8 addresses: the
  // tasks beyond would get no traffic from nginx (nor scrapes from a self-hosted Prometheus).
  if (p.network.loadBalancer === 'nlb' && api.replicasMax > CLOUD_MAP_MAX_ANSWERS) {
    const workers = d.api.workersPerReplica * api.replicasMax;
    add(
      'api.replicasMax',
      `${api.replicasMax} API tasks behind nginx on AWS, but nginx finds them through Cloud Map DNS, which answers with at most ${CLOUD_MAP_MAX_ANSWERS} addresses: use at most ${CLOUD_MAP_MAX_ANSWERS} larger tasks (e.g. ${CLOUD_MAP_MAX_ANSWERS} of ${Math.ceil(workers / CLOUD_MAP_MAX_ANSWERS)} workers for the same ${workers} workers: raise api.vcpuPerReplica and api.workersPerReplica), or set network.loadBalancer to "alb", whose target group holds every task`,
      'aws',
    );
  }
  for (const s of api.scheduledScaling ?? []) {
    if (p.network.loadBalancer === 'nlb' && s.replicasMax > CLOUD_MAP_MAX_ANSWERS && api.replicasMax <= CLOUD_MAP_MAX_ANSWERS) {
      add('api.scheduledScaling', `"${s.name}" scales to ${s.replicasMax} API tasks, above the ${CLOUD_MAP_MAX_ANSWERS} addresses Cloud Map DNS gives nginx; use at most ${CLOUD_MAP_MAX_ANSWERS}`, 'aws');
    }
  }

  const fargate = fargateMemoryRangeMiB(api.vcpuPerReplica);
  if (!fargate) {
    add('api.vcpuPerReplica', `${api.vcpuPerReplica} is not a Fargate task size; use one of 0.25, 0.5, 1, 2, 4, 8, 16`);
  } else {
    const m = api.memoryMiBPerReplica;
    const ok = fargate.fixed ? fargate.fixed.includes(m) : m >= fargate.min && m <= fargate.max && m % fargate.stepMiB === 0;
    if (!ok) {
      const allowed = fargate.fixed ? fargate.fixed.join(', ') : `${fargate.min} to ${fargate.max} in steps of ${fargate.stepMiB}`;
      add('api.memoryMiBPerReplica', `${m} MiB is not valid with ${api.vcpuPerReplica} vCPU on Fargate; allowed: ${allowed} MiB`);
    }
  }
  if (d.api.workersPerReplica > Math.max(1, Math.ceil(api.vcpuPerReplica * 2))) {
    add(
      'api.workersPerReplica',
      `${d.api.workersPerReplica} workers on ${api.vcpuPerReplica} vCPU oversubscribes the CPU; use at most ${Math.max(1, Math.ceil(api.vcpuPerReplica * 2))} (one or two per vCPU)`,
    );
  }

  if (!Number.isFinite(d.postgres.instanceMemoryGiB)) {
    add(
      'postgres.instanceClass',
      `unknown RDS instance class "${postgres.instanceClass}"; known families (sizes): ${Object.entries(RDS_FAMILIES).map(([f, { sizes }]) => `${f} (${sizes[0]} to ${sizes.at(-1)})`).join(', ')}`,
    );
  } else {
    const b = d.postgres.budgetAws;
    if (b.headroom < 0) add('api.dbPoolSizePerWorker', budgetMessage('RDS', `${postgres.instanceClass} (${d.postgres.instanceMemoryGiB} GiB)`, p, d, b), 'aws');
  }
  const bk = d.postgres.budgetKubernetes;
  if (bk.headroom < 0) add('api.dbPoolSizePerWorker', budgetMessage('Kubernetes', `k8sMemoryLimitMiB ${postgres.k8sMemoryLimitMiB}`, p, d, bk), 'k8s');

  // Postgres keeps superuser_reserved_connections for superusers; the app cannot use them.
  if (postgres.reservedConnections < POSTGRES_SUPERUSER_RESERVED_CONNECTIONS) {
    add(
      'postgres.reservedConnections',
      `${postgres.reservedConnections} is below the ${POSTGRES_SUPERUSER_RESERVED_CONNECTIONS} connections Postgres keeps for superusers (superuser_reserved_connections), so the app would be refused connections the budget promised it; use at least ${POSTGRES_SUPERUSER_RESERVED_CONNECTIONS}`,
    );
  }
  if (d.postgres.maxConnectionsKubernetes <= POSTGRES_SUPERUSER_RESERVED_CONNECTIONS) {
    add(
      'postgres.k8sMemoryLimitMiB',
      `${postgres.k8sMemoryLimitMiB} MiB gives max_connections ${d.postgres.maxConnectionsKubernetes}, and Postgres refuses to start unless max_connections exceeds superuser_reserved_connections (${POSTGRES_SUPERUSER_RESERVED_CONNECTIONS}); use at least ${Math.ceil(((POSTGRES_SUPERUSER_RESERVED_CONNECTIONS + 1) * 9531392) / BYTES_PER_MIB)} MiB`,
    );
  }
  const provisionedIops = postgres.storageType === 'io1' || postgres.storageType === 'io2';
  if (provisionedIops && postgres.storageGiB < 100) {
    add('postgres.storageGiB', `${postgres.storageGiB} GiB is below the 100 GiB RDS requires for ${postgres.storageType} storage; use at least 100, or storageType gp3`);
  }
  if (provisionedIops && postgres.iops === undefined) {
    add('postgres.iops', `storageType ${postgres.storageType} bills provisioned IOPS, but postgres.iops is not set; set it (${RDS_PIOPS.min} to ${RDS_PIOPS.max}), or use storageType gp3 (3,000 IOPS included)`);
  }
  if (!provisionedIops && postgres.iops !== undefined) {
    add('postgres.iops', `${postgres.iops} IOPS cannot be provisioned on ${postgres.storageType}; remove postgres.iops, or use storageType io1 or io2`);
  }
  if (provisionedIops && postgres.iops !== undefined) {
    const maxRatio = RDS_PIOPS.maxPerGiB[postgres.storageType as 'io1' | 'io2'];
    const max = Math.min(RDS_PIOPS.max, maxRatio * postgres.storageGiB);
    const min = Math.max(RDS_PIOPS.min, Math.ceil(RDS_PIOPS.minPerGiB * postgres.storageGiB));
    if (postgres.iops < min || postgres.iops > max) {
      add('postgres.iops', `${postgres.iops} IOPS is outside what RDS allows for ${postgres.storageGiB} GiB of ${postgres.storageType}: ${min} to ${max} (${RDS_PIOPS.min} to ${RDS_PIOPS.max}, ${RDS_PIOPS.minPerGiB} to ${maxRatio} per GiB)`);
    }
  }
  if (postgres.k8sCpuRequestMillicores > postgres.k8sCpuLimitMillicores) {
    add('postgres.k8sCpuRequestMillicores', `request (${postgres.k8sCpuRequestMillicores}m) must be <= 'postgres.k8sCpuLimitMillicores' (${postgres.k8sCpuLimitMillicores}m)`);
  }
  if (postgres.k8sMemoryRequestMiB > postgres.k8sMemoryLimitMiB) {
    add('postgres.k8sMemoryRequestMiB', `request (${postgres.k8sMemoryRequestMiB} MiB) must be <= 'postgres.k8sMemoryLimitMiB' (${postgres.k8sMemoryLimitMiB} MiB)`);
  }
  if (p.redis.k8sMemoryRequestMiB > p.redis.k8sMemoryLimitMiB) {
    add('redis.k8sMemoryRequestMiB', `request (${p.redis.k8sMemoryRequestMiB} MiB) must be <= 'redis.k8sMemoryLimitMiB' (${p.redis.k8sMemoryLimitMiB} MiB)`);
  }
  // Multi-AZ places the standby (or replica) in another zone, so AWS needs two.
  if (p.network.availabilityZones < 2) {
    if (postgres.multiAz) add('network.availabilityZones', `1 availability zone cannot hold Multi-AZ Postgres (postgres.multiAz: true puts the standby in a second zone); set network.availabilityZones to 2 or more, or postgres.multiAz to false`);
    if (p.redis.multiAz) add('network.availabilityZones', `1 availability zone cannot hold Multi-AZ Redis (redis.multiAz: true puts a replica in a second zone); set network.availabilityZones to 2 or more, or redis.multiAz to false`);
  }
  if (p.network.natGateways === 0 && p.usage.natProcessedGBPerMonth !== undefined) {
    add('usage.natProcessedGBPerMonth', `${p.usage.natProcessedGBPerMonth} GB a month through NAT, but network.natGateways is 0, so there is no NAT gateway to process (or price) it; remove usage.natProcessedGBPerMonth, or set network.natGateways to 1 or more`);
  }
  // nginx and self-hosted Prometheus and Grafana run as Fargate tasks of the smallest size that holds them.
  const fargateTasks: [string, string, number, number][] = [['nginx', 'nginx', nginx.cpuMillicores, nginx.memoryMiB]];
  if (p.monitoring.mode === 'self-hosted') {
    fargateTasks.push(['monitoring', 'prometheus', p.monitoring.prometheusCpuMillicores, p.monitoring.prometheusMemoryMiB]);
    fargateTasks.push(['monitoring', 'grafana', p.monitoring.grafanaCpuMillicores, p.monitoring.grafanaMemoryMiB]);
  }
  for (const [section, name, cpu, memoryMiB] of fargateTasks) {
    if (fargateTaskSizeOrUndefined(cpu, memoryMiB) !== undefined) continue;
    const field = cpu > FARGATE_MAX.vcpu * 1000 ? 'CpuMillicores' : 'MemoryMiB';
    const path = section === 'nginx' ? `nginx.${field === 'CpuMillicores' ? 'cpuMillicores' : 'memoryMiB'}` : `monitoring.${name}${field}`;
    add(path, `${name} at ${cpu}m CPU and ${memoryMiB} MiB fits no Fargate task size (the largest is ${FARGATE_MAX.vcpu} vCPU with ${FARGATE_MAX.memoryMiB} MiB); use at most ${FARGATE_MAX.vcpu * 1000}m CPU and ${FARGATE_MAX.memoryMiB} MiB`);
  }
  if (p.redis.multiAz && p.redis.replicas < 1) {
    add('redis.replicas', `Multi-AZ ElastiCache needs at least 1 replica (got ${p.redis.replicas}); set redis.replicas to 1 or redis.multiAz to false`);
  }

  // Timeout chain: nginx upstream keepalive_timeout < app keep-alive < app headers timeout.
  if (api.keepAliveTimeoutSeconds <= ALB_IDLE_TIMEOUT_SECONDS) {
    add(
      'api.keepAliveTimeoutSeconds',
      `${api.keepAliveTimeoutSeconds} s must be above the ALB idle timeout (${ALB_IDLE_TIMEOUT_SECONDS} s), or the app may close a connection the proxy is reusing; use ${ALB_IDLE_TIMEOUT_SECONDS + TIMEOUT_MARGIN_SECONDS}`,
    );
  }
  if (d.nginx.upstreamKeepaliveTimeoutSeconds >= api.keepAliveTimeoutSeconds) {
    add(
      'nginx.upstreamKeepaliveTimeoutSeconds',
      `nginx upstream keepalive_timeout (${d.nginx.upstreamKeepaliveTimeoutSeconds} s) must be below the app's keep-alive timeout (api.keepAliveTimeoutSeconds = ${api.keepAliveTimeoutSeconds} s); use ${api.keepAliveTimeoutSeconds - 5} or less`,
    );
  }
  // Draining: nginx closes its idle connections to a draining worker, and the worker waits for
  // that within its graceful timeout; otherwise the worker closes them itself, racing requests.
  if (d.api.drainIdleTimeoutSeconds + TIMEOUT_MARGIN_SECONDS > api.gracefulTimeoutSeconds) {
    add(
      'nginx.upstreamKeepaliveTimeoutSeconds',
      `nginx upstream keepalive_timeout (${d.nginx.upstreamKeepaliveTimeoutSeconds} s) + ${2 * TIMEOUT_MARGIN_SECONDS} s must fit in api.gracefulTimeoutSeconds (${api.gracefulTimeoutSeconds} s), or a draining worker is killed before nginx has closed its idle connections; use ${Math.max(1, api.gracefulTimeoutSeconds - 2 * TIMEOUT_MARGIN_SECONDS)} or less, or raise api.gracefulTimeoutSeconds`,
    );
  }
  // A slow request must be answered by the app (not counted by nginx) before nginx's read
  // timeout ends it (counted toward max_fails, which can take a healthy replica out).
  if (d.api.slowestAnswerSeconds >= nginx.proxyReadTimeoutSeconds) {
    add(
      'nginx.proxyReadTimeoutSeconds',
      `${nginx.proxyReadTimeoutSeconds} s must exceed the longest the app takes to answer, api.dbAcquireTimeoutMs + api.statementTimeoutMs + ${DB_QUERY_DEADLINE_MARGIN_MS} ms (the query deadline's margin) = ${d.api.slowestAnswerSeconds} s, or nginx times slow requests out and counts them against healthy replicas; raise it to ${Math.ceil(d.api.slowestAnswerSeconds) + TIMEOUT_MARGIN_SECONDS} or lower the app's timeouts`,
    );
  }
  // Shutdown chain: graceful timeout < container stop timeout < termination grace period.
  const minStop = d.api.shutdownDelaySeconds + api.gracefulTimeoutSeconds;
  if (d.api.containerStopTimeoutSeconds <= minStop) {
    add(
      'api.containerStopTimeoutSeconds',
      `${d.api.containerStopTimeoutSeconds} s must exceed the shutdown delay + gracefulTimeoutSeconds (${d.api.shutdownDelaySeconds} + ${api.gracefulTimeoutSeconds} = ${minStop} s; the delay is the longer of preStopDelaySeconds and the ${DNS_DEREGISTRATION_SECONDS} s nginx may still send to a task that left Cloud Map), or in-flight requests are killed; use ${minStop + TIMEOUT_MARGIN_SECONDS}`,
    );
  }
  if (d.api.containerStopTimeoutSeconds > ECS_MAX_STOP_TIMEOUT_SECONDS) {
    add(
      'api.containerStopTimeoutSeconds',
      `${d.api.containerStopTimeoutSeconds} s exceeds the Fargate maximum stopTimeout (${ECS_MAX_STOP_TIMEOUT_SECONDS} s); lower api.gracefulTimeoutSeconds or api.preStopDelaySeconds`,
    );
  }
  if (d.api.terminationGracePeriodSeconds <= d.api.containerStopTimeoutSeconds) {
    add(
      'api.terminationGracePeriodSeconds',
      `${d.api.terminationGracePeriodSeconds} s must exceed the container stop timeout (${d.api.containerStopTimeoutSeconds} s); use ${d.api.containerStopTimeoutSeconds + TIMEOUT_MARGIN_SECONDS}`,
    );
  }

  if (nginx.proxyConnectTimeoutSeconds * nginx.proxyNextUpstreamTries > nginx.proxyNextUpstreamTimeoutSeconds + nginx.proxyConnectTimeoutSeconds) {
    add(
      'nginx.proxyNextUpstreamTimeoutSeconds',
      `${nginx.proxyNextUpstreamTimeoutSeconds} s cannot cover ${nginx.proxyNextUpstreamTries} tries of ${nginx.proxyConnectTimeoutSeconds} s connect timeout; raise it to ${nginx.proxyConnectTimeoutSeconds * (nginx.proxyNextUpstreamTries - 1)} or lower the tries`,
    );
  }
  if (d.nginx.maxConnsPerUpstreamServer > nginx.workerConnections / 2) {
    add(
      'nginx.workerConnections',
      `${nginx.workerConnections} worker connections cannot hold max_conns ${d.nginx.maxConnsPerUpstreamServer} upstream plus as many client connections; use at least ${d.nginx.maxConnsPerUpstreamServer * 2}`,
    );
  }

  const { purchase } = p;
  if (purchase.option === 'on-demand') {
    if (purchase.termYears !== undefined || purchase.payment !== undefined) {
      add('purchase.option', `on-demand takes no termYears or payment; remove them or choose "savings-plan" or "reserved"`);
    }
  } else {
    if (purchase.termYears === undefined) add('purchase.termYears', `${purchase.option} needs a term: 1 or 3`);
    if (purchase.payment === undefined) add('purchase.payment', `${purchase.option} needs a payment: no-upfront, partial-upfront or all-upfront`);
  }

  for (const [i, s] of (api.scheduledScaling ?? []).entries()) {
    const path = `api.scheduledScaling.${i}`;
    if (s.replicasMin > s.replicasMax) add(`${path}.replicasMin`, `'${path}.replicasMin' (${s.replicasMin}) must be <= '${path}.replicasMax' (${s.replicasMax})`);
    // The connection budget and nginx's max_conns are sized for api.replicasMax; a schedule above it would break both.
    if (s.replicasMax > api.replicasMax) add(`${path}.replicasMax`, `${s.replicasMax} is above api.replicasMax (${api.replicasMax}), which the connection budget is sized for; raise api.replicasMax or lower the schedule`);
  }
  const scheduleNames = (api.scheduledScaling ?? []).map((s) => s.name);
  const repeated = scheduleNames.find((n, i) => scheduleNames.indexOf(n) !== i);
  if (repeated) add('api.scheduledScaling', `schedule name "${repeated}" is used twice; each scheduled action needs its own name`);

  if (d.redis.parameterFamily === undefined) {
    const versions = Object.keys(ELASTICACHE_PARAMETER_FAMILIES[p.redis.engine]);
    add('redis.engineVersion', `${p.redis.engine} ${p.redis.engineVersion} is not a version apistack deploys on ElastiCache; use one of ${versions.join(', ')}`);
  }
  const names = p.network.availabilityZoneNames;
  if (names) {
    if (names.length !== p.network.availabilityZones) add('network.availabilityZoneNames', `${names.length} zone names for network.availabilityZones ${p.network.availabilityZones}; give exactly one name per zone`);
    const foreign = names.filter((n) => n.slice(0, -1) !== p.region);
    if (foreign.length) add('network.availabilityZoneNames', `${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not in region ${p.region}`);
    if (new Set(names).size !== names.length) add('network.availabilityZoneNames', 'a zone is named twice; each subnet tier needs distinct zones');
  } else {
    const letters = AVAILABILITY_ZONE_LETTERS[p.region];
    if (letters && p.network.availabilityZones > letters.length) {
      add('network.availabilityZones', `${p.region} has ${letters.length} availability zones (${[...letters].map((l) => `${p.region}${l}`).join(', ')}); use at most ${letters.length}`);
    }
  }

  kubernetesDataInvariants(p, d, add);

  const certificateRegion = p.network.loadBalancerCertificateArn?.match(ACM_CERTIFICATE_ARN)?.[1];
  if (certificateRegion !== undefined && certificateRegion !== p.region) {
    // A load balancer takes certificates from its own region only.
    add('network.loadBalancerCertificateArn', `the certificate is in ${certificateRegion}, not in the profile's region ${p.region}; a load balancer can use only an ACM certificate from its own region: request or import one in ${p.region}`);
  }
  if (p.network.natGateways > p.network.availabilityZones) {
    add('network.natGateways', `${p.network.natGateways} NAT gateways for ${p.network.availabilityZones} availability zones; use at most one per AZ`);
  }
  if (p.monitoring.slo.latencyThresholdSeconds >= nginx.proxyReadTimeoutSeconds) {
    add('monitoring.slo.latencyThresholdSeconds', `${p.monitoring.slo.latencyThresholdSeconds} s is not below nginx.proxyReadTimeoutSeconds (${nginx.proxyReadTimeoutSeconds} s)`);
  }
  return problems;
}

/** What the Kubernetes target's data services must be for what the profile claims (checked for target k8s). */
function kubernetesDataInvariants(p: Profile, d: Derived, add: (path: string, message: string, target?: 'aws' | 'k8s') => void): void {
  const k = d.kubernetes;
  if (p.postgres.multiAz && k.postgresMode === 'statefulset') {
    add('postgres.k8sMode', `postgres.multiAz is true, but "statefulset" runs one Postgres pod on one zonal volume: a node drain or a zone loss stops the database; set "cloudnative-pg" (a primary and a standby in another zone; needs the CloudNativePG operator) or "external" with postgres.k8sExternalHost (RDS Multi-AZ), or set postgres.multiAz to false`, 'k8s');
  }
  if (p.redis.multiAz && k.redisMode === 'single') {
    add('redis.k8sMode', `redis.multiAz is true, but "single" runs one Redis pod: a node drain or a zone loss stops the cache, the rate limits and invalidations; set "sentinel" (replicas with automatic failover) or "external" with redis.k8sExternalHost (ElastiCache Multi-AZ), or set redis.multiAz to false`, 'k8s');
  }
  for (const [service, mode] of [['postgres', k.postgresMode], ['redis', k.redisMode]] as const) {
    const host = p[service].k8sExternalHost;
    if (mode === 'external' && host === undefined) add(`${service}.k8sExternalHost`, `${service}.k8sMode is "external": name the endpoint the API connects to (from the AWS stack's outputs or the console)`, 'k8s');
    if (mode !== 'external' && host !== undefined) add(`${service}.k8sExternalHost`, `is set, but ${service}.k8sMode is "${mode}", which runs ${service} in the cluster; set ${service}.k8sMode to "external" or remove the host`, 'k8s');
  }
  if (!k.emitStorageClass && p.kubernetes.storageEncrypted !== undefined) {
    add('kubernetes.storageEncrypted', 'applies only to the StorageClass apistack emits: set kubernetes.storageClassProvisioner, or encrypt the class named in kubernetes.storageClassName', 'k8s');
  }
}

function budgetMessage(where: string, capacity: string, p: Profile, d: Derived, b: ConnectionBudget): string {
  const w = d.api.workersPerReplica;
  const maxPool = Math.floor((b.maxConnections - b.reserved) / (p.api.replicasMax * w));
  const maxReplicas = Math.floor((b.maxConnections - b.reserved) / (w * p.api.dbPoolSizePerWorker));
  const fixes = [
    maxPool >= 1 ? `set api.dbPoolSizePerWorker to ${maxPool} or less` : undefined,
    maxReplicas >= 1 ? `set api.replicasMax to ${maxReplicas} or less` : undefined,
    where === 'RDS' ? 'choose a larger postgres.instanceClass' : 'raise postgres.k8sMemoryLimitMiB',
    'or put a pooler (RDS Proxy, PgBouncer) in front of Postgres',
  ].filter(Boolean);
  return (
    `connection budget exceeded on ${where}: replicasMax ${p.api.replicasMax} × workers ${w} × pool ${p.api.dbPoolSizePerWorker}` +
    ` + reserved ${b.reserved} = ${b.required} > max_connections ${b.maxConnections} for ${capacity}; ${fixes.join(', ')}`
  );
}
