/**
 * Postgres (a StatefulSet, or a CloudNativePG Cluster, or an external endpoint), the migrations
 * Job, and Redis/Valkey (a StatefulSet, with Sentinel and a primary-following proxy when the
 * profile asks for failover, or an external endpoint), each with its exporter; the StorageClass
 * the claims name, when the profile emits one. Credentials come from Secrets the manifests only name.
 */
import { createHash } from 'node:crypto';
import { ApiObject, Chart, Duration, JsonPatch, Size, type ApiObjectProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, MIGRATIONS_JOB_RESOURCES, PORTS, POSTGRES_HA_CLUSTER, REDIS_PROXY, type Workload } from '../lib/profile/workloads.ts';
import { API_CONFIG_MAP } from './api.ts';
import { container, DATABASE, emptyDir, execProbe, httpProbe, IMAGES, labels, manifest, meta, selectByName, selector, serviceFor, tcpProbe, workloadProps } from './common.ts';
import { dataVolumeClaim, policyOpenToAnyPeer, preferredTopologySpread, seccompRuntimeDefault } from './patches.ts';
import type { ClusterPrerequisite } from './prerequisites.ts';
import { secretEnv } from './secrets.ts';

export interface DataChartProps {
  readonly profile: ResolvedProfile;
  readonly apiImage?: string;
}

/** The Service that governs the Redis StatefulSet (stable pod DNS names for replication and Sentinel). */
export const REDIS_HEADLESS_SERVICE = 'redis-headless';
export const REDIS_CONFIG_MAP = 'redis-config';
/** The name Sentinel knows the Redis primary by. */
export const SENTINEL_MASTER_NAME = 'apistack';
/** CloudNativePG's instance manager serves its status (used by the operator and the other instances) here. */
const CNPG_STATUS_PORT = 8000;
/** Where the CloudNativePG operator runs when installed from its release manifest or Helm chart. */
export const CNPG_OPERATOR_NAMESPACE = 'cnpg-system';

/**
 * What the cluster must already run for this profile's volumes and data services, in the shape
 * `clusterPrerequisites` lists (and `synth` prints). Pure: the profile in, the entries out.
 */
export function dataPrerequisites(p: ResolvedProfile): ClusterPrerequisite[] {
  const k = p.derived.kubernetes;
  const pending = 'postgres-0 (and Prometheus, and a persistent Redis) stay Pending, and every API pod answers /readyz with 503';
  const list: ClusterPrerequisite[] = [];
  if (k.emitStorageClass) {
    list.push({ name: 'storage-class', requirement: `the EBS CSI driver (EKS add-on aws-ebs-csi-driver, with an IAM role for its service account): it provisions the ${k.storageVolumeType} volumes of StorageClass ${k.storageClassName}, which 10-data.yaml creates`, without: pending, check: 'kubectl -n kube-system get deployment ebs-csi-controller' });
  } else if (k.storageClassName !== undefined) {
    list.push({ name: 'storage-class', requirement: `the StorageClass ${k.storageClassName} (kubernetes.storageClassName) with a working provisioner: every PVC names it, and the manifests do not create it`, without: pending, check: `kubectl get storageclass ${k.storageClassName}` });
  } else {
    list.push({ name: 'storage-class', requirement: 'a default StorageClass: the PVCs name none (one marked "(default)"; EKS marks none since 1.30)', without: pending, check: 'kubectl get storageclass' });
  }
  if (k.postgresMode === 'cloudnative-pg') {
    list.push({ name: 'cloudnative-pg', requirement: `the CloudNativePG operator (its CRDs and controller, in namespace ${CNPG_OPERATOR_NAMESPACE}): it runs Cluster ${POSTGRES_HA_CLUSTER}, its failover and its Services`, without: 'kubectl refuses the Cluster kind, or, with the CRDs but no controller, no Postgres starts and the API never reaches postgres-ha-rw', check: `kubectl get crd clusters.postgresql.cnpg.io && kubectl -n ${CNPG_OPERATOR_NAMESPACE} get deployment -l app.kubernetes.io/name=cloudnative-pg` });
  }
  if (k.postgresMode === 'external') {
    list.push({ name: 'external-postgres', requirement: `Postgres at ${p.postgres.k8sExternalHost} reachable from the pods on ${PORTS.postgres} (its security group), with role ${DATABASE.user} and database ${DATABASE.name} and the password in Secret postgres-credentials`, without: 'the migrations never finish and /readyz answers 503', check: `kubectl -n NAMESPACE run pg-check --rm -it --image=postgres:${p.postgres.engineVersion}-alpine -- pg_isready -h ${p.postgres.k8sExternalHost}` });
  }
  if (k.redisMode === 'external') {
    list.push({ name: 'external-redis', requirement: `Redis at ${p.redis.k8sExternalHost} reachable from the pods on ${PORTS.redis} with TLS (its security group), its AUTH token the password in Secret redis-credentials`, without: 'the API cannot cache, rate-limit or invalidate, and /readyz answers 503', check: `kubectl -n NAMESPACE run redis-check --rm -it --image=redis:7-alpine -- redis-cli --tls -h ${p.redis.k8sExternalHost} ping` });
  }
  return list;
}

function storageClass(scope: Construct, p: ResolvedProfile): ApiObject {
  const k = p.derived.kubernetes;
  const object: IStorageClass = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: k.storageClassName!, labels: labels('apistack') },
    provisioner: p.kubernetes.storageClassProvisioner!,
    parameters: { type: k.storageVolumeType, encrypted: String(p.kubernetes.storageEncrypted ?? true), 'csi.storage.k8s.io/fstype': 'ext4' },
    reclaimPolicy: k.storageReclaimPolicy,
    // A claim grows in place (a bigger volumeClaimTemplate needs this, see docs/kubernetes-data.md).
    allowVolumeExpansion: true,
    // The volume is made in the zone the pod is scheduled to, not in a zone chosen before scheduling.
    volumeBindingMode: 'WaitForFirstConsumer',
  };
  const apiObject = new ApiObject(scope, 'storage-class', object as unknown as ApiObjectProps);
  // Cluster-scoped: the chart's namespace does not apply.
  apiObject.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  return apiObject;
}

const redisCli = (p: ResolvedProfile) => (p.redis.engine === 'valkey' ? 'valkey-cli' : 'redis-cli');
const redisServer = (p: ResolvedProfile) => (p.redis.engine === 'valkey' ? 'valkey-server' : 'redis-server');

/** The redis.conf every Redis pod reads; the password comes in through an include written at start, never on a command line. */
export function redisConfig(p: ResolvedProfile): string {
  return [
    `port ${PORTS.redis}`,
    'dir /data',
    `maxmemory ${p.derived.redis.maxmemoryMiB}mb`,
    `maxmemory-policy ${p.redis.maxmemoryPolicy}`,
    p.redis.persistence ? 'save 300 100' : 'save ""',
    'appendonly no',
    // requirepass and masterauth (and, with Sentinel, whom to replicate), written by the start script.
    'include /run/redis/auth.conf',
    '',
  ].join('\n');
}

/** Refuse a password the config quoting cannot carry, so a bad value fails at start with a message, not with a parse error later. */
const PASSWORD_CHECK = `case "$REDIS_PASSWORD" in ''|*'"'*|*'\\'*) echo 'redis-credentials/password must be set and hold no double quote or backslash' >&2; exit 1;; esac`;

/** The fully qualified DNS name of Redis pod `ordinal`, through the headless Service. */
function redisPodHost(p: ResolvedProfile, ordinal: number | string): string {
  return `redis-${ordinal}.${REDIS_HEADLESS_SERVICE}.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}`;
}

/** Shell that sets `master` to the primary the Sentinels report, or pod 0's name when none answers (the first start). */
function discoverMaster(p: ResolvedProfile): string {
  const pods = p.derived.kubernetes.redisPods;
  const hosts = Array.from({ length: pods }, (_, i) => redisPodHost(p, i)).join(' ');
  return [
    'master=""',
    `for host in ${hosts}; do`,
    `  master="$(${redisCli(p)} -h "$host" -p ${PORTS.redisSentinel} --raw sentinel get-master-addr-by-name ${SENTINEL_MASTER_NAME} 2>/dev/null | head -n 1 || true)"`,
    '  [ -n "$master" ] && break',
    'done',
    `[ -n "$master" ] || master=${redisPodHost(p, 0)}`,
  ].join('\n');
}

/** The Redis container's start: the auth include (and with Sentinel, replicaof the primary), then the server on the mounted redis.conf. */
export function redisStartScript(p: ResolvedProfile): string {
  const sentinel = p.derived.kubernetes.redisMode === 'sentinel';
  return [
    'set -eu',
    PASSWORD_CHECK,
    // printf is a shell builtin: the password never becomes a process argument.
    `printf 'requirepass "%s"\\nmasterauth "%s"\\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" > /run/redis/auth.conf`,
    ...(sentinel
      ? [
          `self="$(hostname).${REDIS_HEADLESS_SERVICE}.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}"`,
          discoverMaster(p),
          `printf 'replica-announce-ip "%s"\\n' "$self" >> /run/redis/auth.conf`,
          `[ "$master" = "$self" ] || printf 'replicaof %s ${PORTS.redis}\\n' "$master" >> /run/redis/auth.conf`,
        ]
      : []),
    `exec ${redisServer(p)} /etc/redis/redis.conf`,
  ].join('\n');
}

/** The Sentinel container's start: its config (rewritten by Sentinel as it learns) in memory, then Sentinel. */
export function sentinelStartScript(p: ResolvedProfile): string {
  const quorum = Math.floor(p.derived.kubernetes.redisPods / 2) + 1;
  return [
    'set -eu',
    PASSWORD_CHECK,
    `self="$(hostname).${REDIS_HEADLESS_SERVICE}.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}"`,
    discoverMaster(p),
    '{',
    `  echo 'port ${PORTS.redisSentinel}'`,
    // Pods are known by name: their IPs change on every restart.
    "  echo 'sentinel resolve-hostnames yes'",
    "  echo 'sentinel announce-hostnames yes'",
    `  printf 'sentinel announce-ip "%s"\\n' "$self"`,
    `  printf 'sentinel monitor ${SENTINEL_MASTER_NAME} %s ${PORTS.redis} ${quorum}\\n' "$master"`,
    `  printf 'sentinel auth-pass ${SENTINEL_MASTER_NAME} "%s"\\n' "$REDIS_PASSWORD"`,
    `  echo 'sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 5000'`,
    `  echo 'sentinel failover-timeout ${SENTINEL_MASTER_NAME} 30000'`,
    `  echo 'sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1'`,
    '} > /run/sentinel/sentinel.conf',
    `exec ${redisServer(p)} /run/sentinel/sentinel.conf --sentinel`,
  ].join('\n');
}

/**
 * haproxy.cfg for the proxy in front of Sentinel: every Redis pod is checked for `role:master`
 * each second and only the primary takes connections; on a failover the old primary's sessions
 * are cut so clients reconnect to the new one. The password is read from the environment by
 * HAProxy ("${REDIS_PASSWORD}"), never written into the file.
 */
export function redisProxyConfig(p: ResolvedProfile): string {
  const servers = Array.from({ length: p.derived.kubernetes.redisPods }, (_, i) => `  server redis-${i} ${redisPodHost(p, i)}:${PORTS.redis}`);
  return [
    'global',
    '  log stdout format raw local0 warning',
    'defaults',
    '  mode tcp',
    '  log global',
    '  timeout connect 2s',
    // Subscriptions (cache invalidations) stay open and idle for long.
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 2s',
    'resolvers cluster',
    '  parse-resolv-conf',
    '  hold valid 5s',
    'frontend health',
    '  mode http',
    `  bind :${REDIS_PROXY_HEALTH_PORT}`,
    '  monitor-uri /healthz',
    '  acl no_primary nbsrv(primary) lt 1',
    '  monitor fail if no_primary',
    'frontend redis',
    `  bind :${PORTS.redis}`,
    '  default_backend primary',
    'backend primary',
    // One server at a time: while a failover is being noticed (up to 2 s) two may answer role:master; all clients stay on one.
    '  balance first',
    '  option tcp-check',
    '  tcp-check connect',
    '  tcp-check send "AUTH ${REDIS_PASSWORD}"\\r\\n',
    '  tcp-check expect string +OK',
    '  tcp-check send info\\ replication\\r\\n',
    '  tcp-check expect string role:master',
    '  tcp-check send QUIT\\r\\n',
    '  tcp-check expect string +OK',
    '  default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions resolvers cluster init-addr none',
    ...servers,
    '',
  ].join('\n');
}

const REDIS_PROXY_HEALTH_PORT = 8404;

/** At most one pod of `name` down in a voluntary disruption (the common helper's construct id is fixed, and this chart has two). */
function disruptionBudget(scope: Construct, name: string): ApiObject {
  return manifest(scope, `pdb-${name}`, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(name), spec: { maxUnavailable: 1, selector: { matchLabels: selector(name) } } });
}
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const tcp = (...ports: number[]) => ports.map((port) => kplus.NetworkPolicyPort.tcp(port));

export class DataChart extends Chart {
  constructor(scope: Construct, id: string, props: DataChartProps) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const k = p.derived.kubernetes;
    const workloads = kubernetesWorkloads(p);
    const pick = (w: Workload, name: string) => w.containers.find((c) => c.name === name)!;
    const pods = (name: string) => (this.node.tryFindChild(`pods-${name}`) as kplus.Pods | undefined) ?? kplus.Pods.select(this, `pods-${name}`, { labels: selector(name) });
    const policy = (name: string, podSelector: kplus.IPodSelector) => new kplus.NetworkPolicy(this, `policy-${name}`, { metadata: { ...meta(name, 'apistack'), namespace: p.kubernetes.namespace }, selector: podSelector });

    if (k.emitStorageClass) storageClass(this, p);

    if (k.postgresMode === 'statefulset') this.postgresStatefulSet(p, workloads.find((w) => w.name === 'postgres')!, pick);
    if (k.postgresMode === 'cloudnative-pg') {
      this.postgresCluster(p, workloads.find((w) => w.name === POSTGRES_HA_CLUSTER)!);
      // Replication between instances, the operator's calls to each instance, each instance's calls to the Kubernetes API.
      const postgres = policyOpenToAnyPeer(this, 'policy-postgres-ha', { metadata: { ...meta('postgres-ha', 'apistack'), namespace: p.kubernetes.namespace }, selector: pods('postgres') }, 'egress', tcp(443, 6443));
      postgres.addIngressRule(pods('postgres'), tcp(PORTS.postgres, CNPG_STATUS_PORT));
      postgres.addEgressRule(pods('postgres'), tcp(PORTS.postgres, CNPG_STATUS_PORT));
      postgres.addIngressRule(kplus.Namespaces.select(this, 'cnpg-operator', { names: [CNPG_OPERATOR_NAMESPACE] }), tcp(PORTS.postgres, CNPG_STATUS_PORT));
    }
    if (k.postgresMode === 'external') {
      for (const name of ['api', 'migrations']) policyOpenToAnyPeer(this, `policy-${name}-external-postgres`, { metadata: { ...meta(`${name}-external-postgres`, 'apistack'), namespace: p.kubernetes.namespace }, selector: pods(name) }, 'egress', tcp(PORTS.postgres));
    }

    const migrations = new kplus.Job(this, 'migrations', {
      ...workloadProps('migrations'),
      restartPolicy: kplus.RestartPolicy.ON_FAILURE,
      backoffLimit: 10,
      ttlAfterFinished: Duration.seconds(3600),
      containers: [
        container(MIGRATIONS_JOB_RESOURCES, {
          image: props.apiImage ?? `${p.api.imageRepository}:${p.api.imageTag}`,
          args: ['migrate'],
          // The API's own configuration (DATABASE_URL without a password), plus the password.
          envFrom: [kplus.Env.fromConfigMap(kplus.ConfigMap.fromConfigMapName(this, 'api-config', API_CONFIG_MAP))],
          envVariables: { DATABASE_PASSWORD: secretEnv(this, p, 'postgresPassword') },
        }),
      ],
    });
    seccompRuntimeDefault(migrations);

    if (k.redisMode === 'external') {
      policyOpenToAnyPeer(this, 'policy-api-external-redis', { metadata: { ...meta('api-external-redis', 'apistack'), namespace: p.kubernetes.namespace }, selector: pods('api') }, 'egress', tcp(PORTS.redis));
      return;
    }
    this.redisStatefulSet(p, workloads.find((w) => w.name === 'redis')!, pick);
    if (k.redisMode === 'sentinel') {
      this.redisProxy(p, workloads.find((w) => w.name === REDIS_PROXY)!);
      const redis = policy('redis-ha', pods('redis'));
      redis.addIngressRule(pods('redis'), tcp(PORTS.redis, PORTS.redisSentinel));
      redis.addEgressRule(pods('redis'), tcp(PORTS.redis, PORTS.redisSentinel));
      redis.addIngressRule(pods(REDIS_PROXY), tcp(PORTS.redis));
      const proxy = policy(REDIS_PROXY, pods(REDIS_PROXY));
      proxy.addIngressRule(pods('api'), tcp(PORTS.redis));
      proxy.addEgressRule(pods('redis'), tcp(PORTS.redis));
      policy('api-redis-proxy', pods('api')).addEgressRule(pods(REDIS_PROXY), tcp(PORTS.redis));
    }
  }

  private postgresStatefulSet(p: ResolvedProfile, pgW: Workload, pick: (w: Workload, name: string) => Workload['containers'][number]): void {
    // Postgres: the password initialises the data directory at first start only; rotating it means ALTER ROLE too.
    const pgProbe = ['pg_isready', '-U', DATABASE.user, '-d', DATABASE.name, '-h', '127.0.0.1'];
    const pgService = serviceFor(this, 'pg-service', { name: 'postgres', owner: 'postgres', headless: true, ports: [{ name: 'postgres', port: PORTS.postgres, targetPort: PORTS.postgres }] });
    const postgres = new kplus.StatefulSet(this, 'postgres', {
      ...workloadProps('postgres'),
      service: pgService,
      replicas: 1,
      terminationGracePeriod: Duration.seconds(60),
      containers: [
        container(pick(pgW, 'postgres'), {
          image: `postgres:${p.postgres.engineVersion}-alpine`,
          // max_connections from the memory limit, as the connection budget assumes.
          args: ['-c', `max_connections=${p.derived.postgres.maxConnectionsKubernetes}`],
          ports: [{ name: 'postgres', number: PORTS.postgres }],
          envVariables: {
            POSTGRES_USER: kplus.EnvValue.fromValue(DATABASE.user),
            POSTGRES_PASSWORD: secretEnv(this, p, 'postgresPassword'),
            POSTGRES_DB: kplus.EnvValue.fromValue(DATABASE.name),
            PGDATA: kplus.EnvValue.fromValue('/var/lib/postgresql/data/pgdata'),
          },
          startup: execProbe(pgProbe, { periodSeconds: 2, failureThreshold: 60, timeoutSeconds: 3 }),
          liveness: tcpProbe(PORTS.postgres, { periodSeconds: 10, failureThreshold: 6 }),
          readiness: execProbe(pgProbe, { periodSeconds: 5, timeoutSeconds: 3 }),
          volumeMounts: [
            { path: '/var/run/postgresql', volume: emptyDir(this, 'run') },
            { path: '/tmp', volume: emptyDir(this, 'tmp') },
            // Parallel queries share memory through /dev/shm; the runtime's default is 64 MiB. Memory-backed, so it counts against the limit.
            { path: '/dev/shm', volume: kplus.Volume.fromEmptyDir(this, 'shm-volume', 'shm', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(p.derived.kubernetes.postgresShmMiB) }) },
          ],
        }),
        container(pick(pgW, 'postgres-exporter'), {
          image: IMAGES.postgresExporter,
          ports: [{ name: 'pg-exporter', number: PORTS.postgresExporter }],
          // URI, user and password apart, so no connection string with the password is stored anywhere.
          envVariables: {
            DATA_SOURCE_URI: kplus.EnvValue.fromValue(`localhost:${PORTS.postgres}/${DATABASE.name}?sslmode=disable`),
            DATA_SOURCE_USER: kplus.EnvValue.fromValue(DATABASE.user),
            DATA_SOURCE_PASS: secretEnv(this, p, 'postgresPassword'),
          },
          liveness: httpProbe('/', PORTS.postgresExporter, { periodSeconds: 20 }),
          readiness: httpProbe('/metrics', PORTS.postgresExporter, { periodSeconds: 20 }),
        }),
      ],
    });
    selectByName(postgres, 'postgres');
    seccompRuntimeDefault(postgres);
    dataVolumeClaim(postgres, { name: 'postgres', container: postgres.containers[0]!, mountPath: '/var/lib/postgresql/data', storageClassName: p.derived.kubernetes.storageClassName, sizeGiB: pgW.volumeGiB! });
  }

  /**
   * A CloudNativePG Cluster (cdk8s-plus has no construct for it, so a plain ApiObject): the
   * operator runs the instances, streams the standby from the primary, promotes it when the
   * primary fails, points the `<name>-rw` Service at the primary, and writes the owner's
   * password into `<name>-app`.
   * @see https://cloudnative-pg.io/documentation/current/cloudnative-pg.v1/#postgresql-cnpg-io-v1-ClusterSpec
   */
  private postgresCluster(p: ResolvedProfile, w: Workload): void {
    const c = w.containers[0]!;
    const k = p.derived.kubernetes;
    new ApiObject(this, 'postgres-ha', {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: meta(POSTGRES_HA_CLUSTER, 'postgres'),
      spec: {
        instances: k.postgresInstances,
        imageName: `ghcr.io/cloudnative-pg/postgresql:${p.postgres.engineVersion}`,
        primaryUpdateStrategy: 'unsupervised',
        postgresql: { parameters: { max_connections: String(p.derived.postgres.maxConnectionsKubernetes) } },
        bootstrap: { initdb: { database: DATABASE.name, owner: DATABASE.user } },
        storage: { size: `${w.volumeGiB!}Gi`, ...(k.storageClassName !== undefined ? { storageClass: k.storageClassName } : {}) },
        resources: { requests: { cpu: `${c.cpuRequestMillicores}m`, memory: `${c.memoryRequestMiB}Mi` }, limits: { cpu: `${c.cpuLimitMillicores}m`, memory: `${c.memoryLimitMiB}Mi` } },
        ephemeralVolumesSizeLimit: { shm: `${k.postgresShmMiB}Mi` },
        // One instance per zone where the nodes allow it; preferred, so a one-zone cluster still runs both.
        affinity: { enablePodAntiAffinity: true, topologyKey: 'topology.kubernetes.io/zone', podAntiAffinityType: 'preferred' },
        // The name label on the instance pods, which the NetworkPolicies select (api → postgres).
        inheritedMetadata: { labels: labels('postgres') },
      },
    });
  }

  private redisStatefulSet(p: ResolvedProfile, redisW: Workload, pick: (w: Workload, name: string) => Workload['containers'][number]): void {
    const sentinel = p.derived.kubernetes.redisMode === 'sentinel';
    const cli = redisCli(p);
    const image = p.redis.engine === 'valkey' ? `valkey/valkey:${p.redis.engineVersion}-alpine` : `redis:${p.redis.engineVersion}-alpine`;
    const config = redisConfig(p);
    const configMap = new kplus.ConfigMap(this, 'redis-config', { metadata: meta(REDIS_CONFIG_MAP, 'redis'), data: { 'redis.conf': config } });
    const password = { REDIS_PASSWORD: secretEnv(this, p, 'redisPassword') };
    const memory = (name: string) => kplus.Volume.fromEmptyDir(this, `${name}-volume`, name, { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(1) });
    const headless = serviceFor(this, 'redis-headless', { name: REDIS_HEADLESS_SERVICE, owner: 'redis', headless: true, ports: [{ name: 'redis', port: PORTS.redis, targetPort: PORTS.redis }] });
    // Sentinel and replicas find each pod by name before it is ready.
    ApiObject.of(headless).addJsonPatch(JsonPatch.add('/spec/publishNotReadyAddresses', true));
    // Clients: the primary itself, or with Sentinel the proxy that follows it.
    serviceFor(this, 'redis-service', { name: 'redis', owner: sentinel ? REDIS_PROXY : 'redis', ports: [{ name: 'redis', port: PORTS.redis, targetPort: PORTS.redis }] });

    const redisContainer = container(pick(redisW, 'redis'), {
      image,
      command: ['sh', '-c', redisStartScript(p)],
      ports: [{ name: 'redis', number: PORTS.redis }],
      envVariables: password,
      startup: tcpProbe(PORTS.redis, { periodSeconds: 2, failureThreshold: 30 }),
      liveness: tcpProbe(PORTS.redis, { periodSeconds: 10 }),
      // Both CLIs read the password from the environment (valkey-cli under either name), not from -a.
      readiness: execProbe(['sh', '-c', `REDISCLI_AUTH="$REDIS_PASSWORD" VALKEYCLI_AUTH="$REDIS_PASSWORD" ${cli} --no-auth-warning ping | grep -q PONG`], { periodSeconds: 5 }),
      volumeMounts: [
        { path: '/etc/redis', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'redis-config-volume', configMap, { name: 'config' }) },
        // The auth include lives in memory only.
        { path: '/run/redis', volume: memory('auth') },
        ...(p.redis.persistence ? [] : [{ path: '/data', volume: emptyDir(this, 'data') }]),
      ],
    });
    const sentinelContainer = () => container(pick(redisW, 'sentinel'), {
      image,
      command: ['sh', '-c', sentinelStartScript(p)],
      ports: [{ name: 'sentinel', number: PORTS.redisSentinel }],
      envVariables: password,
      liveness: tcpProbe(PORTS.redisSentinel, { periodSeconds: 10 }),
      readiness: execProbe(['sh', '-c', `${cli} -p ${PORTS.redisSentinel} ping | grep -q PONG`], { periodSeconds: 5 }),
      volumeMounts: [{ path: '/run/sentinel', volume: memory('sentinel') }],
    });
    const exporterContainer = container(pick(redisW, 'redis-exporter'), {
      image: IMAGES.redisExporter,
      ports: [{ name: 'redis-exporter', number: PORTS.redisExporter }],
      envVariables: {
        REDIS_ADDR: kplus.EnvValue.fromValue(`redis://localhost:${PORTS.redis}`),
        // redis_exporter reads it from the environment: not on its command line either.
        REDIS_PASSWORD: secretEnv(this, p, 'redisPassword'),
      },
      liveness: httpProbe('/health', PORTS.redisExporter, { periodSeconds: 20 }),
      readiness: httpProbe('/metrics', PORTS.redisExporter, { periodSeconds: 20 }),
    });
    const base = workloadProps('redis');
    // A StatefulSet whether or not it keeps data, so the name `redis` keeps its kind across profiles.
    const redis = new kplus.StatefulSet(this, 'redis', {
      ...base,
      podMetadata: { ...base.podMetadata, annotations: { 'apistack.dev/config-sha256': sha256(config + (sentinel ? sentinelStartScript(p) : '') + redisStartScript(p)) } },
      service: headless,
      replicas: redisW.replicasMin,
      containers: sentinel ? [redisContainer, sentinelContainer(), exporterContainer] : [redisContainer, exporterContainer],
    });
    selectByName(redis, 'redis');
    seccompRuntimeDefault(redis);
    // A drain takes one Redis at a time, so Sentinel keeps its majority and a replica to promote.
    if (sentinel) disruptionBudget(this, 'redis');
    if (p.redis.persistence) dataVolumeClaim(redis, { name: 'redis', container: redis.containers[0]!, mountPath: '/data', storageClassName: p.derived.kubernetes.storageClassName, sizeGiB: redisW.volumeGiB! });
  }

  private redisProxy(p: ResolvedProfile, w: Workload): void {
    const config = redisProxyConfig(p);
    const configMap = new kplus.ConfigMap(this, 'redis-proxy-config', { metadata: meta(`${REDIS_PROXY}-config`, REDIS_PROXY), data: { 'haproxy.cfg': config } });
    const base = workloadProps(REDIS_PROXY);
    const proxy = new kplus.Deployment(this, 'redis-proxy', {
      ...base,
      podMetadata: { ...base.podMetadata, annotations: { 'apistack.dev/config-sha256': sha256(config) } },
      replicas: w.replicasMin,
      containers: [
        container(w.containers[0]!, {
          image: IMAGES.haproxy,
          command: ['haproxy', '-W', '-db', '-f', '/usr/local/etc/haproxy/haproxy.cfg'],
          ports: [
            { name: 'redis', number: PORTS.redis },
            { name: 'health', number: REDIS_PROXY_HEALTH_PORT },
          ],
          envVariables: { REDIS_PASSWORD: secretEnv(this, p, 'redisPassword') },
          liveness: tcpProbe(PORTS.redis, { periodSeconds: 10 }),
          // Ready only while it sees a primary.
          readiness: httpProbe('/healthz', REDIS_PROXY_HEALTH_PORT, { periodSeconds: 2 }),
          volumeMounts: [{ path: '/usr/local/etc/haproxy', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'redis-proxy-config-volume', configMap, { name: 'config' }) }],
        }),
      ],
    });
    selectByName(proxy, REDIS_PROXY);
    seccompRuntimeDefault(proxy);
    disruptionBudget(this, REDIS_PROXY);
    preferredTopologySpread(proxy, REDIS_PROXY, ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
  }
}
