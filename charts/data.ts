/** Postgres (StatefulSet, PVC, migrations Job) and Redis/Valkey, each with its exporter sidecar; credentials come from Secrets the manifests only name. */
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, MIGRATIONS_JOB_RESOURCES, PORTS, type Workload } from '../lib/profile/workloads.ts';
import { API_CONFIG_MAP } from './api.ts';
import { container, DATABASE, emptyDir, execProbe, httpProbe, IMAGES, selectByName, serviceFor, tcpProbe, workloadProps } from './common.ts';
import { dataVolumeClaim, seccompRuntimeDefault } from './patches.ts';
import { secretEnv } from './secrets.ts';

export interface DataChartProps {
  readonly profile: ResolvedProfile;
  readonly apiImage?: string;
}

export class DataChart extends Chart {
  constructor(scope: Construct, id: string, props: DataChartProps) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const workloads = kubernetesWorkloads(p);
    const pgW = workloads.find((w) => w.name === 'postgres')!;
    const redisW = workloads.find((w) => w.name === 'redis')!;
    const pick = (w: Workload, name: string) => w.containers.find((c) => c.name === name)!;

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
    dataVolumeClaim(postgres, { name: 'postgres', container: postgres.containers[0]!, mountPath: '/var/lib/postgresql/data', storageClassName: p.kubernetes.storageClassName, sizeGiB: pgW.volumeGiB! });

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

    // Redis or Valkey: StatefulSet with a PVC when persistent, else a Deployment.
    const persistent = p.redis.persistence;
    const cli = p.redis.engine === 'valkey' ? 'valkey-cli' : 'redis-cli';
    const redisService = serviceFor(this, 'redis-service', { name: 'redis', owner: 'redis', ports: [{ name: 'redis', port: PORTS.redis, targetPort: PORTS.redis }] });
    const redisContainer = container(pick(redisW, 'redis'), {
      image: p.redis.engine === 'valkey' ? `valkey/valkey:${p.redis.engineVersion}-alpine` : `redis:${p.redis.engineVersion}-alpine`,
      command: [p.redis.engine === 'valkey' ? 'valkey-server' : 'redis-server'],
      args: [
        '--requirepass', '$(REDIS_PASSWORD)',
        '--maxmemory', `${p.derived.redis.maxmemoryMiB}mb`,
        '--maxmemory-policy', p.redis.maxmemoryPolicy,
        '--save', persistent ? '300 100' : '',
        '--appendonly', 'no',
        '--dir', '/data',
      ],
      ports: [{ name: 'redis', number: PORTS.redis }],
      envVariables: { REDIS_PASSWORD: secretEnv(this, p, 'redisPassword') },
      startup: tcpProbe(PORTS.redis, { periodSeconds: 2, failureThreshold: 30 }),
      liveness: tcpProbe(PORTS.redis, { periodSeconds: 10 }),
      readiness: execProbe(['sh', '-c', `${cli} --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG`], { periodSeconds: 5 }),
      volumeMounts: persistent ? [] : [{ path: '/data', volume: emptyDir(this, 'data') }],
    });
    const exporterContainer = container(pick(redisW, 'redis-exporter'), {
      image: IMAGES.redisExporter,
      ports: [{ name: 'redis-exporter', number: PORTS.redisExporter }],
      envVariables: {
        REDIS_ADDR: kplus.EnvValue.fromValue(`redis://localhost:${PORTS.redis}`),
        REDIS_PASSWORD: secretEnv(this, p, 'redisPassword'),
      },
      liveness: httpProbe('/health', PORTS.redisExporter, { periodSeconds: 20 }),
      readiness: httpProbe('/metrics', PORTS.redisExporter, { periodSeconds: 20 }),
    });
    if (persistent) {
      const redis = new kplus.StatefulSet(this, 'redis', { ...workloadProps('redis'), service: redisService, replicas: 1, containers: [redisContainer, exporterContainer] });
      selectByName(redis, 'redis');
      seccompRuntimeDefault(redis);
      dataVolumeClaim(redis, { name: 'redis', container: redis.containers[0]!, mountPath: '/data', storageClassName: p.kubernetes.storageClassName, sizeGiB: redisW.volumeGiB! });
    } else {
      const redis = new kplus.Deployment(this, 'redis', { ...workloadProps('redis'), replicas: 1, strategy: kplus.DeploymentStrategy.recreate(), containers: [redisContainer, exporterContainer] });
      selectByName(redis, 'redis');
      seccompRuntimeDefault(redis);
    }
  }
}
