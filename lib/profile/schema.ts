/**
 * The profile schema: every sizing choice apistack deploys, prices and load-tests.
 *
 * Units are in every name (MiB, GiB, Seconds, Millicores, PerMonth). Objects are strict:
 * an unknown key is an error (with a "did you mean" hint), never silently ignored.
 */
import { z } from 'zod';

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

export const scheduledScalingSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be lowercase letters, digits and dashes' }),
  schedule: scheduleExpression,
  /** IANA time zone the schedule is read in. @default UTC */
  timeZone: z.string().min(1).optional(),
  replicasMin: positiveInt,
  replicasMax: positiveInt,
});

export const apiSchema = z.strictObject({
  /** Container image repository for the API. */
  imageRepository: z.string().min(1),
  /** Image tag; `latest` is refused so deploys are reproducible. */
  imageTag: z.string().min(1).refine((tag) => tag !== 'latest', { message: 'must be a pinned tag, not "latest"' }),
  replicasMin: positiveInt,
  replicasMax: positiveInt,
  /** Expected average replicas for pricing; omitted means only min and max are priced. */
  replicasExpected: positiveInt.optional(),
  /** Node worker processes per replica (like gunicorn -w). @default floor(vcpuPerReplica), at least 1 */
  workersPerReplica: z.number().int().min(1).max(256).optional(),
  vcpuPerReplica: z.number().positive(),
  memoryMiBPerReplica: positiveInt,
  cpuArchitecture: z.enum(['x86_64', 'arm64']),
  /** Postgres connections each worker may hold. */
  dbPoolSizePerWorker: z.number().int().min(1).max(1000),
  /** Recycle a worker after this many requests (0 disables), like gunicorn max_requests. */
  maxRequestsPerWorker: nonNegativeInt,
  maxRequestsJitter: nonNegativeInt,
  /** Must stay above every proxy's idle timeout in front of the app (ALB: 60 s). */
  keepAliveTimeoutSeconds: z.number().int().min(1).max(3600),
  /** Time in-flight requests get to finish on SIGTERM. */
  gracefulTimeoutSeconds: z.number().int().min(1).max(3600),
  /** Delay before SIGTERM so load balancers stop routing first. */
  preStopDelaySeconds: nonNegativeInt,
  /** ECS stopTimeout; @default preStopDelaySeconds + gracefulTimeoutSeconds + 5 */
  containerStopTimeoutSeconds: positiveInt.optional(),
  /** Kubernetes terminationGracePeriodSeconds; @default containerStopTimeoutSeconds + 5 */
  terminationGracePeriodSeconds: positiveInt.optional(),
  autoscalingCpuTargetPercent: percent,
  autoscalingMemoryTargetPercent: percent,
  scaleUpStabilizationSeconds: nonNegativeInt,
  scaleDownStabilizationSeconds: nonNegativeInt,
  cacheTtlSeconds: positiveInt,
  /** Hot user entries a starting worker loads before taking traffic; @default 0 (off) */
  cacheWarmupKeys: z.number().int().min(0).max(100_000).optional(),
  authCacheTtlSeconds: positiveInt,
  /** Requests per minute per API key on the events API. */
  rateLimitPerMinute: positiveInt,
  /** Requests one worker serves concurrently before queueing; sizes nginx max_conns. */
  maxInFlightPerWorker: positiveInt,
  /** How long a request waits for a Postgres pool connection before it is answered 503. @default 2000 */
  dbAcquireTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  /** Postgres statement_timeout for the API's queries. @default 5000 */
  statementTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
  /**
   * AWS behind an ALB: scale on requests per task per minute as well as CPU and memory.
   * @default workers × 30,000 (500 requests/s per worker)
   */
  autoscalingRequestsPerTargetPerMinute: positiveInt.optional(),
  /** Capacity changes at known times (business hours, batch windows); AWS applies them as scheduled actions. */
  scheduledScaling: z.array(scheduledScalingSchema).max(20).optional(),
});

export const postgresSchema = z.strictObject({
  /** PostgreSQL major version for RDS and the container image. */
  engineVersion: z
    .string()
    .regex(/^\d+(\.\d+)?$/, { message: 'must look like "16" or "16.4"' })
    .refine(isRdsPostgresVersion, { message: 'must be a PostgreSQL major version RDS runs, 13 to 18' }),
  /** RDS instance class, e.g. db.t4g.medium. */
  instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must look like "db.t4g.medium"' }),
  k8sCpuRequestMillicores: positiveInt,
  k8sCpuLimitMillicores: positiveInt,
  k8sMemoryRequestMiB: positiveInt,
  k8sMemoryLimitMiB: positiveInt,
  storageGiB: z.number().int().min(20, { message: 'RDS needs at least 20 GiB of gp2/gp3 storage' }).max(65536),
  storageType: z.enum(['gp2', 'gp3', 'io1', 'io2']),
  /**
   * Provisioned IOPS, required with io1 and io2 (and priced per IOPS-month); gp2 and gp3 take none.
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#USER_PIOPS
   * @default - none (gp2 and gp3)
   */
  iops: z.number().int().positive().optional(),
  multiAz: z.boolean(),
  backupRetentionDays: z.number().int().min(0).max(35),
  /** Connections kept free for superusers, migrations, exporters and humans. */
  reservedConnections: nonNegativeInt,
  /** AWS: refuse to delete the database (and snapshot it if the stack is destroyed anyway). @default true */
  deletionProtection: z.boolean().optional(),
  /**
   * How the Kubernetes target runs Postgres. `statefulset`: one pod on one zonal volume.
   * `cloudnative-pg`: a CloudNativePG Cluster (the operator must be installed), a primary and, with
   * multiAz, a standby in another zone that takes over on failure. `external`: a database outside
   * the cluster (RDS) at k8sExternalHost. @default statefulset
   */
  k8sMode: z.enum(['statefulset', 'cloudnative-pg', 'external']).optional(),
  /** With k8sMode external: the database's host name (an RDS endpoint); the API connects with TLS. */
  k8sExternalHost: HOST.optional(),
});

export const redisSchema = z.strictObject({
  engine: z.enum(['redis', 'valkey']),
  /** ElastiCache versions: redis 5.0, 6.0, 6.2, 7.0, 7.1; valkey 7.2, 8.0, 8.1 (checked with the engine). */
  engineVersion: z.string().regex(/^\d+\.\d+$/, { message: 'must look like "7.1"' }),
  /** ElastiCache node type, e.g. cache.t4g.small. */
  nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must look like "cache.t4g.small"' }),
  /** Read replicas besides the primary. */
  replicas: z.number().int().min(0).max(5),
  multiAz: z.boolean(),
  k8sCpuRequestMillicores: positiveInt,
  k8sMemoryRequestMiB: positiveInt,
  k8sMemoryLimitMiB: positiveInt,
  /** Percent of the memory limit given to Redis maxmemory; the rest is fork/COW headroom. */
  maxmemoryPercent: z.number().int().min(10).max(95),
  maxmemoryPolicy: z.enum([
    'noeviction',
    'allkeys-lru',
    'allkeys-lfu',
    'allkeys-random',
    'volatile-lru',
    'volatile-lfu',
    'volatile-random',
    'volatile-ttl',
  ]),
  /** Kubernetes: the Redis pods keep their data on a PVC when true, in an emptyDir (lost with the pod) when false. */
  persistence: z.boolean(),
  storageGiB: positiveInt,
  /**
   * How the Kubernetes target runs Redis/Valkey. `single`: one pod. `sentinel`: a primary and
   * replicas watched by Sentinel, which promotes a replica when the primary fails, behind a proxy
   * that sends clients to whichever is primary. `external`: a server outside the cluster
   * (ElastiCache) at k8sExternalHost. @default single
   */
  k8sMode: z.enum(['single', 'sentinel', 'external']).optional(),
  /** With k8sMode external: the server's host name (an ElastiCache endpoint); the API connects with TLS. */
  k8sExternalHost: HOST.optional(),
});

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

export const nginxSchema = z.strictObject({
  imageTag: z.string().regex(/^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, { message: 'must be a pinned nginx version such as "1.27.3-alpine"' }),
  replicasMin: positiveInt,
  /** An HPA is created when replicasMax > replicasMin. */
  replicasMax: positiveInt,
  /** One nginx worker process per whole core requested; nginx spawns at most 1024 processes. */
  cpuMillicores: z.number().int().min(1).max(1_024_000, { message: 'must be at most 1024000: nginx runs one worker per core and spawns at most 1024 processes' }),
  memoryMiB: positiveInt,
  workerConnections: z.number().int().min(64).max(65535),
  /** Sustained requests per second per client IP (limit_req). */
  rateLimitPerClientPerSecond: z.number().int().min(1).max(1_000_000_000),
  /** Requests above the rate that pass at once (limit_req burst); 0 refuses anything above the rate. */
  rateLimitBurst: z.number().int().min(0).max(1_000_000_000),
  /** Concurrent connections per client IP (limit_conn); nginx refuses 65536 and above. */
  connLimitPerClient: z.number().int().min(1).max(65535, { message: 'must be at most 65535: nginx refuses a connection limit of 65536 or more' }),
  /**
   * Client networks that bypass the per-client limits (load generators, internal callers): nginx
   * maps them to an empty limit key, which limit_req and limit_conn do not count. @default [] (none)
   */
  rateLimitExemptCidrs: z.array(cidr).max(256).optional(),
  /**
   * Failed attempts (connect errors, resets, timeouts) within failTimeoutSeconds that take a
   * replica out; 0 never takes one out. Below the connections one nginx holds to a replica, one
   * killed worker's in-flight requests alone take its replica out.
   * @default - one more than the connections one nginx can hold to one replica (max_conns)
   */
  maxFails: z.number().int().min(0).max(100_000).optional(),
  /** The window max_fails are counted in, and how long a replica then stays out before nginx tries it again. */
  failTimeoutSeconds: z.number().int().min(1).max(3600),
  /**
   * nginx closes idle upstream connections after this; a draining API worker waits for that
   * instead of closing them itself (README: draining). @default 10
   */
  upstreamKeepaliveTimeoutSeconds: positiveInt.optional(),
  proxyConnectTimeoutSeconds: z.number().int().min(1).max(75, { message: 'must be at most 75: nginx documents that a connect timeout cannot usually exceed 75 s' }),
  proxyReadTimeoutSeconds: z.number().int().min(1).max(3600),
  proxySendTimeoutSeconds: z.number().int().min(1).max(3600),
  proxyNextUpstreamTries: z.number().int().min(1).max(10),
  proxyNextUpstreamTimeoutSeconds: z.number().int().min(1).max(3600),
  /** Largest request body; the API itself takes at most 16 MiB on any route. */
  clientMaxBodySizeMiB: z.number().int().min(1).max(1024),
  gzipMinLengthBytes: z.number().int().min(1).max(1024 ** 3),
  /** all: every request; errors: only responses that are not 2xx/3xx; off. true and false mean all and off. */
  accessLog: z.union([z.enum(['all', 'errors', 'off']), z.boolean()]).transform((v) => (v === true ? 'all' : v === false ? 'off' : v)),
  /** HPA CPU target for the nginx Deployment; @default api.autoscalingCpuTargetPercent */
  autoscalingCpuTargetPercent: percent.optional(),
  /** Delay before nginx starts its graceful quit, so the load balancer stops sending first; @default api.preStopDelaySeconds */
  preStopDelaySeconds: nonNegativeInt.optional(),
});

export const sloSchema = z.strictObject({
  /** Availability objective, e.g. 99.9. */
  availabilityPercent: z.number().gt(0).lt(100),
  /** Share of requests that must be faster than latencyThresholdSeconds, e.g. 99. */
  latencyPercent: z.number().gt(0).lt(100),
  latencyThresholdSeconds: z.number().positive(),
});

export const alertsSchema = z.strictObject({
  p95LatencySeconds: z.number().positive(),
  errorRatePercent: percent,
  cacheHitRatioPercent: percent,
  workerMemoryMiB: positiveInt,
  cpuPercent: percent,
  dbConnectionsPercent: percent,
  /** Worker restarts (crashes + recycles) in 15 minutes per replica that count as a storm. */
  workerRestartsPer15m: positiveInt,
});

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

export const monitoringSchema = z.strictObject({
  /** self-hosted: Prometheus + Grafana run beside the stack; managed: Amazon Managed Prometheus/Grafana. */
  mode: z.enum(['self-hosted', 'managed']),
  /** Kubernetes: the cluster already runs the Prometheus Operator, emit ServiceMonitor/PrometheusRule. */
  prometheusOperator: z.boolean(),
  /**
   * Kubernetes, Prometheus Operator: labels on the PodMonitor and PrometheusRule, which the
   * operator's Prometheus selects them by (kube-prometheus-stack: `release: RELEASE_NAME`).
   * @default { release: "kube-prometheus-stack" }
   */
  operatorSelectorLabels: labels.optional(),
  /** Kubernetes, Prometheus Operator: the namespace its Prometheus pods run in, let in to the metrics ports. @default monitoring */
  operatorPrometheusNamespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a namespace name such as "monitoring"' }).optional(),
  /** Kubernetes, Prometheus Operator: labels of its Prometheus pods, let in to the metrics ports. @default { "app.kubernetes.io/name": "prometheus" } */
  operatorPrometheusPodLabels: labels.optional(),
  /**
   * Kubernetes, self-hosted Prometheus: the Alertmanager its alert rules notify, as
   * `http://HOST:PORT[/PATH]`, e.g. kube-prometheus-stack's `http://alertmanager-operated.monitoring.svc:9093`.
   * @default - none: alerts fire on Prometheus' /alerts page and reach nobody
   */
  alertmanagerUrl: z.string().regex(/^https?:\/\/[^/:\s]+:\d{1,5}(\/\S*)?$/, { message: 'must be http://HOST:PORT or https://HOST:PORT, optionally with a path, such as "http://alertmanager.monitoring.svc:9093"' }).optional(),
  scrapeIntervalSeconds: positiveInt,
  retentionDays: positiveInt,
  storageGiB: positiveInt,
  prometheusCpuMillicores: positiveInt,
  prometheusMemoryMiB: positiveInt,
  grafanaCpuMillicores: positiveInt,
  grafanaMemoryMiB: positiveInt,
  /** CloudWatch Logs retention for every log group (app, nginx, flow logs). @default 30 */
  logRetentionDays: z
    .number()
    .int()
    .refine((d) => CLOUDWATCH_LOG_RETENTION_DAYS.includes(d as never), { message: `must be a CloudWatch Logs retention: one of ${CLOUDWATCH_LOG_RETENTION_DAYS.join(', ')}` })
    .optional(),
  /** AWS: addresses subscribed to the paging topic (CloudWatch alarms, and the managed alert manager). @default none: subscribe to the AlarmTopicArn output */
  alarmEmails: z.array(z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, { message: 'must be an email address' })).max(20).optional(),
  grafanaEditors: nonNegativeInt,
  grafanaViewers: nonNegativeInt,
  slo: sloSchema,
  alerts: alertsSchema,
});

export const kubernetesSchema = z.strictObject({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a DNS-1123 label such as "apistack"' }),
  clusterDomain: z.string().min(1),
  /** EC2 instance type of the worker nodes, e.g. m7g.large. */
  nodeInstanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/, { message: 'must look like "m7g.large"' }),
  /** Extra nodes kept beyond what the pods need, so a node can drain or fail. */
  spareNodes: z.number().int().min(0).max(10),
  /**
   * The StorageClass every PVC names.
   * @default - with storageClassProvisioner, "<namespace>-<storageVolumeType>" (the class apistack
   * emits); without it, none: PVCs take the cluster's default StorageClass
   */
  storageClassName: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: 'must be a DNS-1123 subdomain such as "apistack-gp3"' }).max(253).optional(),
  /**
   * Emit the StorageClass, provisioned by this CSI driver: ebs.csi.aws.com is the EBS CSI driver
   * (an EKS add-on). Other clusters name their own class in storageClassName instead.
   * @see https://kubernetes.io/docs/concepts/storage/storage-classes/#aws-ebs
   * @default - none emitted: the class named (or the cluster default) must exist
   */
  storageClassProvisioner: z.enum(['ebs.csi.aws.com']).optional(),
  /** EBS volume type: the emitted class's `type` parameter, and what the cost model prices every PVC at. @default gp3 */
  storageVolumeType: z.enum(['gp3', 'gp2']).optional(),
  /** Encrypt the volumes of the emitted class (EBS encryption with the account's default key). @default true */
  storageEncrypted: z.boolean().optional(),
  /**
   * Annotate the nginx LoadBalancer Service for an AWS NLB (AWS Load Balancer Controller), with
   * PROXY protocol v2 so nginx sees the client's address; in-cluster callers use the
   * nginx-internal Service, which takes plain HTTP.
   */
  awsNlbAnnotations: z.boolean(),
  /**
   * The networks the NLB's nodes connect from (the cluster VPC's CIDR): nginx believes the client
   * address of a PROXY header only from these. @default ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
   */
  awsNlbSourceCidrs: z.array(cidr).min(1).max(16).optional(),
  /** The cluster's IP family: the Service records nginx resolves (A or AAAA) and the sockets it listens on. @default "ipv4" */
  ipFamily: z.enum(['ipv4', 'ipv6']).optional(),
});

/** arn:<partition>:acm:<region>:<account>:certificate/<uuid>; the region is the first group. */
export const ACM_CERTIFICATE_ARN = /^arn:aws(?:-cn|-us-gov)?:acm:([a-z]{2}(?:-gov)?-[a-z]+-\d):\d{12}:certificate\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const networkSchema = z.strictObject({
  availabilityZones: z.number().int().min(1).max(6),
  /** NAT gateways: 1 is cheap, one per AZ survives an AZ outage. */
  natGateways: z.number().int().min(0).max(6),
  /** AWS: nlb in front of nginx, or alb (least outstanding requests) instead of nginx. */
  loadBalancer: z.enum(['nlb', 'alb']),
  /** AWS: the zones to use, e.g. ["ap-northeast-1a", "ap-northeast-1c"]. @default the region's first availabilityZones zones */
  availabilityZoneNames: z.array(z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, { message: 'must be a zone name such as "us-east-1a"' })).min(1).max(6).optional(),
  /**
   * AWS: interface endpoints for ECR, CloudWatch Logs and Secrets Manager in every AZ, so that
   * traffic skips the NAT gateways. Each costs about $7.30 a month per AZ, so they pay off from
   * roughly 200 GB a month of NAT processing per endpoint-AZ (README: AWS network). The S3 gateway
   * endpoint (free) is always there. @default false
   */
  interfaceEndpoints: z.boolean().optional(),
  /**
   * AWS: an ACM certificate for your domain, in the profile's region, for the public load balancer.
   * With it the NLB listens TLS on 443 and writes access logs (NLBs log TLS listeners only); the
   * ALB listens HTTPS on 443 and redirects 80 to it. Point the domain at the LoadBalancerDnsName
   * output. @see https://docs.aws.amazon.com/acm/latest/userguide/gs.html
   * @default - none: plain HTTP on port 80, and nginx's access log is the only access log
   */
  loadBalancerCertificateArn: z
    .string()
    .regex(ACM_CERTIFICATE_ARN, { message: 'must be an ACM certificate ARN: "arn:aws:acm:<region>:<12-digit account>:certificate/<id>"' })
    .optional(),
});

export const purchaseSchema = z.strictObject({
  option: z.enum(['on-demand', 'savings-plan', 'reserved']),
  termYears: z.union([z.literal(1), z.literal(3)]).optional(),
  payment: z.enum(['no-upfront', 'partial-upfront', 'all-upfront']).optional(),
});

export const usageSchema = z.strictObject({
  requestsPerMonth: z.number().nonnegative().optional(),
  dataTransferOutGBPerMonth: z.number().nonnegative().optional(),
  logIngestGBPerMonth: z.number().nonnegative().optional(),
  metricSamplesPerMonth: z.number().nonnegative().optional(),
  natProcessedGBPerMonth: z.number().nonnegative().optional(),
});

export const profileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be lowercase letters, digits and dashes' }),
  description: z.string(),
  /** AWS region, e.g. us-east-1. */
  region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: 'must be an AWS region such as "us-east-1"' }),
  api: apiSchema,
  postgres: postgresSchema,
  redis: redisSchema,
  nginx: nginxSchema,
  monitoring: monitoringSchema,
  kubernetes: kubernetesSchema,
  network: networkSchema,
  purchase: purchaseSchema,
  usage: usageSchema,
});

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
