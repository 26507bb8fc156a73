/**
 * The invariants a resolved profile must satisfy, one function per concern. Every check of every
 * target lives here, so `apistack profile validate` lists all of a profile's problems at once and
 * refuses what a synth would: a check that only one deploy target needs is tagged with it, and
 * loading a profile for the other target (lib/profile/load.ts) skips it.
 */
import {
  ALB_IDLE_TIMEOUT_SECONDS,
  BYTES_PER_MIB,
  CLOUD_MAP_MAX_ANSWERS,
  type ConnectionBudget,
  DB_QUERY_DEADLINE_MARGIN_MS,
  type Derived,
  DNS_DEREGISTRATION_SECONDS,
  ECS_MAX_STOP_TIMEOUT_SECONDS,
  FARGATE_MAX,
  fargateMemoryRangeMiB,
  fargateTaskSizeOrUndefined,
  POSTGRES_BYTES_PER_CONNECTION,
  POSTGRES_SUPERUSER_RESERVED_CONNECTIONS,
  RDS_PIOPS,
  TIMEOUT_MARGIN_SECONDS,
} from './derive.ts';
import { AVAILABILITY_ZONE_LETTERS, ELASTICACHE_PARAMETER_FAMILIES, RDS_FAMILIES } from './instances.ts';
import type { DeepReadonly } from './load.ts';
import { ACM_CERTIFICATE_ARN, type Profile as MutableProfile } from './schema.ts';

/** Checks only read the profile: a resolved (frozen) one or a freshly parsed one. */
type Profile = DeepReadonly<MutableProfile>;

/** A deploy target a check can be about. */
export type InvariantTarget = 'aws' | 'k8s';

/** One broken invariant: the field to change, what is wrong, and how to fix it. */
export interface InvariantProblem {
  readonly path: string;
  readonly message: string;
  /** The one deploy target the check is about (the Postgres only it runs, AWS networking); unset: every target. */
  readonly target?: InvariantTarget;
}

/** Records one problem; each concern below reports through it. */
type Report = (path: string, message: string, target?: InvariantTarget) => void;

/** Every broken invariant of the profile, in a stable order (by concern). */
export function checkInvariants(p: Profile, d: Derived): InvariantProblem[] {
  const problems: InvariantProblem[] = [];
  const report: Report = (path, message, target) => problems.push({ path, message, ...(target ? { target } : {}) });
  replicaRanges(p, report);
  cloudMapAnswerLimit(p, d, report);
  fargateSizing(p, d, report);
  connectionBudget(p, d, report);
  databaseStorage(p, report);
  kubernetesResources(p, report);
  availabilityZones(p, report);
  timeoutChain(p, d, report);
  shutdownChain(p, d, report);
  nginxCapacity(p, d, report);
  purchase(p, report);
  scheduledScaling(p, report);
  engineVersions(p, d, report);
  awsNetwork(p, d, report);
  kubernetesData(p, d, report);
  return problems;
}

/** Each min must not exceed its max, and the expected replicas lie between them. */
function replicaRanges(p: Profile, report: Report): void {
  const { api, nginx } = p;
  if (api.replicasMin > api.replicasMax) {
    report('api.replicasMin', `'api.replicasMin' (${api.replicasMin}) must be <= 'api.replicasMax' (${api.replicasMax})`);
  }
  if (api.replicasExpected !== undefined && (api.replicasExpected < api.replicasMin || api.replicasExpected > api.replicasMax)) {
    report('api.replicasExpected', `'api.replicasExpected' (${api.replicasExpected}) must be between replicasMin (${api.replicasMin}) and replicasMax (${api.replicasMax})`);
  }
  if (nginx.replicasMin > nginx.replicasMax) {
    report('nginx.replicasMin', `'nginx.replicasMin' (${nginx.replicasMin}) must be <= 'nginx.replicasMax' (${nginx.replicasMax})`);
  }
}

/**
 * nginx finds the API tasks through Cloud Map DNS, whose answers stop at 8 addresses: the tasks
 * beyond would get no traffic from nginx (nor scrapes from a self-hosted Prometheus).
 */
function cloudMapAnswerLimit(p: Profile, d: Derived, report: Report): void {
  const { api } = p;
  if (p.network.loadBalancer !== 'nlb') return;
  if (api.replicasMax > CLOUD_MAP_MAX_ANSWERS) {
    const workers = d.api.workersPerReplica * api.replicasMax;
    report(
      'api.replicasMax',
      `${api.replicasMax} API tasks behind nginx on AWS, but nginx finds them through Cloud Map DNS, which answers with at most ${CLOUD_MAP_MAX_ANSWERS} addresses: use at most ${CLOUD_MAP_MAX_ANSWERS} larger tasks (e.g. ${CLOUD_MAP_MAX_ANSWERS} of ${Math.ceil(workers / CLOUD_MAP_MAX_ANSWERS)} workers for the same ${workers} workers: raise api.vcpuPerReplica and api.workersPerReplica), or set network.loadBalancer to "alb", whose target group holds every task`,
      'aws',
    );
  }
  for (const schedule of api.scheduledScaling ?? []) {
    if (schedule.replicasMax > CLOUD_MAP_MAX_ANSWERS && api.replicasMax <= CLOUD_MAP_MAX_ANSWERS) {
      report('api.scheduledScaling', `"${schedule.name}" scales to ${schedule.replicasMax} API tasks, above the ${CLOUD_MAP_MAX_ANSWERS} addresses Cloud Map DNS gives nginx; use at most ${CLOUD_MAP_MAX_ANSWERS}`, 'aws');
    }
  }
}

/**
 * The API, nginx and self-hosted Prometheus and Grafana run as Fargate tasks: each needs a size
 * Fargate offers (the API's exactly, the others the smallest that holds them), and the API's
 * workers must not oversubscribe its vCPU.
 */
function fargateSizing(p: Profile, d: Derived, report: Report): void {
  const { api, nginx } = p;
  const range = fargateMemoryRangeMiB(api.vcpuPerReplica);
  if (!range) {
    report('api.vcpuPerReplica', `${api.vcpuPerReplica} is not a Fargate task size; use one of 0.25, 0.5, 1, 2, 4, 8, 16`);
  } else {
    const m = api.memoryMiBPerReplica;
    const ok = range.fixed ? range.fixed.includes(m) : m >= range.min && m <= range.max && m % range.stepMiB === 0;
    if (!ok) {
      const allowed = range.fixed ? range.fixed.join(', ') : `${range.min} to ${range.max} in steps of ${range.stepMiB}`;
      report('api.memoryMiBPerReplica', `${m} MiB is not valid with ${api.vcpuPerReplica} vCPU on Fargate; allowed: ${allowed} MiB`);
    }
  }
  const maxWorkers = Math.max(1, Math.ceil(api.vcpuPerReplica * 2));
  if (d.api.workersPerReplica > maxWorkers) {
    report('api.workersPerReplica', `${d.api.workersPerReplica} workers on ${api.vcpuPerReplica} vCPU oversubscribes the CPU; use at most ${maxWorkers} (one or two per vCPU)`);
  }
  const tasks: { section: 'nginx' | 'monitoring'; name: string; cpu: number; memoryMiB: number }[] = [{ section: 'nginx', name: 'nginx', cpu: nginx.cpuMillicores, memoryMiB: nginx.memoryMiB }];
  if (p.monitoring.mode === 'self-hosted') {
    tasks.push({ section: 'monitoring', name: 'prometheus', cpu: p.monitoring.prometheusCpuMillicores, memoryMiB: p.monitoring.prometheusMemoryMiB });
    tasks.push({ section: 'monitoring', name: 'grafana', cpu: p.monitoring.grafanaCpuMillicores, memoryMiB: p.monitoring.grafanaMemoryMiB });
  }
  for (const { section, name, cpu, memoryMiB } of tasks) {
    if (fargateTaskSizeOrUndefined(cpu, memoryMiB) !== undefined) continue;
    const cpuTooLarge = cpu > FARGATE_MAX.vcpu * 1000;
    const path = section === 'nginx' ? `nginx.${cpuTooLarge ? 'cpuMillicores' : 'memoryMiB'}` : `monitoring.${name}${cpuTooLarge ? 'CpuMillicores' : 'MemoryMiB'}`;
    report(path, `${name} at ${cpu}m CPU and ${memoryMiB} MiB fits no Fargate task size (the largest is ${FARGATE_MAX.vcpu} vCPU with ${FARGATE_MAX.memoryMiB} MiB); use at most ${FARGATE_MAX.vcpu * 1000}m CPU and ${FARGATE_MAX.memoryMiB} MiB`);
  }
}

/**
 * Every worker's pool at api.replicasMax, plus the reserved connections, fits each target's
 * Postgres max_connections; Postgres keeps superuser_reserved_connections the app cannot use.
 */
function connectionBudget(p: Profile, d: Derived, report: Report): void {
  const { postgres } = p;
  if (!Number.isFinite(d.postgres.instanceMemoryGiB)) {
    report(
      'postgres.instanceClass',
      `unknown RDS instance class "${postgres.instanceClass}"; known families (sizes): ${Object.entries(RDS_FAMILIES).map(([f, { sizes }]) => `${f} (${sizes[0]} to ${sizes.at(-1)})`).join(', ')}`,
    );
  } else if (d.postgres.budgetAws.headroom < 0) {
    report('api.dbPoolSizePerWorker', budgetMessage('RDS', `${postgres.instanceClass} (${d.postgres.instanceMemoryGiB} GiB)`, p, d, d.postgres.budgetAws), 'aws');
  }
  if (d.postgres.budgetKubernetes.headroom < 0) {
    report('api.dbPoolSizePerWorker', budgetMessage('Kubernetes', `k8sMemoryLimitMiB ${postgres.k8sMemoryLimitMiB}`, p, d, d.postgres.budgetKubernetes), 'k8s');
  }
  if (postgres.reservedConnections < POSTGRES_SUPERUSER_RESERVED_CONNECTIONS) {
    report(
      'postgres.reservedConnections',
      `${postgres.reservedConnections} is below the ${POSTGRES_SUPERUSER_RESERVED_CONNECTIONS} connections Postgres keeps for superusers (superuser_reserved_connections), so the app would be refused connections the budget promised it; use at least ${POSTGRES_SUPERUSER_RESERVED_CONNECTIONS}`,
    );
  }
  if (d.postgres.maxConnectionsKubernetes <= POSTGRES_SUPERUSER_RESERVED_CONNECTIONS) {
    report(
      'postgres.k8sMemoryLimitMiB',
      `${postgres.k8sMemoryLimitMiB} MiB gives max_connections ${d.postgres.maxConnectionsKubernetes}, and Postgres refuses to start unless max_connections exceeds superuser_reserved_connections (${POSTGRES_SUPERUSER_RESERVED_CONNECTIONS}); use at least ${Math.ceil(((POSTGRES_SUPERUSER_RESERVED_CONNECTIONS + 1) * POSTGRES_BYTES_PER_CONNECTION) / BYTES_PER_MIB)} MiB`,
    );
  }
}

/** RDS storage: provisioned IOPS only (and always) on io1/io2, in the range RDS allows for the volume. */
function databaseStorage(p: Profile, report: Report): void {
  const { postgres } = p;
  const provisionedIops = postgres.storageType === 'io1' || postgres.storageType === 'io2';
  if (provisionedIops && postgres.storageGiB < 100) {
    report('postgres.storageGiB', `${postgres.storageGiB} GiB is below the 100 GiB RDS requires for ${postgres.storageType} storage; use at least 100, or storageType gp3`);
  }
  if (provisionedIops && postgres.iops === undefined) {
    report('postgres.iops', `storageType ${postgres.storageType} bills provisioned IOPS, but postgres.iops is not set; set it (${RDS_PIOPS.min} to ${RDS_PIOPS.max}), or use storageType gp3 (3,000 IOPS included)`);
  }
  if (!provisionedIops && postgres.iops !== undefined) {
    report('postgres.iops', `${postgres.iops} IOPS cannot be provisioned on ${postgres.storageType}; remove postgres.iops, or use storageType io1 or io2`);
  }
  if (provisionedIops && postgres.iops !== undefined) {
    const maxRatio = RDS_PIOPS.maxPerGiB[postgres.storageType as 'io1' | 'io2'];
    const max = Math.min(RDS_PIOPS.max, maxRatio * postgres.storageGiB);
    const min = Math.max(RDS_PIOPS.min, Math.ceil(RDS_PIOPS.minPerGiB * postgres.storageGiB));
    if (postgres.iops < min || postgres.iops > max) {
      report('postgres.iops', `${postgres.iops} IOPS is outside what RDS allows for ${postgres.storageGiB} GiB of ${postgres.storageType}: ${min} to ${max} (${RDS_PIOPS.min} to ${RDS_PIOPS.max}, ${RDS_PIOPS.minPerGiB} to ${maxRatio} per GiB)`);
    }
  }
}

/** Kubernetes requests must not exceed their limits. */
function kubernetesResources(p: Profile, report: Report): void {
  const { postgres, redis } = p;
  if (postgres.k8sCpuRequestMillicores > postgres.k8sCpuLimitMillicores) {
    report('postgres.k8sCpuRequestMillicores', `request (${postgres.k8sCpuRequestMillicores}m) must be <= 'postgres.k8sCpuLimitMillicores' (${postgres.k8sCpuLimitMillicores}m)`);
  }
  if (postgres.k8sMemoryRequestMiB > postgres.k8sMemoryLimitMiB) {
    report('postgres.k8sMemoryRequestMiB', `request (${postgres.k8sMemoryRequestMiB} MiB) must be <= 'postgres.k8sMemoryLimitMiB' (${postgres.k8sMemoryLimitMiB} MiB)`);
  }
  if (redis.k8sMemoryRequestMiB > redis.k8sMemoryLimitMiB) {
    report('redis.k8sMemoryRequestMiB', `request (${redis.k8sMemoryRequestMiB} MiB) must be <= 'redis.k8sMemoryLimitMiB' (${redis.k8sMemoryLimitMiB} MiB)`);
  }
}

/**
 * Multi-AZ places the standby (or replica) in another zone, so it needs two; Multi-AZ
 * ElastiCache needs a replica to fail over to; NAT traffic needs a NAT gateway; and zones are
 * the region's own, one name each.
 */
function availabilityZones(p: Profile, report: Report): void {
  const { network, postgres, redis } = p;
  if (network.availabilityZones < 2) {
    if (postgres.multiAz) report('network.availabilityZones', `1 availability zone cannot hold Multi-AZ Postgres (postgres.multiAz: true puts the standby in a second zone); set network.availabilityZones to 2 or more, or postgres.multiAz to false`);
    if (redis.multiAz) report('network.availabilityZones', `1 availability zone cannot hold Multi-AZ Redis (redis.multiAz: true puts a replica in a second zone); set network.availabilityZones to 2 or more, or redis.multiAz to false`);
  }
  if (redis.multiAz && redis.replicas < 1) {
    report('redis.replicas', `Multi-AZ ElastiCache needs at least 1 replica (got ${redis.replicas}); set redis.replicas to 1 or redis.multiAz to false`);
  }
  if (network.natGateways === 0 && p.usage.natProcessedGBPerMonth !== undefined) {
    report('usage.natProcessedGBPerMonth', `${p.usage.natProcessedGBPerMonth} GB a month through NAT, but network.natGateways is 0, so there is no NAT gateway to process (or price) it; remove usage.natProcessedGBPerMonth, or set network.natGateways to 1 or more`);
  }
  if (network.natGateways > network.availabilityZones) {
    report('network.natGateways', `${network.natGateways} NAT gateways for ${network.availabilityZones} availability zones; use at most one per AZ`);
  }
  const names = network.availabilityZoneNames;
  if (names) {
    if (names.length !== network.availabilityZones) report('network.availabilityZoneNames', `${names.length} zone names for network.availabilityZones ${network.availabilityZones}; give exactly one name per zone`);
    const foreign = names.filter((n) => n.slice(0, -1) !== p.region);
    if (foreign.length) report('network.availabilityZoneNames', `${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not in region ${p.region}`);
    if (new Set(names).size !== names.length) report('network.availabilityZoneNames', 'a zone is named twice; each subnet tier needs distinct zones');
  } else {
    const letters = AVAILABILITY_ZONE_LETTERS[p.region];
    if (letters && network.availabilityZones > letters.length) {
      report('network.availabilityZones', `${p.region} has ${letters.length} availability zones (${[...letters].map((l) => `${p.region}${l}`).join(', ')}); use at most ${letters.length}`);
    }
  }
}

/**
 * Timeout chain: nginx's upstream keepalive_timeout < the app's keep-alive (above the ALB's idle
 * timeout); the app answers a slow request before nginx's read timeout counts it against a
 * healthy replica; the SLO's latency threshold lies below that read timeout.
 */
function timeoutChain(p: Profile, d: Derived, report: Report): void {
  const { api, nginx } = p;
  if (api.keepAliveTimeoutSeconds <= ALB_IDLE_TIMEOUT_SECONDS) {
    report(
      'api.keepAliveTimeoutSeconds',
      `${api.keepAliveTimeoutSeconds} s must be above the ALB idle timeout (${ALB_IDLE_TIMEOUT_SECONDS} s), or the app may close a connection the proxy is reusing; use ${ALB_IDLE_TIMEOUT_SECONDS + TIMEOUT_MARGIN_SECONDS}`,
    );
  }
  if (d.nginx.upstreamKeepaliveTimeoutSeconds >= api.keepAliveTimeoutSeconds) {
    report(
      'nginx.upstreamKeepaliveTimeoutSeconds',
      `nginx upstream keepalive_timeout (${d.nginx.upstreamKeepaliveTimeoutSeconds} s) must be below the app's keep-alive timeout (api.keepAliveTimeoutSeconds = ${api.keepAliveTimeoutSeconds} s); use ${api.keepAliveTimeoutSeconds - 5} or less`,
    );
  }
  if (d.api.slowestAnswerSeconds >= nginx.proxyReadTimeoutSeconds) {
    report(
      'nginx.proxyReadTimeoutSeconds',
      `${nginx.proxyReadTimeoutSeconds} s must exceed the longest the app takes to answer, api.dbAcquireTimeoutMs + api.statementTimeoutMs + ${DB_QUERY_DEADLINE_MARGIN_MS} ms (the query deadline's margin) = ${d.api.slowestAnswerSeconds} s, or nginx times slow requests out and counts them against healthy replicas; raise it to ${Math.ceil(d.api.slowestAnswerSeconds) + TIMEOUT_MARGIN_SECONDS} or lower the app's timeouts`,
    );
  }
  if (nginx.proxyConnectTimeoutSeconds * nginx.proxyNextUpstreamTries > nginx.proxyNextUpstreamTimeoutSeconds + nginx.proxyConnectTimeoutSeconds) {
    report(
      'nginx.proxyNextUpstreamTimeoutSeconds',
      `${nginx.proxyNextUpstreamTimeoutSeconds} s cannot cover ${nginx.proxyNextUpstreamTries} tries of ${nginx.proxyConnectTimeoutSeconds} s connect timeout; raise it to ${nginx.proxyConnectTimeoutSeconds * (nginx.proxyNextUpstreamTries - 1)} or lower the tries`,
    );
  }
  if (p.monitoring.slo.latencyThresholdSeconds >= nginx.proxyReadTimeoutSeconds) {
    report('monitoring.slo.latencyThresholdSeconds', `${p.monitoring.slo.latencyThresholdSeconds} s is not below nginx.proxyReadTimeoutSeconds (${nginx.proxyReadTimeoutSeconds} s)`);
  }
}

/**
 * Shutdown chain: a draining worker waits for nginx to close its idle connections within its
 * graceful timeout (otherwise it closes them itself, racing requests); graceful timeout < the
 * container stop timeout (at most Fargate's) < the termination grace period.
 */
function shutdownChain(p: Profile, d: Derived, report: Report): void {
  const { api } = p;
  if (d.api.drainIdleTimeoutSeconds + TIMEOUT_MARGIN_SECONDS > api.gracefulTimeoutSeconds) {
    report(
      'nginx.upstreamKeepaliveTimeoutSeconds',
      `nginx upstream keepalive_timeout (${d.nginx.upstreamKeepaliveTimeoutSeconds} s) + ${2 * TIMEOUT_MARGIN_SECONDS} s must fit in api.gracefulTimeoutSeconds (${api.gracefulTimeoutSeconds} s), or a draining worker is killed before nginx has closed its idle connections; use ${Math.max(1, api.gracefulTimeoutSeconds - 2 * TIMEOUT_MARGIN_SECONDS)} or less, or raise api.gracefulTimeoutSeconds`,
    );
  }
  const minStop = d.api.shutdownDelaySeconds + api.gracefulTimeoutSeconds;
  if (d.api.containerStopTimeoutSeconds <= minStop) {
    report(
      'api.containerStopTimeoutSeconds',
      `${d.api.containerStopTimeoutSeconds} s must exceed the shutdown delay + gracefulTimeoutSeconds (${d.api.shutdownDelaySeconds} + ${api.gracefulTimeoutSeconds} = ${minStop} s; the delay is the longer of preStopDelaySeconds and the ${DNS_DEREGISTRATION_SECONDS} s nginx may still send to a task that left Cloud Map), or in-flight requests are killed; use ${minStop + TIMEOUT_MARGIN_SECONDS}`,
    );
  }
  if (d.api.containerStopTimeoutSeconds > ECS_MAX_STOP_TIMEOUT_SECONDS) {
    report('api.containerStopTimeoutSeconds', `${d.api.containerStopTimeoutSeconds} s exceeds the Fargate maximum stopTimeout (${ECS_MAX_STOP_TIMEOUT_SECONDS} s); lower api.gracefulTimeoutSeconds or api.preStopDelaySeconds`);
  }
  if (d.api.terminationGracePeriodSeconds <= d.api.containerStopTimeoutSeconds) {
    report('api.terminationGracePeriodSeconds', `${d.api.terminationGracePeriodSeconds} s must exceed the container stop timeout (${d.api.containerStopTimeoutSeconds} s); use ${d.api.containerStopTimeoutSeconds + TIMEOUT_MARGIN_SECONDS}`);
  }
}

/** An nginx worker holds max_conns upstream connections and as many client connections. */
function nginxCapacity(p: Profile, d: Derived, report: Report): void {
  const { nginx } = p;
  if (d.nginx.maxConnsPerUpstreamServer > nginx.workerConnections / 2) {
    report('nginx.workerConnections', `${nginx.workerConnections} worker connections cannot hold max_conns ${d.nginx.maxConnsPerUpstreamServer} upstream plus as many client connections; use at least ${d.nginx.maxConnsPerUpstreamServer * 2}`);
  }
}

/** On-demand takes no term or payment; a commitment needs both. */
function purchase(p: Profile, report: Report): void {
  const { option, termYears, payment } = p.purchase;
  if (option === 'on-demand') {
    if (termYears !== undefined || payment !== undefined) report('purchase.option', `on-demand takes no termYears or payment; remove them or choose "savings-plan" or "reserved"`);
    return;
  }
  if (termYears === undefined) report('purchase.termYears', `${option} needs a term: 1 or 3`);
  if (payment === undefined) report('purchase.payment', `${option} needs a payment: no-upfront, partial-upfront or all-upfront`);
}

/** Each schedule is a valid range within api.replicasMax (what the connection budget and max_conns are sized for), under its own name. */
function scheduledScaling(p: Profile, report: Report): void {
  const schedules = p.api.scheduledScaling ?? [];
  for (const [i, schedule] of schedules.entries()) {
    const path = `api.scheduledScaling.${i}`;
    if (schedule.replicasMin > schedule.replicasMax) report(`${path}.replicasMin`, `'${path}.replicasMin' (${schedule.replicasMin}) must be <= '${path}.replicasMax' (${schedule.replicasMax})`);
    if (schedule.replicasMax > p.api.replicasMax) report(`${path}.replicasMax`, `${schedule.replicasMax} is above api.replicasMax (${p.api.replicasMax}), which the connection budget is sized for; raise api.replicasMax or lower the schedule`);
  }
  const names = schedules.map((schedule) => schedule.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) report('api.scheduledScaling', `schedule name "${repeated}" is used twice; each scheduled action needs its own name`);
}

/** The cache engine version must be one ElastiCache has a parameter family for. */
function engineVersions(p: Profile, d: Derived, report: Report): void {
  if (d.redis.parameterFamily !== undefined) return;
  const versions = Object.keys(ELASTICACHE_PARAMETER_FAMILIES[p.redis.engine]);
  report('redis.engineVersion', `${p.redis.engine} ${p.redis.engineVersion} is not a version apistack deploys on ElastiCache; use one of ${versions.join(', ')}`);
}

/**
 * What the AWS stack needs of the network: two zones for the RDS and ElastiCache subnet groups,
 * a NAT gateway for the private subnets' way to AWS APIs, zone names it can put in the template
 * without an account lookup, and a certificate from the load balancer's own region.
 */
function awsNetwork(p: Profile, d: Derived, report: Report): void {
  const { network } = p;
  if (network.availabilityZones < 2) {
    report('network.availabilityZones', `1 availability zone, but RDS and ElastiCache subnet groups need subnets in at least 2 availability zones on AWS; set it to 2 or more`, 'aws');
  }
  if (network.natGateways < 1) {
    report(
      'network.natGateways',
      `0 NAT gateways, but the tasks reach ECR (their images), CloudWatch Logs, Secrets Manager and other AWS APIs from private subnets, and the load-test runners reach the public load balancer; set it to 1 (or one per AZ for HA)`,
      'aws',
    );
  }
  if (d.network.availabilityZoneNames === undefined) {
    report('network.availabilityZoneNames', `the availability zones of ${p.region} are not known here; list them, e.g. ["${p.region}a", "${p.region}b"]`, 'aws');
  }
  const certificateRegion = network.loadBalancerCertificateArn?.match(ACM_CERTIFICATE_ARN)?.[1];
  if (certificateRegion !== undefined && certificateRegion !== p.region) {
    report('network.loadBalancerCertificateArn', `the certificate is in ${certificateRegion}, not in the profile's region ${p.region}; a load balancer can use only an ACM certificate from its own region: request or import one in ${p.region}`);
  }
}

/** What the Kubernetes target's data services must be for what the profile claims. */
function kubernetesData(p: Profile, d: Derived, report: Report): void {
  const k = d.kubernetes;
  if (p.postgres.multiAz && k.postgresMode === 'statefulset') {
    report('postgres.k8sMode', `postgres.multiAz is true, but "statefulset" runs one Postgres pod on one zonal volume: a node drain or a zone loss stops the database; set "cloudnative-pg" (a primary and a standby in another zone; needs the CloudNativePG operator) or "external" with postgres.k8sExternalHost (RDS Multi-AZ), or set postgres.multiAz to false`, 'k8s');
  }
  if (p.redis.multiAz && k.redisMode === 'single') {
    report('redis.k8sMode', `redis.multiAz is true, but "single" runs one Redis pod: a node drain or a zone loss stops the cache, the rate limits and invalidations; set "sentinel" (replicas with automatic failover) or "external" with redis.k8sExternalHost (ElastiCache Multi-AZ), or set redis.multiAz to false`, 'k8s');
  }
  for (const [service, mode] of [['postgres', k.postgresMode], ['redis', k.redisMode]] as const) {
    const host = p[service].k8sExternalHost;
    if (mode === 'external' && host === undefined) report(`${service}.k8sExternalHost`, `${service}.k8sMode is "external": name the endpoint the API connects to (from the AWS stack's outputs or the console)`, 'k8s');
    if (mode !== 'external' && host !== undefined) report(`${service}.k8sExternalHost`, `is set, but ${service}.k8sMode is "${mode}", which runs ${service} in the cluster; set ${service}.k8sMode to "external" or remove the host`, 'k8s');
  }
  if (!k.emitStorageClass && p.kubernetes.storageEncrypted !== undefined) {
    report('kubernetes.storageEncrypted', 'applies only to the StorageClass apistack emits: set kubernetes.storageClassProvisioner, or encrypt the class named in kubernetes.storageClassName', 'k8s');
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
