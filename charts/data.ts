/** Postgres (StatefulSet, PVC, credentials, migrations Job) and Redis/Valkey, each with its exporter sidecar. */
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, MIGRATIONS_JOB_RESOURCES, PORTS } from '../lib/profile/workloads.ts';
import { containerSecurityContext, IMAGES, labels, podSecurityContext, resources, secretRef, selector, type SecretValues, manifest, dataVolumeClaim } from './common.ts';

export interface DataChartProps {
  readonly profile: ResolvedProfile;
  readonly secrets: SecretValues;
  readonly apiImage?: string;
}

export class DataChart extends Chart {
  constructor(scope: Construct, id: string, props: DataChartProps) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const workloads = kubernetesWorkloads(p);
    const pgW = workloads.find((w) => w.name === 'postgres')!;
    const redisW = workloads.find((w) => w.name === 'redis')!;
    const pick = (w: typeof pgW, name: string) => w.containers.find((c) => c.name === name)!;

    manifest(this, 'pg-secret', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'postgres-credentials', labels: labels('postgres') },
      type: 'Opaque',
      stringData: {
        username: 'apistack',
        password: props.secrets.postgresPassword,
        'exporter-dsn': `postgresql://apistack:${props.secrets.postgresPassword}@localhost:${PORTS.postgres}/apistack?sslmode=disable`,
      },
    });
    const pgProbe = { exec: { command: ['pg_isready', '-U', 'apistack', '-d', 'apistack', '-h', '127.0.0.1'] }, timeoutSeconds: 3 };
    manifest(this, 'postgres', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'postgres', labels: labels('postgres') },
      spec: {
        serviceName: 'postgres',
        replicas: 1,
        selector: { matchLabels: selector('postgres') },
        template: {
          metadata: { labels: labels('postgres') },
          spec: {
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(),
            terminationGracePeriodSeconds: 60,
            containers: [
              {
                name: 'postgres',
                image: `postgres:${p.postgres.engineVersion}-alpine`,
                // max_connections from the memory limit, as the connection budget assumes.
                args: ['-c', `max_connections=${p.derived.postgres.maxConnectionsKubernetes}`],
                ports: [{ name: 'postgres', containerPort: PORTS.postgres }],
                env: [
                  { name: 'POSTGRES_USER', ...secretRef('postgres-credentials', 'username') },
                  { name: 'POSTGRES_PASSWORD', ...secretRef('postgres-credentials', 'password') },
                  { name: 'POSTGRES_DB', value: 'apistack' },
                  { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
                ],
                resources: resources(pick(pgW, 'postgres')),
                startupProbe: { ...pgProbe, periodSeconds: 2, failureThreshold: 60 },
                livenessProbe: { tcpSocket: { port: 'postgres' }, periodSeconds: 10, failureThreshold: 6 },
                readinessProbe: { ...pgProbe, periodSeconds: 5 },
                securityContext: containerSecurityContext(),
                volumeMounts: [
                  { name: 'data', mountPath: '/var/lib/postgresql/data' },
                  { name: 'run', mountPath: '/var/run/postgresql' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
              {
                name: 'postgres-exporter',
                image: IMAGES.postgresExporter,
                ports: [{ name: 'pg-exporter', containerPort: PORTS.postgresExporter }],
                env: [{ name: 'DATA_SOURCE_NAME', ...secretRef('postgres-credentials', 'exporter-dsn') }],
                resources: resources(pick(pgW, 'postgres-exporter')),
                livenessProbe: { httpGet: { path: '/', port: 'pg-exporter' }, periodSeconds: 20 },
                readinessProbe: { httpGet: { path: '/metrics', port: 'pg-exporter' }, periodSeconds: 20 },
                securityContext: containerSecurityContext(),
              },
            ],
            volumes: [
              { name: 'run', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
        volumeClaimTemplates: [dataVolumeClaim('postgres', p.kubernetes.storageClassName, pgW.volumeGiB!)],
      },
    });
    manifest(this, 'pg-service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'postgres', labels: labels('postgres') },
      spec: { clusterIP: 'None', selector: selector('postgres'), ports: [{ name: 'postgres', port: PORTS.postgres, targetPort: 'postgres' }] },
    });
    manifest(this, 'migrations', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrations', labels: labels('migrations') },
      spec: {
        backoffLimit: 10,
        ttlSecondsAfterFinished: 3600,
        template: {
          metadata: { labels: labels('migrations') },
          spec: {
            restartPolicy: 'OnFailure',
            automountServiceAccountToken: false,
            securityContext: podSecurityContext(),
            containers: [
              {
                name: 'migrate',
                image: props.apiImage ?? `${p.api.imageRepository}:${p.api.imageTag}`,
                args: ['migrate'],
                env: [{ name: 'DATABASE_URL', ...secretRef('api-secrets', 'database-url') }],
                resources: resources(MIGRATIONS_JOB_RESOURCES),
                securityContext: containerSecurityContext(),
              },
            ],
          },
        },
      },
    });

    // Redis or Valkey: StatefulSet with a PVC when persistent, else a Deployment.
    manifest(this, 'redis-secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'redis-credentials', labels: labels('redis') }, type: 'Opaque', stringData: { password: props.secrets.redisPassword } });
    const persistent = p.redis.persistence;
    const image = p.redis.engine === 'valkey' ? `valkey/valkey:${p.redis.engineVersion}-alpine` : `redis:${p.redis.engineVersion}-alpine`;
    const server = p.redis.engine === 'valkey' ? 'valkey-server' : 'redis-server';
    const podSpec = {
      automountServiceAccountToken: false,
      securityContext: podSecurityContext(),
      containers: [
        {
          name: 'redis',
          image,
          command: [server],
          args: [
            '--requirepass', '$(REDIS_PASSWORD)',
            '--maxmemory', `${p.derived.redis.maxmemoryMiB}mb`,
            '--maxmemory-policy', p.redis.maxmemoryPolicy,
            '--save', persistent ? '300 100' : '',
            '--appendonly', 'no',
            '--dir', '/data',
          ],
          ports: [{ name: 'redis', containerPort: PORTS.redis }],
          env: [{ name: 'REDIS_PASSWORD', ...secretRef('redis-credentials', 'password') }],
          resources: resources(pick(redisW, 'redis')),
          startupProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 2, failureThreshold: 30 },
          livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 10 },
          readinessProbe: { exec: { command: ['sh', '-c', `${p.redis.engine === 'valkey' ? 'valkey-cli' : 'redis-cli'} --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG`] }, periodSeconds: 5 },
          securityContext: containerSecurityContext(),
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
        {
          name: 'redis-exporter',
          image: IMAGES.redisExporter,
          ports: [{ name: 'redis-exporter', containerPort: PORTS.redisExporter }],
          env: [
            { name: 'REDIS_ADDR', value: `redis://localhost:${PORTS.redis}` },
            { name: 'REDIS_PASSWORD', ...secretRef('redis-credentials', 'password') },
          ],
          resources: resources(pick(redisW, 'redis-exporter')),
          livenessProbe: { httpGet: { path: '/health', port: 'redis-exporter' }, periodSeconds: 20 },
          readinessProbe: { httpGet: { path: '/metrics', port: 'redis-exporter' }, periodSeconds: 20 },
          securityContext: containerSecurityContext(),
        },
      ],
      volumes: persistent ? [] : [{ name: 'data', emptyDir: {} }],
    };
    manifest(this, 'redis', {
      apiVersion: 'apps/v1',
      kind: persistent ? 'StatefulSet' : 'Deployment',
      metadata: { name: 'redis', labels: labels('redis') },
      spec: {
        ...(persistent ? { serviceName: 'redis' } : { strategy: { type: 'Recreate' } }),
        replicas: 1,
        selector: { matchLabels: selector('redis') },
        template: { metadata: { labels: labels('redis') }, spec: podSpec },
        ...(persistent
          ? {
              volumeClaimTemplates: [dataVolumeClaim('redis', p.kubernetes.storageClassName, redisW.volumeGiB!)],
            }
          : {}),
      },
    });
    manifest(this, 'redis-service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'redis', labels: labels('redis') },
      spec: { type: 'ClusterIP', selector: selector('redis'), ports: [{ name: 'redis', port: PORTS.redis, targetPort: 'redis' }] },
    });
  }
}
