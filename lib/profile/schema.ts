/**
 * The profile schema: every sizing choice apistack deploys, prices and load-tests.
 *
 * Units are in every name (MiB, GiB, Seconds, Millicores, PerMonth). Objects are strict:
 * an unknown key is an error (with a "did you mean" hint), never silently ignored.
 *
 * Every field carries its documentation as zod metadata (`doc(schema, { ... })`, read back with
 * `fieldDoc`): what it means, its unit, what applies when it is omitted, and which targets read
 * it. That metadata is the one description of a field: docs/profile-reference.md is generated
 * from it (`npm run docs:reference`), and test/profile/reference.test.ts checks both.
 */
import { z } from 'zod';

/**
 * Who reads a field: the AWS stacks (lib/aws), the Kubernetes charts (charts/), the local
 * environment (lib/local) and the cost model (lib/cost). Shared renderers count for the targets
 * that run them: the nginx config (AWS behind the NLB, Kubernetes, local), the API's environment
 * (every target) and the Prometheus rules (AWS self-hosted and managed, Kubernetes, local).
 */
export const FIELD_TARGETS = ['aws', 'k8s', 'local', 'cost'] as const;
export type FieldTarget = (typeof FIELD_TARGETS)[number];

/** The components the cost model groups its lines into (ComponentName in lib/cost/model.ts, which lib/profile may not import). */
export const COST_COMPONENTS = ['Application Servers', 'Load Balancer', 'Database', 'Cache', 'Storage', 'Monitoring', 'Network', 'Control Plane', 'Idle Capacity'] as const;
export type CostComponent = (typeof COST_COMPONENTS)[number];

/** The documentation of one profile field, kept on the field's schema as metadata. */
export interface FieldDoc {
  /** What the field means, in a sentence or a few. */
  readonly description: string;
  /** The unit of a number (seconds, MiB, percent, ...); absent for strings, booleans and choices. */
  readonly unit?: string;
  /** Optional fields: the value used when the field is omitted. */
  readonly default?: unknown;
  /** Optional fields: what applies when omitted, when it is not one constant (derived from other fields, or nothing). */
  readonly defaultText?: string;
  /** Allowed values the schema checks beyond what its type, bounds and enums show (refinements, patterns). */
  readonly allowed?: string;
  /** Which targets read it (see FIELD_TARGETS); `cost` when it changes what the cost model prices. */
  readonly targets: readonly FieldTarget[];
  /** With target cost: the cost components whose lines it changes, on either target's pricing. */
  readonly cost?: readonly CostComponent[];
}

/** The documentation of a whole object (profile section). */
export interface SectionDoc {
  readonly title: string;
  readonly description: string;
}

/** Attach a field's documentation: a clone of the schema with metadata, which parses exactly as the schema does. */
function doc<T extends z.ZodType>(schema: T, d: FieldDoc): T {
  return schema.meta({ ...d });
}

/** Attach a section's documentation to an object schema. */
function section<T extends z.ZodType>(schema: T, d: SectionDoc): T {
  return schema.meta({ ...d });
}

/** The documentation a field carries, if any. */
export function fieldDoc(schema: z.ZodType): FieldDoc | undefined {
  const meta = z.globalRegistry.get(schema);
  return meta && 'targets' in meta ? (meta as unknown as FieldDoc) : undefined;
}

/** The documentation a section (object schema) carries, if any. */
export function sectionDoc(schema: z.ZodType): SectionDoc | undefined {
  const meta = z.globalRegistry.get(schema);
  return meta && typeof meta.title === 'string' && typeof meta.description === 'string' ? { title: meta.title, description: meta.description } : undefined;
}

/** Read by the nginx config renderer, which AWS (behind the NLB), Kubernetes and local all run. */
const NGINX_CONF: readonly FieldTarget[] = ['aws', 'k8s', 'local'];
/** Set in the API's environment (lib/profile/app-env.ts) on every target. */
const APP_ENV: readonly FieldTarget[] = ['aws', 'k8s', 'local'];
/** Read by the Prometheus rules and scrape config, which AWS (self-hosted Prometheus or Amazon Managed Prometheus), Kubernetes and local all load. */
const PROMETHEUS: readonly FieldTarget[] = ['aws', 'k8s', 'local'];

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const percent = z.number().gt(0).lte(100);
/** A DNS host name. */
const HOST = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: 'must be a host name such as "apistack.abc123.us-east-1.rds.amazonaws.com"' }).max(253);

/** Fargate accepts these vCPU sizes; see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size */
export const FARGATE_VCPU = [0.25, 0.5, 1, 2, 4, 8, 16] as const;

/** The retention periods CloudWatch Logs accepts: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html */
export const CLOUDWATCH_LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** PostgreSQL majors RDS runs (standard support): https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html */
function isRdsPostgresVersion(version: string): boolean {
  const major = Number(version.split('.')[0]);
  return major >= 13 && major <= 18;
}

/** Application Auto Scaling schedule expressions: cron(m h dom mon dow year), rate(n unit) or at(yyyy-mm-ddThh:mm:ss). */
const scheduleExpression = z.string().regex(/^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\))$/, {
  message: 'must be an Application Auto Scaling schedule: "cron(0 8 ? * MON-FRI *)" (six fields), "rate(1 day)" or "at(2026-12-24T08:00:00)"',
});

export const scheduledScalingSchema = section(
  z.strictObject({
    name: doc(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be lowercase letters, digits and dashes' }), {
      description: 'Name of the scheduled action, unique within api.scheduledScaling.',
      targets: ['aws'],
    }),
    schedule: doc(scheduleExpression, {
      description: 'When the action applies, as an Application Auto Scaling schedule expression.',
      allowed: '"cron(m h dom mon dow year)" (six fields), "rate(n minutes|hours|days)" or "at(yyyy-mm-ddThh:mm:ss)"',
      targets: ['aws'],
    }),
    timeZone: doc(z.string().min(1).optional(), {
      description: 'IANA time zone the schedule is read in, e.g. America/New_York.',
      default: 'UTC',
      targets: ['aws'],
    }),
    replicasMin: doc(positiveInt, {
      description: 'Minimum API replicas from this time on; at most replicasMax.',
      unit: 'replicas',
      targets: ['aws'],
    }),
    replicasMax: doc(positiveInt, {
      description: 'Maximum API replicas from this time on; at most api.replicasMax, which the connection budget and nginx max_conns are sized for.',
      unit: 'replicas',
      targets: ['aws'],
    }),
  }),
  { title: 'api.scheduledScaling[]', description: 'One scheduled capacity change of the API service (an Application Auto Scaling scheduled action on AWS).' },
);

export const apiSchema = section(
  z.strictObject({
    imageRepository: doc(z.string().min(1), {
      description: 'Container image repository of the API, for targets that pull a built image (Kubernetes). The AWS target builds app/Dockerfile itself and local runs the bundle.',
      targets: ['k8s'],
    }),
    imageTag: doc(z.string().min(1).refine((tag) => tag !== 'latest', { message: 'must be a pinned tag, not "latest"' }), {
      description: 'Image tag of the API image; `latest` is refused so deploys are reproducible.',
      allowed: 'any tag but "latest"',
      targets: ['k8s'],
    }),
    replicasMin: doc(positiveInt, {
      description: 'Fewest API replicas (ECS tasks, pods, local processes); the autoscaler never goes below it. Priced as the low end of the cost range.',
      unit: 'replicas',
      cost: ['Application Servers', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'local', 'cost'],
    }),
    replicasMax: doc(positiveInt, {
      description: 'Most API replicas the autoscaler may run; the Postgres connection budget (replicasMax × workers × pool) and nginx max_conns are sized for it. Behind nginx on AWS at most 8 (Cloud Map DNS answers). Priced as the high end of the cost range.',
      unit: 'replicas',
      cost: ['Application Servers', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    replicasExpected: doc(positiveInt.optional(), {
      description: 'Expected average API replicas: what the cost is priced at unless told otherwise (--replicas), and the expected column of the autoscaling cost table; between replicasMin and replicasMax.',
      unit: 'replicas',
      defaultText: 'none: the cost is priced at replicasMax, and the autoscaling table shows only min and max',
      cost: ['Application Servers', 'Idle Capacity'],
      targets: ['cost'],
    }),
    workersPerReplica: doc(z.number().int().min(1).max(256).optional(), {
      description: 'Node worker processes per replica (like gunicorn -w), set as WEB_CONCURRENCY; at most two per vCPU.',
      unit: 'processes',
      defaultText: 'floor(vcpuPerReplica), at least 1',
      targets: APP_ENV,
    }),
    vcpuPerReplica: doc(z.number().positive(), {
      description: 'vCPU of one API replica: the Fargate task size on AWS, the pod CPU request and limit on Kubernetes, and what the API CPU alert measures against (on every target).',
      unit: 'vCPU',
      allowed: 'a Fargate size: 0.25, 0.5, 1, 2, 4, 8, 16 (checked with the profile)',
      cost: ['Application Servers', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'local', 'cost'],
    }),
    memoryMiBPerReplica: doc(positiveInt, {
      description: 'Memory of one API replica: the Fargate task memory on AWS, the pod memory request and limit on Kubernetes.',
      unit: 'MiB',
      allowed: 'a Fargate memory size for vcpuPerReplica (checked with the profile)',
      cost: ['Application Servers', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    cpuArchitecture: doc(z.enum(['x86_64', 'arm64']), {
      description: 'CPU architecture of the API tasks on AWS (arm64: Graviton), and the Fargate price per vCPU-hour.',
      cost: ['Application Servers', 'Load Balancer', 'Monitoring'],
      targets: ['aws', 'cost'],
    }),
    dbPoolSizePerWorker: doc(z.number().int().min(1).max(1000), {
      description: 'Postgres connections each worker may hold (DATABASE_POOL_SIZE); part of the connection budget replicasMax × workers × pool + reservedConnections ≤ max_connections.',
      unit: 'connections',
      targets: APP_ENV,
    }),
    maxRequestsPerWorker: doc(nonNegativeInt, {
      description: 'Recycle a worker after this many requests (0 disables), like gunicorn max_requests.',
      unit: 'requests',
      targets: APP_ENV,
    }),
    maxRequestsJitter: doc(nonNegativeInt, {
      description: 'Random extra requests (0 to this) added to maxRequestsPerWorker per worker, so workers do not recycle together.',
      unit: 'requests',
      targets: APP_ENV,
    }),
    keepAliveTimeoutSeconds: doc(z.number().int().min(1).max(3600), {
      description: "The app's HTTP keep-alive timeout; must stay above every proxy's idle timeout in front of the app (ALB: 60 s) and above nginx's upstream keepalive timeout.",
      unit: 'seconds',
      targets: APP_ENV,
    }),
    gracefulTimeoutSeconds: doc(z.number().int().min(1).max(3600), {
      description: 'Time in-flight requests get to finish on SIGTERM before a worker is killed.',
      unit: 'seconds',
      targets: APP_ENV,
    }),
    preStopDelaySeconds: doc(nonNegativeInt, {
      description: 'Delay before SIGTERM so load balancers stop routing first (Kubernetes preStop; on AWS the longer of this and the Cloud Map deregistration time).',
      unit: 'seconds',
      targets: ['aws', 'k8s'],
    }),
    containerStopTimeoutSeconds: doc(positiveInt.optional(), {
      description: 'ECS stopTimeout of the API container: from SIGTERM to SIGKILL; must exceed the shutdown delay plus gracefulTimeoutSeconds, and at most 120 on Fargate.',
      unit: 'seconds',
      defaultText: 'max(preStopDelaySeconds, 15) + gracefulTimeoutSeconds + 5 (15 s: the time nginx may still send to a task that left Cloud Map)',
      targets: ['aws'],
    }),
    terminationGracePeriodSeconds: doc(positiveInt.optional(), {
      description: 'Kubernetes terminationGracePeriodSeconds of the API pods (locally: how long a restart waits for a replica to stop); must exceed the container stop timeout.',
      unit: 'seconds',
      defaultText: 'containerStopTimeoutSeconds (given or derived) + 5',
      targets: ['k8s', 'local'],
    }),
    autoscalingCpuTargetPercent: doc(percent, {
      description: 'Average CPU utilisation the API autoscaler holds (ECS target tracking, HPA); also the nginx HPA target unless nginx sets its own.',
      unit: 'percent',
      targets: ['aws', 'k8s'],
    }),
    autoscalingMemoryTargetPercent: doc(percent, {
      description: 'Average memory utilisation the API autoscaler holds (ECS target tracking, HPA).',
      unit: 'percent',
      targets: ['aws', 'k8s'],
    }),
    scaleUpStabilizationSeconds: doc(nonNegativeInt, {
      description: 'Damping of scale-out: the ECS scale-out cooldown, the HPA scaleUp stabilization window (0: scale out at once).',
      unit: 'seconds',
      targets: ['aws', 'k8s'],
    }),
    scaleDownStabilizationSeconds: doc(nonNegativeInt, {
      description: 'Damping of scale-in: the ECS scale-in cooldown, the HPA scaleDown stabilization window (how long load must stay low before pods are removed).',
      unit: 'seconds',
      targets: ['aws', 'k8s'],
    }),
    cacheTtlSeconds: doc(positiveInt, {
      description: 'How long the API keeps user entries in its two-layer cache (in-process and Redis).',
      unit: 'seconds',
      targets: APP_ENV,
    }),
    cacheWarmupKeys: doc(z.number().int().min(0).max(100_000).optional(), {
      description: 'Hot user entries a starting worker loads before taking traffic (0: off).',
      unit: 'keys',
      default: 0,
      targets: APP_ENV,
    }),
    authCacheTtlSeconds: doc(positiveInt, {
      description: 'How long the API caches an API key lookup.',
      unit: 'seconds',
      targets: APP_ENV,
    }),
    rateLimitPerMinute: doc(positiveInt, {
      description: 'Requests per minute per API key on the events API.',
      unit: 'requests/minute',
      targets: APP_ENV,
    }),
    maxInFlightPerWorker: doc(positiveInt, {
      description: 'Requests one worker serves concurrently before queueing; sizes nginx max_conns (workers × this / nginx.replicasMin per replica).',
      unit: 'requests',
      targets: NGINX_CONF,
    }),
    dbAcquireTimeoutMs: doc(z.number().int().min(1).max(600_000).optional(), {
      description: 'How long a request waits for a Postgres pool connection before it is answered 503.',
      unit: 'ms',
      default: 2000,
      targets: APP_ENV,
    }),
    statementTimeoutMs: doc(z.number().int().min(1).max(600_000).optional(), {
      description: "Postgres statement_timeout for the API's queries; the client-side query deadline is this plus 1000 ms.",
      unit: 'ms',
      default: 5000,
      targets: APP_ENV,
    }),
    logLevel: doc(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']), {
      description: 'Log level of the API (pino).',
      targets: APP_ENV,
    }),
    autoscalingRequestsPerTargetPerMinute: doc(positiveInt.optional(), {
      description: 'AWS behind an ALB: scale on requests per task per minute as well as CPU and memory.',
      unit: 'requests/minute',
      defaultText: 'workersPerReplica × 30000 (500 requests/s per worker)',
      targets: ['aws'],
    }),
    scheduledScaling: doc(z.array(scheduledScalingSchema).max(20).optional(), {
      description: 'Capacity changes at known times (business hours, batch windows); AWS applies them as scheduled actions. Each entry is described under api.scheduledScaling[].',
      default: [],
      targets: ['aws'],
    }),
  }),
  { title: 'api', description: 'The API service: its image, replicas and their size, worker processes, timeouts, autoscaling and caches.' },
);

export const postgresSchema = section(
  z.strictObject({
    engineVersion: doc(
      z
        .string()
        .regex(/^\d+(\.\d+)?$/, { message: 'must look like "16" or "16.4"' })
        .refine(isRdsPostgresVersion, { message: 'must be a PostgreSQL major version RDS runs, 13 to 18' }),
      {
        description: 'PostgreSQL version for RDS and the container image, e.g. "16" or "16.4".',
        allowed: 'a major version RDS runs: 13 to 18',
        targets: ['aws', 'k8s'],
      },
    ),
    instanceClass: doc(z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must look like "db.t4g.medium"' }), {
      description: "RDS instance class, e.g. db.t4g.medium; its memory sets RDS's max_connections for the connection budget.",
      allowed: 'an RDS instance class apistack knows (lib/profile/instances.ts)',
      cost: ['Database'],
      targets: ['aws', 'cost'],
    }),
    k8sCpuRequestMillicores: doc(positiveInt, {
      description: 'CPU request of the Postgres pod on Kubernetes; at most k8sCpuLimitMillicores.',
      unit: 'millicores',
      cost: ['Database', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    k8sCpuLimitMillicores: doc(positiveInt, {
      description: 'CPU limit of the Postgres pod on Kubernetes.',
      unit: 'millicores',
      targets: ['k8s'],
    }),
    k8sMemoryRequestMiB: doc(positiveInt, {
      description: 'Memory request of the Postgres pod on Kubernetes; at most k8sMemoryLimitMiB.',
      unit: 'MiB',
      cost: ['Database', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    k8sMemoryLimitMiB: doc(positiveInt, {
      description: 'Memory limit of the Postgres pod on Kubernetes; sets its max_connections (memory / 9531392 bytes, at most 5000), also the local Postgres.',
      unit: 'MiB',
      targets: ['k8s', 'local'],
    }),
    storageGiB: doc(z.number().int().min(20, { message: 'RDS needs at least 20 GiB of gp2/gp3 storage' }).max(65536), {
      description: 'Database storage: RDS allocated storage, the Postgres volume claim on Kubernetes. io1 and io2 need at least 100.',
      unit: 'GiB',
      cost: ['Storage'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    storageType: doc(z.enum(['gp2', 'gp3', 'io1', 'io2']), {
      description: 'RDS storage type; io1 and io2 need iops.',
      cost: ['Storage'],
      targets: ['aws', 'cost'],
    }),
    iops: doc(z.number().int().positive().optional(), {
      description: 'Provisioned IOPS, required with io1 and io2 (and priced per IOPS-month); gp2 and gp3 take none. See https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#USER_PIOPS',
      unit: 'IOPS',
      defaultText: 'none (gp2 and gp3); required with io1 and io2',
      allowed: '1000 to 256000, and 0.5 to 50 (io1) or 1000 (io2) per GiB of storage (checked with the profile)',
      cost: ['Storage'],
      targets: ['aws', 'cost'],
    }),
    multiAz: doc(z.boolean(), {
      description: 'A standby in a second zone: RDS Multi-AZ on AWS; on Kubernetes it needs k8sMode cloudnative-pg (a standby pod) or external.',
      cost: ['Database', 'Storage'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    backupRetentionDays: doc(z.number().int().min(0).max(35), {
      description: 'Days RDS keeps automated backups (0 disables them).',
      unit: 'days',
      cost: ['Storage'],
      targets: ['aws', 'cost'],
    }),
    reservedConnections: doc(nonNegativeInt, {
      description: 'Connections kept free for superusers, migrations, exporters and humans; at least 3 (superuser_reserved_connections).',
      unit: 'connections',
      targets: ['aws', 'k8s'],
    }),
    deletionProtection: doc(z.boolean().optional(), {
      description: 'AWS: refuse to delete the database (and snapshot it if the stack is destroyed anyway). Kubernetes: keep the database volumes (reclaim policy Retain) when their claims are deleted.',
      default: true,
      targets: ['aws', 'k8s'],
    }),
    k8sMode: doc(z.enum(['statefulset', 'cloudnative-pg', 'external']).optional(), {
      description:
        'How the Kubernetes target runs Postgres. `statefulset`: one pod on one zonal volume. `cloudnative-pg`: a CloudNativePG Cluster (the operator must be installed), a primary and, with multiAz, a standby in another zone that takes over on failure. `external`: a database outside the cluster (RDS) at k8sExternalHost.',
      default: 'statefulset',
      cost: ['Database', 'Storage', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    k8sExternalHost: doc(HOST.optional(), {
      description: "With k8sMode external: the database's host name (an RDS endpoint); the API connects with TLS.",
      defaultText: 'none; required with k8sMode external',
      targets: ['k8s'],
    }),
  }),
  { title: 'postgres', description: 'The database: RDS on AWS; on Kubernetes a StatefulSet, a CloudNativePG cluster or an external database; a local server.' },
);

export const redisSchema = section(
  z.strictObject({
    engine: doc(z.enum(['redis', 'valkey']), {
      description: 'Cache engine: ElastiCache engine on AWS, container image on Kubernetes.',
      cost: ['Cache'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    engineVersion: doc(z.string().regex(/^\d+\.\d+$/, { message: 'must look like "7.1"' }), {
      description: 'Engine version, e.g. "7.1".',
      allowed: 'ElastiCache versions: redis 5.0, 6.0, 6.2, 7.0, 7.1; valkey 7.2, 8.0, 8.1 (checked with the engine)',
      targets: ['aws', 'k8s'],
    }),
    nodeType: doc(z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must look like "cache.t4g.small"' }), {
      description: 'ElastiCache node type, e.g. cache.t4g.small.',
      cost: ['Cache'],
      targets: ['aws', 'cost'],
    }),
    replicas: doc(z.number().int().min(0).max(5), {
      description: 'Read replicas besides the primary (ElastiCache; on Kubernetes with k8sMode sentinel). Multi-AZ needs at least 1.',
      unit: 'replicas',
      cost: ['Cache', 'Storage', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    multiAz: doc(z.boolean(), {
      description: 'Keep a replica in another zone with automatic failover: ElastiCache Multi-AZ on AWS; on Kubernetes it needs k8sMode sentinel or external.',
      targets: ['aws', 'k8s'],
    }),
    k8sCpuRequestMillicores: doc(positiveInt, {
      description: 'CPU request of each Redis pod on Kubernetes (its limit is the larger of this and 1000).',
      unit: 'millicores',
      cost: ['Cache', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    k8sMemoryRequestMiB: doc(positiveInt, {
      description: 'Memory request of each Redis pod on Kubernetes; at most k8sMemoryLimitMiB.',
      unit: 'MiB',
      cost: ['Cache', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    k8sMemoryLimitMiB: doc(positiveInt, {
      description: 'Memory limit of each Redis pod on Kubernetes; maxmemory is maxmemoryPercent of it (also for the local Redis).',
      unit: 'MiB',
      targets: ['k8s', 'local'],
    }),
    maxmemoryPercent: doc(z.number().int().min(10).max(95), {
      description: 'Percent of the memory limit given to Redis maxmemory; the rest is fork/COW headroom.',
      unit: 'percent',
      targets: ['k8s', 'local'],
    }),
    maxmemoryPolicy: doc(
      z.enum(['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl']),
      {
        description: 'Eviction policy when maxmemory is reached (the ElastiCache parameter group on AWS).',
        targets: ['aws', 'k8s', 'local'],
      },
    ),
    persistence: doc(z.boolean(), {
      description: 'Keep the cache data. Kubernetes: the Redis pods save snapshots to a PVC when true, keep data in an emptyDir (lost with the pod) when false. AWS: ElastiCache keeps one daily snapshot when true.',
      cost: ['Storage'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    storageGiB: doc(positiveInt, {
      description: 'Size of each Redis volume claim on Kubernetes, with persistence.',
      unit: 'GiB',
      cost: ['Storage'],
      targets: ['k8s', 'cost'],
    }),
    k8sMode: doc(z.enum(['single', 'sentinel', 'external']).optional(), {
      description:
        'How the Kubernetes target runs Redis/Valkey. `single`: one pod. `sentinel`: a primary and replicas watched by Sentinel, which promotes a replica when the primary fails, behind a proxy that sends clients to whichever is primary. `external`: a server outside the cluster (ElastiCache) at k8sExternalHost.',
      default: 'single',
      cost: ['Cache', 'Storage', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    k8sExternalHost: doc(HOST.optional(), {
      description: "With k8sMode external: the server's host name (an ElastiCache endpoint); the API connects with TLS.",
      defaultText: 'none; required with k8sMode external',
      targets: ['k8s'],
    }),
  }),
  { title: 'redis', description: 'The cache: ElastiCache on AWS; on Kubernetes one pod, a Sentinel group or an external server; a local server.' },
);

/** An IPv4 or IPv6 address or CIDR block, as nginx's `geo` takes it. */
const cidr = z.string().refine(isCidr, { message: 'must be an IPv4 or IPv6 address or CIDR block, such as "10.0.0.0/8" or "fc00::/7"' });

export function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const bits = v4 ? 32 : address.includes(':') && /^[0-9a-f:]+$/i.test(address) && isIpv6(address) ? 128 : 0;
  if (bits === 0) return false;
  if (v4 && v4.slice(1).some((octet) => Number(octet) > 255)) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
}

function isIpv6(address: string): boolean {
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return false;
  return halves.length === 2 ? groups.length < 8 : groups.length === 8;
}

export const nginxSchema = section(
  z.strictObject({
    imageTag: doc(z.string().regex(/^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, { message: 'must be a pinned nginx version such as "1.27.3-alpine"' }), {
      description: 'The nginx version: the official image tag on Kubernetes, the NGINX_VERSION the AWS image is built from, e.g. "1.30.6-alpine". At least 1.27.3 (upstream `resolve`).',
      targets: ['aws', 'k8s'],
    }),
    replicasMin: doc(positiveInt, {
      description: 'Fewest nginx replicas; also divides the API workers into max_conns per nginx. Local runs one nginx.',
      unit: 'replicas',
      cost: ['Load Balancer', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    replicasMax: doc(positiveInt, {
      description: 'Most nginx replicas; an autoscaler (HPA, ECS scaling) is created when replicasMax > replicasMin.',
      unit: 'replicas',
      targets: ['aws', 'k8s'],
    }),
    cpuMillicores: doc(z.number().int().min(1).max(1_024_000, { message: 'must be at most 1024000: nginx runs one worker per core and spawns at most 1024 processes' }), {
      description: 'CPU of one nginx replica (Fargate task size, pod request and limit); one nginx worker process per whole core, at least one.',
      unit: 'millicores',
      cost: ['Load Balancer', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'local', 'cost'],
    }),
    memoryMiB: doc(positiveInt, {
      description: 'Memory of one nginx replica (Fargate task memory, pod request and limit).',
      unit: 'MiB',
      cost: ['Load Balancer', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    workerConnections: doc(z.number().int().min(64).max(65535), {
      description: 'nginx worker_connections: connections one worker process holds, clients and upstreams together; at least twice max_conns.',
      unit: 'connections',
      targets: NGINX_CONF,
    }),
    rateLimitPerClientPerSecond: doc(z.number().int().min(1).max(1_000_000_000), {
      description: 'Sustained requests per second per client IP (limit_req).',
      unit: 'requests/s',
      targets: NGINX_CONF,
    }),
    rateLimitBurst: doc(z.number().int().min(0).max(1_000_000_000), {
      description: 'Requests above the rate that pass at once (limit_req burst); 0 refuses anything above the rate.',
      unit: 'requests',
      targets: NGINX_CONF,
    }),
    connLimitPerClient: doc(z.number().int().min(1).max(65535, { message: 'must be at most 65535: nginx refuses a connection limit of 65536 or more' }), {
      description: 'Concurrent connections per client IP (limit_conn); nginx refuses 65536 and above.',
      unit: 'connections',
      targets: NGINX_CONF,
    }),
    rateLimitExemptCidrs: doc(z.array(cidr).max(256).optional(), {
      description:
        'Client networks that bypass the per-client limits (load generators, internal callers): nginx maps them to an empty limit key, which limit_req and limit_conn do not count.',
      default: [],
      allowed: 'IPv4 or IPv6 addresses or CIDR blocks, such as "10.0.0.0/8" or "fc00::/7"',
      targets: NGINX_CONF,
    }),
    maxFails: doc(z.number().int().min(0).max(100_000).optional(), {
      description:
        "nginx max_fails: failed attempts (connect errors, resets, timeouts) within failTimeoutSeconds that take a replica out; 0 never takes one out. Below the connections one nginx holds to a replica, one killed worker's in-flight requests alone take its replica out.",
      unit: 'attempts',
      defaultText: 'max_conns + 1, where max_conns, the connections one nginx can hold to one replica, is ceil(api.workersPerReplica × api.maxInFlightPerWorker / nginx.replicasMin), at least 1',
      targets: NGINX_CONF,
    }),
    failTimeoutSeconds: doc(z.number().int().min(1).max(3600), {
      description: 'nginx fail_timeout: the window max_fails are counted in, and how long a replica then stays out before nginx tries it again.',
      unit: 'seconds',
      targets: NGINX_CONF,
    }),
    upstreamKeepaliveTimeoutSeconds: doc(positiveInt.optional(), {
      description:
        "nginx closes idle upstream connections after this (upstream keepalive_timeout); a draining API worker waits for that instead of closing them itself (docs/holding-load.md: draining without resets). Below api.keepAliveTimeoutSeconds, and with 10 s to spare within api.gracefulTimeoutSeconds.",
      unit: 'seconds',
      default: 10,
      targets: NGINX_CONF,
    }),
    proxyConnectTimeoutSeconds: doc(z.number().int().min(1).max(75, { message: 'must be at most 75: nginx documents that a connect timeout cannot usually exceed 75 s' }), {
      description: 'nginx proxy_connect_timeout: how long nginx waits to connect to an API replica.',
      unit: 'seconds',
      targets: NGINX_CONF,
    }),
    proxyReadTimeoutSeconds: doc(z.number().int().min(1).max(3600), {
      description: 'nginx proxy_read_timeout: how long nginx waits between two reads of a response; must exceed the longest the app takes to answer (dbAcquireTimeoutMs + statementTimeoutMs + 1 s).',
      unit: 'seconds',
      targets: NGINX_CONF,
    }),
    proxySendTimeoutSeconds: doc(z.number().int().min(1).max(3600), {
      description: 'nginx proxy_send_timeout: how long nginx waits between two writes of a request to a replica.',
      unit: 'seconds',
      targets: NGINX_CONF,
    }),
    proxyNextUpstreamTries: doc(z.number().int().min(1).max(10), {
      description: 'nginx proxy_next_upstream_tries: replicas a request may try, the first included.',
      unit: 'tries',
      targets: NGINX_CONF,
    }),
    proxyNextUpstreamTimeoutSeconds: doc(z.number().int().min(1).max(3600), {
      description: 'nginx proxy_next_upstream_timeout: how long a request may spend trying further replicas; must cover the tries at proxyConnectTimeoutSeconds each.',
      unit: 'seconds',
      targets: NGINX_CONF,
    }),
    clientMaxBodySizeMiB: doc(z.number().int().min(1).max(1024), {
      description: 'Largest request body (client_max_body_size); the API itself takes at most 16 MiB on any route.',
      unit: 'MiB',
      targets: NGINX_CONF,
    }),
    gzipMinLengthBytes: doc(z.number().int().min(1).max(1024 ** 3), {
      description: 'Smallest response nginx compresses (gzip_min_length).',
      unit: 'bytes',
      targets: NGINX_CONF,
    }),
    accessLog: doc(z.union([z.enum(['all', 'errors', 'off']), z.boolean()]).transform((v) => (v === true ? 'all' : v === false ? 'off' : v)), {
      description: 'nginx access log. all: every request; errors: only responses that are not 2xx/3xx; off. true and false mean all and off.',
      targets: NGINX_CONF,
    }),
    autoscalingCpuTargetPercent: doc(percent.optional(), {
      description: 'CPU utilisation the nginx autoscaler holds (HPA, ECS target tracking), with replicasMax > replicasMin.',
      unit: 'percent',
      defaultText: 'api.autoscalingCpuTargetPercent',
      targets: ['aws', 'k8s'],
    }),
    preStopDelaySeconds: doc(nonNegativeInt.optional(), {
      description: 'Kubernetes: delay before nginx starts its graceful quit, so the load balancer stops sending first.',
      unit: 'seconds',
      defaultText: 'api.preStopDelaySeconds',
      targets: ['k8s'],
    }),
  }),
  { title: 'nginx', description: 'The nginx least_conn balancer in front of the API replicas: its replicas and size, per-client limits, passive health checks and proxy timeouts. On AWS it runs behind the NLB (network.loadBalancer nlb).' },
);

export const sloSchema = section(
  z.strictObject({
    availabilityPercent: doc(z.number().gt(0).lt(100), {
      description: 'Availability objective: share of requests answered without a server error, e.g. 99.9; the error-budget burn alerts and dashboards use it.',
      unit: 'percent',
      targets: PROMETHEUS,
    }),
    latencyPercent: doc(z.number().gt(0).lt(100), {
      description: 'Share of requests that must be faster than latencyThresholdSeconds, e.g. 99.',
      unit: 'percent',
      targets: PROMETHEUS,
    }),
    latencyThresholdSeconds: doc(z.number().positive(), {
      description: 'The latency objective: requests faster than this count as good; below nginx.proxyReadTimeoutSeconds.',
      unit: 'seconds',
      targets: PROMETHEUS,
    }),
  }),
  { title: 'monitoring.slo', description: 'Service level objectives the recording and alert rules measure.' },
);

export const alertsSchema = section(
  z.strictObject({
    p95LatencySeconds: doc(z.number().positive(), {
      description: 'Alert when the 95th percentile request latency stays above this.',
      unit: 'seconds',
      targets: PROMETHEUS,
    }),
    errorRatePercent: doc(percent, {
      description: 'Alert when the share of 5xx responses stays above this; load test verdicts use it as their error threshold too.',
      unit: 'percent',
      targets: PROMETHEUS,
    }),
    cacheHitRatioPercent: doc(percent, {
      description: "Alert when the API cache's hit ratio stays below this.",
      unit: 'percent',
      targets: PROMETHEUS,
    }),
    workerMemoryMiB: doc(positiveInt, {
      description: "Alert when a worker's resident memory stays above this.",
      unit: 'MiB',
      targets: PROMETHEUS,
    }),
    cpuPercent: doc(percent, {
      description: 'Alert when an API replica uses more than this share of its vcpuPerReplica (also the RDS CPU alarm on AWS).',
      unit: 'percent',
      targets: PROMETHEUS,
    }),
    dbConnectionsPercent: doc(percent, {
      description: 'Alert when Postgres connections in use stay above this share of max_connections (also the RDS connections alarm on AWS).',
      unit: 'percent',
      targets: PROMETHEUS,
    }),
    workerRestartsPer15m: doc(positiveInt, {
      description: 'Worker restarts (crashes + recycles) in 15 minutes per replica that count as a storm.',
      unit: 'restarts',
      targets: PROMETHEUS,
    }),
  }),
  { title: 'monitoring.alerts', description: 'Thresholds of the alert rules (Prometheus rules on every target, CloudWatch alarms on AWS).' },
);

/** Kubernetes label keys (optional DNS prefix, then a name of 63 characters) and values. @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set */
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, { message: 'must be a Kubernetes label key such as "release" or "example.com/team"' });
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, { message: 'must be a Kubernetes label value: at most 63 letters, digits, "-", "_" or "."' });
const labels = z.record(labelKey, labelValue);

/**
 * What the Prometheus Operator of kube-prometheus-stack, installed by its chart as release
 * `kube-prometheus-stack` into namespace `monitoring`, selects and runs: its Prometheus picks
 * PodMonitors and PrometheusRules labelled `release: RELEASE_NAME`, and its pods carry
 * `app.kubernetes.io/name: prometheus`.
 */
export const PROMETHEUS_OPERATOR_DEFAULTS = Object.freeze({
  selectorLabels: Object.freeze({ release: 'kube-prometheus-stack' }) as Readonly<Record<string, string>>,
  prometheusNamespace: 'monitoring',
  prometheusPodLabels: Object.freeze({ 'app.kubernetes.io/name': 'prometheus' }) as Readonly<Record<string, string>>,
});

export const monitoringSchema = section(
  z.strictObject({
    mode: doc(z.enum(['self-hosted', 'managed']), {
      description: 'AWS: self-hosted runs Prometheus + Grafana as Fargate tasks beside the stack; managed uses Amazon Managed Prometheus and Grafana.',
      cost: ['Monitoring', 'Storage'],
      targets: ['aws', 'cost'],
    }),
    prometheusOperator: doc(z.boolean(), {
      description: 'Kubernetes: the cluster already runs the Prometheus Operator; emit PodMonitors and PrometheusRules for it instead of running a Prometheus and Grafana.',
      cost: ['Monitoring', 'Storage', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    operatorSelectorLabels: doc(labels.optional(), {
      description: "Kubernetes, Prometheus Operator: labels on the PodMonitor and PrometheusRule, which the operator's Prometheus selects them by (kube-prometheus-stack: `release: RELEASE_NAME`).",
      default: PROMETHEUS_OPERATOR_DEFAULTS.selectorLabels,
      allowed: 'Kubernetes label keys and values',
      targets: ['k8s'],
    }),
    operatorPrometheusNamespace: doc(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a namespace name such as "monitoring"' }).optional(), {
      description: 'Kubernetes, Prometheus Operator: the namespace its Prometheus pods run in, let in to the metrics ports.',
      default: PROMETHEUS_OPERATOR_DEFAULTS.prometheusNamespace,
      targets: ['k8s'],
    }),
    operatorPrometheusPodLabels: doc(labels.optional(), {
      description: 'Kubernetes, Prometheus Operator: labels of its Prometheus pods, let in to the metrics ports.',
      default: PROMETHEUS_OPERATOR_DEFAULTS.prometheusPodLabels,
      allowed: 'Kubernetes label keys and values',
      targets: ['k8s'],
    }),
    alertmanagerUrl: doc(
      z.string().regex(/^https?:\/\/[^/:\s]+:\d{1,5}(\/\S*)?$/, { message: 'must be http://HOST:PORT or https://HOST:PORT, optionally with a path, such as "http://alertmanager.monitoring.svc:9093"' }).optional(),
      {
        description: "Kubernetes, self-hosted Prometheus: the Alertmanager its alert rules notify, as `http://HOST:PORT[/PATH]`, e.g. kube-prometheus-stack's `http://alertmanager-operated.monitoring.svc:9093`.",
        defaultText: "none: alerts fire on Prometheus' /alerts page and reach nobody",
        targets: ['k8s'],
      },
    ),
    scrapeIntervalSeconds: doc(positiveInt, {
      description: 'How often Prometheus scrapes (and evaluates rules).',
      unit: 'seconds',
      targets: PROMETHEUS,
    }),
    retentionDays: doc(positiveInt, {
      description: 'How long self-hosted Prometheus keeps samples (--storage.tsdb.retention.time).',
      unit: 'days',
      targets: ['aws', 'k8s'],
    }),
    storageGiB: doc(positiveInt, {
      description: "Self-hosted Prometheus storage: the volume claim on Kubernetes, the EFS size cap on AWS (Prometheus' retention.size keeps within it).",
      unit: 'GiB',
      cost: ['Storage'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    prometheusCpuMillicores: doc(positiveInt, {
      description: 'CPU of self-hosted Prometheus: its Fargate task size, its pod request (the limit is twice this).',
      unit: 'millicores',
      cost: ['Monitoring', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    prometheusMemoryMiB: doc(positiveInt, {
      description: 'Memory of self-hosted Prometheus: its Fargate task memory, its pod request and limit.',
      unit: 'MiB',
      cost: ['Monitoring', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    grafanaCpuMillicores: doc(positiveInt, {
      description: 'CPU of self-hosted Grafana: its Fargate task size, its pod request (the limit is twice this).',
      unit: 'millicores',
      cost: ['Monitoring', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    grafanaMemoryMiB: doc(positiveInt, {
      description: 'Memory of self-hosted Grafana: its Fargate task memory, its pod request and limit.',
      unit: 'MiB',
      cost: ['Monitoring', 'Idle Capacity'],
      targets: ['aws', 'k8s', 'cost'],
    }),
    logRetentionDays: doc(
      z
        .number()
        .int()
        .refine((d) => CLOUDWATCH_LOG_RETENTION_DAYS.includes(d as never), { message: `must be a CloudWatch Logs retention: one of ${CLOUDWATCH_LOG_RETENTION_DAYS.join(', ')}` })
        .optional(),
      {
        description: 'CloudWatch Logs retention for every log group (app, nginx, flow logs).',
        unit: 'days',
        default: 30,
        allowed: `one of ${CLOUDWATCH_LOG_RETENTION_DAYS.join(', ')}`,
        cost: ['Monitoring'],
        targets: ['aws', 'cost'],
      },
    ),
    alarmEmails: doc(z.array(z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, { message: 'must be an email address' })).max(20).optional(), {
      description: 'AWS: addresses subscribed to the paging topic (CloudWatch alarms, and the managed alert manager).',
      defaultText: 'none: subscribe to the AlarmTopicArn output',
      allowed: 'email addresses',
      targets: ['aws'],
    }),
    grafanaEditors: doc(nonNegativeInt, {
      description: 'Amazon Managed Grafana editor users, priced per user-month (mode managed).',
      unit: 'users',
      cost: ['Monitoring'],
      targets: ['cost'],
    }),
    grafanaViewers: doc(nonNegativeInt, {
      description: 'Amazon Managed Grafana viewer users, priced per user-month (mode managed).',
      unit: 'users',
      cost: ['Monitoring'],
      targets: ['cost'],
    }),
    slo: sloSchema,
    alerts: alertsSchema,
  }),
  { title: 'monitoring', description: 'Prometheus and Grafana (self-hosted or managed), log retention, paging, and the objectives and alert thresholds below.' },
);

export const kubernetesSchema = section(
  z.strictObject({
    namespace: doc(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a DNS-1123 label such as "apistack"' }), {
      description: 'The namespace every object is created in; also names the emitted StorageClass.',
      targets: ['k8s'],
    }),
    clusterDomain: doc(z.string().min(1), {
      description: "The cluster's DNS domain (usually cluster.local), for the Services' full names nginx and the pods resolve.",
      targets: ['k8s'],
    }),
    nodeInstanceType: doc(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, { message: 'must look like "m7g.large"' }), {
      description: 'EC2 instance type of the worker nodes, e.g. m7g.large: the nodes the pods are packed onto and priced at, and the architecture the images need.',
      cost: ['Application Servers', 'Load Balancer', 'Database', 'Cache', 'Monitoring', 'Idle Capacity'],
      targets: ['k8s', 'cost'],
    }),
    spareNodes: doc(z.number().int().min(0).max(10), {
      description: 'Extra nodes kept beyond what the pods need, so a node can drain or fail (priced as idle capacity).',
      unit: 'nodes',
      cost: ['Idle Capacity'],
      targets: ['cost'],
    }),
    storageClassName: doc(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: 'must be a DNS-1123 subdomain such as "apistack-gp3"' }).max(253).optional(), {
      description: 'The StorageClass every PVC names.',
      defaultText: 'with storageClassProvisioner, "<namespace>-<storageVolumeType>" (the class apistack emits); without it, none: PVCs take the cluster\'s default StorageClass',
      cost: ['Storage'],
      targets: ['k8s', 'cost'],
    }),
    storageClassProvisioner: doc(z.enum(['ebs.csi.aws.com']).optional(), {
      description:
        'Emit the StorageClass, provisioned by this CSI driver: ebs.csi.aws.com is the EBS CSI driver (an EKS add-on). Other clusters name their own class in storageClassName instead. See https://kubernetes.io/docs/concepts/storage/storage-classes/#aws-ebs',
      defaultText: 'none emitted: the class named (or the cluster default) must exist',
      targets: ['k8s'],
    }),
    storageVolumeType: doc(z.enum(['gp3', 'gp2']).optional(), {
      description: "EBS volume type: the emitted class's `type` parameter, and what the cost model prices every PVC at.",
      default: 'gp3',
      cost: ['Storage'],
      targets: ['k8s', 'cost'],
    }),
    storageEncrypted: doc(z.boolean().optional(), {
      description: 'Encrypt the volumes of the emitted class (EBS encryption with the account\'s default key); only with storageClassProvisioner.',
      default: true,
      targets: ['k8s'],
    }),
    awsNlbAnnotations: doc(z.boolean(), {
      description:
        "Annotate the nginx LoadBalancer Service for an AWS NLB (AWS Load Balancer Controller), with PROXY protocol v2 so nginx sees the client's address; in-cluster callers use the nginx-internal Service, which takes plain HTTP.",
      targets: ['k8s'],
    }),
    awsNlbSourceCidrs: doc(z.array(cidr).min(1).max(16).optional(), {
      description: "The networks the NLB's nodes connect from (the cluster VPC's CIDR): nginx believes the client address of a PROXY header only from these.",
      default: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
      allowed: 'IPv4 or IPv6 addresses or CIDR blocks',
      targets: ['k8s'],
    }),
    ipFamily: doc(z.enum(['ipv4', 'ipv6']).optional(), {
      description: "The cluster's IP family: the Service records nginx resolves (A or AAAA) and the sockets it listens on.",
      default: 'ipv4',
      targets: ['k8s'],
    }),
  }),
  { title: 'kubernetes', description: 'The Kubernetes target: namespace, nodes, storage classes and how nginx is exposed. Read by the charts (and the Kubernetes cost reader) only.' },
);

/** arn:<partition>:acm:<region>:<account>:certificate/<uuid>; the region is the first group. */
export const ACM_CERTIFICATE_ARN = /^arn:aws(?:-cn|-us-gov)?:acm:([a-z]{2}(?:-gov)?-[a-z]+-\d):\d{12}:certificate\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const networkSchema = section(
  z.strictObject({
    availabilityZones: doc(z.number().int().min(1).max(6), {
      description: 'Availability zones the AWS VPC spans (at least 2: RDS and ElastiCache subnet groups need them); priced for load balancer zones on both targets.',
      unit: 'zones',
      cost: ['Network'],
      targets: ['aws', 'cost'],
    }),
    natGateways: doc(z.number().int().min(0).max(6), {
      description: 'NAT gateways: 1 is cheap, one per AZ survives an AZ outage; at most one per AZ, and at least 1 on AWS.',
      unit: 'gateways',
      cost: ['Network'],
      targets: ['aws', 'cost'],
    }),
    loadBalancer: doc(z.enum(['nlb', 'alb']), {
      description: 'AWS: nlb in front of nginx, or alb (least outstanding requests) instead of nginx.',
      cost: ['Load Balancer'],
      targets: ['aws', 'cost'],
    }),
    availabilityZoneNames: doc(
      z.array(z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, { message: 'must be a zone name such as "us-east-1a"' })).min(1).max(6).optional(),
      {
        description: 'AWS: the zones to use, e.g. ["ap-northeast-1a", "ap-northeast-1c"]: one per availabilityZones, all in the region.',
        defaultText: "the region's first availabilityZones zones (regions apistack knows; others must name them)",
        allowed: 'zone names such as "us-east-1a"',
        targets: ['aws'],
      },
    ),
    interfaceEndpoints: doc(z.boolean().optional(), {
      description:
        'AWS: interface endpoints for ECR, CloudWatch Logs and Secrets Manager in every AZ, so that traffic skips the NAT gateways. Each costs about $7.30 a month per AZ, so they pay off from roughly 200 GB a month of NAT processing per endpoint-AZ (docs/deploy-aws.md). The S3 gateway endpoint (free) is always there.',
      default: false,
      cost: ['Network'],
      targets: ['aws', 'cost'],
    }),
    loadBalancerCertificateArn: doc(
      z
        .string()
        .regex(ACM_CERTIFICATE_ARN, { message: 'must be an ACM certificate ARN: "arn:aws:acm:<region>:<12-digit account>:certificate/<id>"' })
        .optional(),
      {
        description:
          "AWS: an ACM certificate for your domain, in the profile's region, for the public load balancer. With it the NLB listens TLS on 443 and writes access logs (NLBs log TLS listeners only); the ALB listens HTTPS on 443 and redirects 80 to it. Point the domain at the LoadBalancerDnsName output. See https://docs.aws.amazon.com/acm/latest/userguide/gs.html",
        defaultText: "none: plain HTTP on port 80, and nginx's access log is the only access log",
        allowed: 'an ACM certificate ARN in the profile\'s region: "arn:aws:acm:<region>:<12-digit account>:certificate/<id>"',
        targets: ['aws'],
      },
    ),
  }),
  { title: 'network', description: 'The AWS network: zones, NAT gateways, the public load balancer and its certificate.' },
);

export const purchaseSchema = section(
  z.strictObject({
    option: doc(z.enum(['on-demand', 'savings-plan', 'reserved']), {
      description: 'How compute is bought: on-demand, a compute savings plan, or reserved instances (RDS, ElastiCache).',
      cost: ['Application Servers', 'Load Balancer', 'Database', 'Cache', 'Monitoring'],
      targets: ['cost'],
    }),
    termYears: doc(z.union([z.literal(1), z.literal(3)]).optional(), {
      description: 'Commitment term of a savings plan or reservation.',
      unit: 'years',
      defaultText: 'none; required with savings-plan and reserved, refused with on-demand',
      cost: ['Application Servers', 'Load Balancer', 'Database', 'Cache', 'Monitoring'],
      targets: ['cost'],
    }),
    payment: doc(z.enum(['no-upfront', 'partial-upfront', 'all-upfront']).optional(), {
      description: 'How a savings plan or reservation is paid.',
      defaultText: 'none; required with savings-plan and reserved, refused with on-demand',
      cost: ['Application Servers', 'Load Balancer', 'Database', 'Cache', 'Monitoring'],
      targets: ['cost'],
    }),
  }),
  { title: 'purchase', description: 'How the capacity is bought, for the cost model.' },
);

export const usageSchema = section(
  z.strictObject({
    requestsPerMonth: doc(z.number().nonnegative().optional(), {
      description: "Requests a month: the ALB's capacity units are priced on them or on the bytes processed, whichever is more.",
      unit: 'requests/month',
      default: 260_000_000,
      cost: ['Load Balancer'],
      targets: ['cost'],
    }),
    dataTransferOutGBPerMonth: doc(z.number().nonnegative().optional(), {
      description: 'Data sent to the internet a month; also the bytes the load balancer capacity units are priced on.',
      unit: 'GB/month',
      default: 500,
      cost: ['Load Balancer', 'Network'],
      targets: ['cost'],
    }),
    logIngestGBPerMonth: doc(z.number().nonnegative().optional(), {
      description: 'Logs ingested into CloudWatch Logs a month, priced for ingestion and for the logRetentionDays they are kept.',
      unit: 'GB/month',
      default: 50,
      cost: ['Monitoring'],
      targets: ['cost'],
    }),
    metricSamplesPerMonth: doc(z.number().nonnegative().optional(), {
      description: 'Metric samples ingested a month, priced with Amazon Managed Prometheus (monitoring.mode managed).',
      unit: 'samples/month',
      default: 525_600_000,
      cost: ['Monitoring'],
      targets: ['cost'],
    }),
    natProcessedGBPerMonth: doc(z.number().nonnegative().optional(), {
      description: 'Data the NAT gateways process a month (image pulls, package updates, AWS API calls from private subnets); refused with natGateways 0.',
      unit: 'GB/month',
      default: 100,
      cost: ['Network'],
      targets: ['cost'],
    }),
  }),
  { title: 'usage', description: 'Traffic figures the cost depends on. An omitted figure takes its default and the cost built on it is marked as an assumption.' },
);

export const profileSchema = section(
  z.strictObject({
    name: doc(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be lowercase letters, digits and dashes' }), {
      description: 'Profile name: names the AWS stacks (apistack-NAME) and their resources, and the local environment.',
      allowed: 'lowercase letters, digits and dashes, starting with a letter or digit',
      targets: ['aws', 'local'],
    }),
    description: doc(z.string(), {
      description: 'What the profile is for, in a sentence; the AWS stack description.',
      targets: ['aws'],
    }),
    region: doc(z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: 'must be an AWS region such as "us-east-1"' }), {
      description: 'AWS region, e.g. us-east-1: where the stacks deploy and whose prices the cost model uses.',
      cost: ['Application Servers', 'Load Balancer', 'Database', 'Cache', 'Storage', 'Monitoring', 'Network', 'Control Plane', 'Idle Capacity'],
      targets: ['aws', 'cost'],
    }),
    api: apiSchema,
    postgres: postgresSchema,
    redis: redisSchema,
    nginx: nginxSchema,
    monitoring: monitoringSchema,
    kubernetes: kubernetesSchema,
    network: networkSchema,
    purchase: purchaseSchema,
    usage: usageSchema,
  }),
  { title: 'profile', description: 'A profile: every sizing choice apistack deploys, prices and load-tests.' },
);

export type ProfileInput = z.input<typeof profileSchema>;
export type Profile = z.output<typeof profileSchema>;
export type ApiProfile = Profile['api'];
export type PostgresProfile = Profile['postgres'];
export type RedisProfile = Profile['redis'];
export type NginxProfile = Profile['nginx'];
export type MonitoringProfile = Profile['monitoring'];
export type KubernetesProfile = Profile['kubernetes'];
export type PurchaseProfile = Profile['purchase'];
export type UsageProfile = Profile['usage'];
