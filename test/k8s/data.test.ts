/**
 * The Kubernetes data services as a cluster receives them: a StorageClass that exists (or the
 * cluster default), HA data where the profile claims Multi-AZ, StatefulSets governed by headless
 * Services, Postgres with a real /dev/shm, and a Redis whose password is on no command line —
 * checked by running the chart's own start script with a real redis-server.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { clusterPrerequisites, dataPrerequisites, initSecrets, kubernetesApp, redisConfig, redisProxyConfig, redisStartScript, renderSecretsYaml, sentinelStartScript, generateSecretValues } from '../../charts/index.ts';
import { Catalog, priceKubernetes, priceKubernetesProfile, type KubernetesCostInputs } from '../../lib/cost/index.ts';
import { storageClassVolumeType } from '../../lib/cost/readers/kubernetes.ts';
import { spawnServer, stopPid, waitFor } from '../../lib/local/process.ts';
import { builtinProfileNames, kubernetesWorkloads, loadProfile, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { freePort, needBinary, startTestRedis, tempDir } from '../helpers/servers.ts';
import { problemsOf } from '../helpers/profile.ts';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; [k: string]: any };

function synth(profile: ResolvedProfile): K8sObject[] {
  const outdir = tempDir('apistack-k8s-data-');
  kubernetesApp({ profile, outdir }).synth();
  return readdirSync(outdir)
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(outdir, f), 'utf8')).map((d) => d.toJSON() as K8sObject))
    .filter(Boolean);
}
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
/** Every claim the cluster will be asked for: StatefulSet templates and CloudNativePG storage. */
const claims = (objects: K8sObject[]) => [
  ...objects.filter((o) => o.kind === 'StatefulSet').flatMap((o) => (o.spec.volumeClaimTemplates ?? []).map((t: any) => ({ owner: o.metadata.name, storageClassName: t.spec.storageClassName as string | undefined }))),
  ...objects.filter((o) => o.kind === 'Cluster').map((o) => ({ owner: o.metadata.name, storageClassName: o.spec.storage.storageClass as string | undefined })),
];

describe('StorageClass', () => {
  it('every claim names a StorageClass the manifests create: EBS CSI gp3, encrypted, bound where the pod lands, expandable', () => {
    for (const name of builtinProfileNames()) {
      const objects = synth(loadProfile(name));
      const classes = objects.filter((o) => o.kind === 'StorageClass');
      expect(classes.map((c) => c.metadata.name), name).toEqual(['apistack-gp3']);
      expect(classes[0]).toMatchObject({ provisioner: 'ebs.csi.aws.com', parameters: { type: 'gp3', encrypted: 'true' }, volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: true });
      expect(classes[0]!.metadata.namespace, 'cluster-scoped').toBeUndefined();
      expect(claims(objects).length, name).toBeGreaterThan(0);
      for (const c of claims(objects)) expect(c.storageClassName, `${name} ${c.owner}`).toBe('apistack-gp3');
    }
  });

  it('keeps the volumes of a protected database (Retain) and drops those of a throwaway one (Delete)', () => {
    expect(find(synth(loadProfile('optimized')), 'StorageClass', 'apistack-gp3')!.reclaimPolicy).toBe('Retain');
    expect(find(synth(loadProfile('loadtest')), 'StorageClass', 'apistack-gp3')!.reclaimPolicy).toBe('Delete');
  });

  it('without a provisioner, claims name the profile class or none (the cluster default), and no class is emitted', () => {
    const defaulted = synth(resolveProfileLayer({ extends: 'optimized', kubernetes: { storageClassProvisioner: null, storageVolumeType: null } }));
    expect(defaulted.filter((o) => o.kind === 'StorageClass')).toEqual([]);
    for (const c of claims(defaulted)) expect(c.storageClassName, c.owner).toBeUndefined();
    const named = synth(resolveProfileLayer({ extends: 'optimized', kubernetes: { storageClassProvisioner: null, storageClassName: 'premium-rwo' } }));
    expect(named.filter((o) => o.kind === 'StorageClass')).toEqual([]);
    for (const c of claims(named)) expect(c.storageClassName, c.owner).toBe('premium-rwo');
  });

  it('names what the cluster must run for it, for synth to print', () => {
    const req = (p: ResolvedProfile) => dataPrerequisites(p).map((x) => x.requirement);
    expect(req(loadProfile('optimized'))).toEqual([expect.stringMatching(/^the EBS CSI driver \(EKS add-on aws-ebs-csi-driver.*StorageClass apistack-gp3, which 10-data\.yaml creates/)]);
    expect(req(loadProfile('production-ha'))).toEqual([expect.stringMatching(/^the EBS CSI driver/), expect.stringMatching(/^the CloudNativePG operator .*cnpg-system/)]);
    expect(req(resolveProfileLayer({ extends: 'optimized', kubernetes: { storageClassProvisioner: null } }))).toEqual([expect.stringMatching(/^a default StorageClass: .*EKS marks none since 1\.30/)]);
    expect(req(resolveProfileLayer({ extends: 'optimized', kubernetes: { storageClassProvisioner: null, storageClassName: 'fast' } }))).toEqual([expect.stringMatching(/^the StorageClass fast \(kubernetes\.storageClassName\)/)]);
    expect(clusterPrerequisites(loadProfile('production-ha')).map((x) => x.name)).toEqual(expect.arrayContaining(['storage-class', 'cloudnative-pg']));
  });

  it('volumes are priced at the EBS type of their class', () => {
    const catalog = Catalog.load();
    const storage = (p: ResolvedProfile) => priceKubernetesProfile(p, catalog, { hoursPerMonth: 730 }).components.find((c) => c.name === 'Storage')!.lines;
    expect(storage(loadProfile('optimized')).map((l) => [l.name, l.priceItem])).toEqual([
      ['PVC postgres-0 (gp3)', 'ebs.gp3'],
      ['PVC prometheus-0 (gp3)', 'ebs.gp3'],
    ]);
    const gp2 = resolveProfileLayer({ extends: 'optimized', kubernetes: { storageVolumeType: 'gp2' } });
    expect(find(synth(gp2), 'StorageClass', 'apistack-gp2')!.parameters.type).toBe('gp2');
    expect(storage(gp2).map((l) => l.priceItem)).toEqual(['ebs.gp2', 'ebs.gp2']);
    expect(() => storageClassVolumeType({ type: 'io2' }, 'fast')).toThrow('StorageClass fast provisions EBS io2 volumes, which have no price here');
  });
});

describe('HA data where the profile claims Multi-AZ', () => {
  const ha = loadProfile('production-ha');
  const objects = synth(ha);

  it('production-ha runs a CloudNativePG Cluster of a primary and a standby, spread over zones, sized by the profile', () => {
    const cluster = find(objects, 'Cluster', 'postgres-ha')!;
    expect(cluster.apiVersion).toBe('postgresql.cnpg.io/v1');
    expect(cluster.spec).toMatchObject({
      instances: 2,
      bootstrap: { initdb: { database: 'apistack', owner: 'apistack' } },
      storage: { size: `${ha.postgres.storageGiB}Gi`, storageClass: 'apistack-gp3' },
      postgresql: { parameters: { max_connections: String(ha.derived.postgres.maxConnectionsKubernetes) } },
      affinity: { enablePodAntiAffinity: true, topologyKey: 'topology.kubernetes.io/zone' },
      inheritedMetadata: { labels: { 'app.kubernetes.io/name': 'postgres' } },
    });
    expect(find(objects, 'StatefulSet', 'postgres')).toBeUndefined();
  });

  it('the API and the migrations follow the primary: <cluster>-rw, and the password from the app Secret CloudNativePG writes', () => {
    const config = find(objects, 'ConfigMap', 'api-config')!.data!;
    expect(new URL(config.DATABASE_URL!).host).toBe('postgres-ha-rw.apistack.svc.cluster.local:5432');
    const ref = (o: K8sObject) => o.spec.template.spec.containers[0].env.find((e: any) => e.name === 'DATABASE_PASSWORD').valueFrom.secretKeyRef;
    expect(ref(find(objects, 'Deployment', 'api')!)).toEqual({ name: 'postgres-ha-app', key: 'password' });
    expect(ref(objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('migrations'))!)).toEqual({ name: 'postgres-ha-app', key: 'password' });
    // secrets init makes no Postgres password the operator would not read.
    expect(initSecrets(ha)).not.toContain('postgresPassword');
    expect(renderSecretsYaml(ha, generateSecretValues(ha))).not.toContain('postgres-credentials');
  });

  it('Redis runs three pods with Sentinel, and the redis Service selects the proxy that follows the primary', () => {
    const redis = find(objects, 'StatefulSet', 'redis')!;
    expect(redis.spec.replicas).toBe(3);
    expect(redis.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['redis', 'sentinel', 'redis-exporter']);
    const sentinel = redis.spec.template.spec.containers[1].command[2] as string;
    expect(sentinel).toContain('sentinel monitor apistack %s 6379 2');
    expect(find(objects, 'Service', 'redis')!.spec.selector).toEqual({ 'app.kubernetes.io/name': 'redis-proxy' });
    const proxy = find(objects, 'Deployment', 'redis-proxy')!;
    expect(proxy.spec.replicas).toBe(2);
    for (const name of ['redis', 'redis-proxy']) expect(find(objects, 'PodDisruptionBudget', name)!.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': name } } });
    const cfg = find(objects, 'ConfigMap', 'redis-proxy-config')!.data!['haproxy.cfg']!;
    expect(cfg).toContain('tcp-check expect string role:master');
    expect(cfg.match(/^ {2}server redis-\d /gm)).toHaveLength(3);
    // HAProxy reads the password from its environment: the file holds only the reference.
    expect(cfg).toContain('"AUTH ${REDIS_PASSWORD}"');
  });

  it('the NetworkPolicies let replication, Sentinel, the proxy and the operator through', () => {
    const policy = (name: string) => find(objects, 'NetworkPolicy', name)!;
    expect(policy('redis-ha').spec.ingress[0].ports.map((p: any) => p.port)).toEqual([6379, 26379]);
    expect(policy('redis-proxy').spec.ingress[0].from[0].podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'api' });
    expect(policy('api-redis-proxy').spec.egress[0].to[0].podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'redis-proxy' });
    const postgres = policy('postgres-ha');
    expect(postgres.spec.ingress.some((r: any) => r.from?.[0]?.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'cnpg-system')).toBe(true);
  });

  it('what is priced is what is deployed: the Cluster, the Sentinel pods and the proxy', () => {
    const cpu = (q: string) => Number(q.replace('m', ''));
    const mem = (q: string) => Number(q.replace('Mi', ''));
    const groups = Object.fromEntries(kubernetesWorkloads(ha).map((w) => [w.name, w.group]));
    const order = kubernetesWorkloads(ha).map((w) => w.name);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'api')!;
    const classType = (name: string | undefined) => storageClassVolumeType(find(objects, 'StorageClass', name ?? '')?.parameters, name ?? '');
    const running = objects
      .filter((o) => ['Deployment', 'StatefulSet', 'Cluster'].includes(o.kind))
      .sort((a, b) => order.indexOf(a.metadata.name) - order.indexOf(b.metadata.name))
      .map((o) =>
        o.kind === 'Cluster'
          ? { name: o.metadata.name, replicas: o.spec.instances, containers: [{ resources: o.spec.resources }], claims: [{ size: o.spec.storage.size, cls: o.spec.storage.storageClass }] }
          : {
              name: o.metadata.name,
              replicas: o.metadata.name === 'api' ? hpa.spec.maxReplicas : (o.spec.replicas ?? find(objects, 'HorizontalPodAutoscaler', o.metadata.name)!.spec.minReplicas),
              containers: o.spec.template.spec.containers,
              claims: (o.spec.volumeClaimTemplates ?? []).map((t: any) => ({ size: t.spec.resources.requests.storage, cls: t.spec.storageClassName })),
            },
      );
    const pods: KubernetesCostInputs['pods'][number][] = [];
    const volumes: KubernetesCostInputs['volumes'][number][] = [];
    for (const w of running) {
      for (let i = 0; i < w.replicas; i++) {
        pods.push({ workload: w.name, group: groups[w.name]!, cpuMillicores: w.containers.reduce((t: number, c: any) => t + cpu(c.resources.requests.cpu), 0), memoryMiB: w.containers.reduce((t: number, c: any) => t + mem(c.resources.requests.memory), 0) });
        for (const c of w.claims) volumes.push({ name: `${w.name}-${i}`, sizeGiB: Number(c.size.replace('Gi', '')), storageClassName: c.cls, volumeType: classType(c.cls) });
      }
    }
    const inputs: KubernetesCostInputs = { profile: ha.name, region: ha.region, nodeInstanceType: ha.kubernetes.nodeInstanceType, spareNodes: ha.kubernetes.spareNodes, pods, volumes, loadBalancerServices: objects.filter((o) => o.kind === 'Service' && o.spec.type === 'LoadBalancer').length, apiReplicas: hpa.spec.maxReplicas };
    const catalog = Catalog.load();
    const fromYaml = priceKubernetes(inputs, ha, catalog, { hoursPerMonth: 730 });
    const fromProfile = priceKubernetesProfile(ha, catalog, { hoursPerMonth: 730, replicas: 'max' });
    expect(fromYaml.components).toEqual(fromProfile.components);
    expect(pods.filter((p) => p.workload === 'postgres-ha')).toHaveLength(2);
    expect(pods.filter((p) => p.workload === 'redis')).toHaveLength(3);
  });

  it('a profile that claims Multi-AZ with single-replica data services on Kubernetes is refused, for the k8s target only', () => {
    expect(problemsOf({ postgres: { multiAz: true } })).toEqual([expect.stringMatching(/^postgres\.k8sMode: postgres\.multiAz is true, but "statefulset" runs one Postgres pod on one zonal volume: .*set "cloudnative-pg"/)]);
    expect(problemsOf({ redis: { multiAz: true, replicas: 1 } })).toEqual([expect.stringMatching(/^redis\.k8sMode: redis\.multiAz is true, but "single" runs one Redis pod: .*set "sentinel"/)]);
    expect(() => resolveProfileLayer({ extends: 'optimized', postgres: { multiAz: true } }, undefined, { target: 'aws' })).not.toThrow();
    expect(problemsOf({ postgres: { k8sMode: 'external' } })).toEqual([expect.stringMatching(/^postgres\.k8sExternalHost: postgres\.k8sMode is "external": name the endpoint/)]);
  });

  it('external endpoints: the API reaches RDS and ElastiCache with TLS through an egress policy', () => {
    const p = resolveProfileLayer({ extends: 'production-ha', postgres: { k8sMode: 'external', k8sExternalHost: 'db.abc.us-east-1.rds.amazonaws.com' }, redis: { k8sMode: 'external', k8sExternalHost: 'cache.abc.use1.cache.amazonaws.com' } });
    const o = synth(p);
    const config = find(o, 'ConfigMap', 'api-config')!.data!;
    expect(config.DATABASE_URL).toBe('postgres://apistack@db.abc.us-east-1.rds.amazonaws.com:5432/apistack?sslmode=require');
    expect(config.REDIS_URL).toBe('rediss://cache.abc.use1.cache.amazonaws.com:6379');
    expect(o.filter((x) => ['StatefulSet', 'Cluster'].includes(x.kind) && ['postgres', 'postgres-ha', 'redis'].includes(x.metadata.name))).toEqual([]);
    expect(find(o, 'NetworkPolicy', 'api-external-postgres')!.spec.egress).toEqual([{ ports: [{ protocol: 'TCP', port: 5432 }] }]);
    expect(kubernetesWorkloads(p).map((w) => w.name)).not.toContain('redis');
    // Not priced here, and said so rather than priced at $0.
    const notIncluded = priceKubernetesProfile(p, Catalog.load(), { hoursPerMonth: 730 }).notIncluded;
    expect(notIncluded).toEqual(expect.arrayContaining([expect.stringMatching(/^the external Postgres at db\.abc.*RDS db\.t4g\.medium Multi-AZ/), expect.stringMatching(/^the external Redis at cache\.abc/)]));
  });
});

describe('pods as the platform runs them', () => {
  it('every built-in object of every built-in profile validates against the Kubernetes OpenAPI schema', async () => {
    for (const name of builtinProfileNames()) {
      for (const o of synth(loadProfile(name)).filter((x) => !['Cluster', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule'].includes(x.kind))) {
        const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
        const mod = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`);
        expect(() => new mod[o.kind](o).validate(), `${name}: ${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    }
  });

  it('every data StatefulSet is governed by a headless Service of the same manifests', () => {
    for (const name of builtinProfileNames()) {
      const objects = synth(loadProfile(name));
      for (const s of objects.filter((o) => o.kind === 'StatefulSet' && ['postgres', 'redis'].includes(o.metadata.name))) {
        const service = find(objects, 'Service', s.spec.serviceName);
        expect(service, `${name}: StatefulSet/${s.metadata.name} serviceName ${s.spec.serviceName}`).toBeDefined();
        expect(service!.spec.clusterIP, `${name}: Service/${s.spec.serviceName}`).toBe('None');
      }
    }
  });

  it('Postgres gets a memory-backed /dev/shm sized from the profile (the runtime default is 64 MiB)', () => {
    const p = loadProfile('optimized');
    const pg = find(synth(p), 'StatefulSet', 'postgres')!.spec.template.spec;
    const mount = pg.containers[0].volumeMounts.find((m: any) => m.mountPath === '/dev/shm');
    expect(pg.volumes.find((v: any) => v.name === mount.name).emptyDir).toEqual({ medium: 'Memory', sizeLimit: `${p.postgres.k8sMemoryLimitMiB / 4}Mi` });
    expect(find(synth(loadProfile('production-ha')), 'Cluster', 'postgres-ha')!.spec.ephemeralVolumesSizeLimit).toEqual({ shm: '1024Mi' });
  });

  it('no container passes a Redis password on its command line, in any built-in profile', () => {
    for (const name of builtinProfileNames()) {
      for (const o of synth(loadProfile(name)).filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind))) {
        for (const c of o.spec.template.spec.containers) {
          // Kubernetes expands $(VAR) in command and args into the process's argv; a shell expands "$VAR" inside itself.
          const argv = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
          expect(argv, `${name} ${o.metadata.name}/${c.name}`).not.toMatch(/\$\([A-Z_]*PASS|\s-a\s|--requirepass/);
          for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) expect(JSON.stringify(probe?.exec ?? {}), `${name} ${o.metadata.name}/${c.name}`).not.toMatch(/\s-a\s/);
        }
      }
    }
  });

  it('the chart\'s Redis start script, run with a real redis-server: the password works and is in no process argument', async () => {
    needBinary('redis-server');
    const cliBin = needBinary('redis-cli');
    const p = loadProfile('optimized');
    const dir = tempDir('apistack-redis-conf-');
    for (const sub of ['etc', 'run', 'data']) mkdirSync(join(dir, sub));
    const port = await freePort();
    // The pod's paths, moved into a temporary directory; the port to a free one.
    writeFileSync(join(dir, 'etc', 'redis.conf'), redisConfig(p).replace('port 6379', `port ${port}\nbind 127.0.0.1`).replace('dir /data', `dir ${join(dir, 'data')}`).replace('/run/redis', join(dir, 'run')));
    const script = redisStartScript({ ...p, redis: { ...p.redis, engine: 'redis' } } as ResolvedProfile).replaceAll('/run/redis', join(dir, 'run')).replace('/etc/redis/redis.conf', join(dir, 'etc', 'redis.conf'));
    const password = 'pw-' + Math.random().toString(36).slice(2);
    const server = spawnServer('sh', ['-c', script], { logFile: join(dir, 'log'), env: { ...process.env, REDIS_PASSWORD: password } });
    try {
      const ping = (env: NodeJS.ProcessEnv) => {
        try {
          return execFileSync(cliBin, ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', 'ping'], { env, encoding: 'utf8' }).trim();
        } catch {
          return '';
        }
      };
      await waitFor('redis from the start script', () => ping({ ...process.env, REDISCLI_AUTH: password }) === 'PONG', { timeoutMs: 10_000, alive: () => server.child.exitCode === null, logFile: server.logFile });
      // The readiness probe's way in: the password from the environment.
      expect(ping({ ...process.env, REDISCLI_AUTH: password })).toBe('PONG');
      expect(ping({ ...process.env, REDISCLI_AUTH: 'wrong' })).not.toBe('PONG');
      const noAuth = execFileSync(cliBin, ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8', env: { ...process.env, REDISCLI_AUTH: '' } }).trim();
      expect(noAuth).toMatch(/NOAUTH/);
      // What `ps` shows of every process on the machine.
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      expect(ps).toContain(`:${port}`);
      expect(ps.includes(password)).toBe(false);
      expect(readFileSync(join(dir, 'run', 'auth.conf'), 'utf8')).toBe(`requirepass "${password}"\nmasterauth "${password}"\n`);
    } finally {
      await stopPid(server.pid);
    }
  });

  it('the start script refuses a password the config cannot quote', () => {
    const script = redisStartScript(loadProfile('optimized'));
    let out = '';
    try {
      execFileSync('sh', ['-c', script], { env: { ...process.env, REDIS_PASSWORD: 'a"b' }, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      out = String((e as { stderr: string }).stderr);
    }
    expect(out).toContain('redis-credentials/password must be set and hold no double quote or backslash');
  });
});

describe('the Sentinel mode proxy, run as HAProxy in front of real Redis servers', () => {
  it('sends clients only to the primary, and follows a failover', async () => {
    const haproxy = needBinary('haproxy');
    const cliBin = needBinary('redis-cli');
    const password = 'pw-' + Math.random().toString(36).slice(2);
    const a = await startTestRedis({ password });
    const b = await startTestRedis({ password });
    const dir = tempDir('apistack-haproxy-');
    const [port, health] = [await freePort(), await freePort()];
    const redis = (p: number, ...args: string[]) => {
      try {
        return execFileSync(cliBin, ['-h', '127.0.0.1', '-p', String(p), ...args], { env: { ...process.env, REDISCLI_AUTH: password }, encoding: 'utf8', stdio: 'pipe' }).trim();
      } catch (e) {
        return String((e as { stdout?: string }).stdout ?? '');
      }
    };
    redis(b.port, 'CONFIG', 'SET', 'masterauth', password);
    redis(b.port, 'REPLICAOF', '127.0.0.1', String(a.port));
    // The chart's config, its pod names swapped for the two loopback servers and its ports for free ones.
    const p = loadProfile('production-ha');
    const rendered = redisProxyConfig(p)
      .split('\n')
      .filter((l) => !/^ {2}server redis-[12] /.test(l))
      .map((l) => (/^ {2}server redis-0 /.test(l) ? `  server a 127.0.0.1:${a.port}\n  server b 127.0.0.1:${b.port}` : l))
      .join('\n')
      .replace('bind :6379', `bind 127.0.0.1:${port}`)
      .replace('bind :8404', `bind 127.0.0.1:${health}`)
      .replace(' resolvers cluster init-addr none', '');
    expect(rendered).not.toContain(password);
    writeFileSync(join(dir, 'haproxy.cfg'), rendered);
    const proxy = spawnServer(haproxy, ['-db', '-f', join(dir, 'haproxy.cfg')], { logFile: join(dir, 'log'), env: { ...process.env, REDIS_PASSWORD: password } });
    const healthy = async () => (await fetch(`http://127.0.0.1:${health}/healthz`).catch(() => undefined))?.status === 200;
    try {
      await waitFor('the proxy to see a primary', healthy, { timeoutMs: 15_000, alive: () => proxy.child.exitCode === null, logFile: proxy.logFile });
      expect(redis(port, 'SET', 'k', 'from-a')).toBe('OK');
      expect(redis(a.port, 'GET', 'k')).toBe('from-a');
      // Failover as Sentinel does it: the replica is promoted, the old primary follows it.
      redis(b.port, 'REPLICAOF', 'NO', 'ONE');
      redis(a.port, 'CONFIG', 'SET', 'masterauth', password);
      redis(a.port, 'REPLICAOF', '127.0.0.1', String(b.port));
      await waitFor('writes through the proxy to reach the new primary', () => redis(port, 'SET', 'k2', 'from-b') === 'OK', { timeoutMs: 15_000, intervalMs: 250 });
      expect(redis(b.port, 'GET', 'k2')).toBe('from-b');
      // From then on every connection lands on the new primary.
      for (let i = 0; i < 5; i++) expect(redis(port, 'CONFIG', 'GET', 'port')).toContain(String(b.port));
      expect(redis(port, 'INFO', 'replication')).toContain('role:master');
    } finally {
      await stopPid(proxy.pid);
      await a.cleanup();
      await b.cleanup();
    }
  });
});

describe('the Sentinel start script, run with a real Redis in Sentinel mode', () => {
  it('monitors the primary the other Sentinels name, authenticates to it, and keeps the password off the command line', async () => {
    needBinary('redis-server');
    const cliBin = needBinary('redis-cli');
    const password = 'pw-' + Math.random().toString(36).slice(2);
    const primary = await startTestRedis({ password });
    const dir = tempDir('apistack-sentinel-');
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'run'));
    // Another pod's Sentinel, as the script asks it: it names the primary (here the loopback server).
    writeFileSync(join(dir, 'bin', 'redis-cli'), '#!/bin/sh\necho 127.0.0.1\necho 6379\n');
    chmodSync(join(dir, 'bin', 'redis-cli'), 0o755);
    const port = await freePort();
    const p = loadProfile('production-ha');
    const script = sentinelStartScript({ ...p, redis: { ...p.redis, engine: 'redis' } } as ResolvedProfile)
      .replaceAll('/run/sentinel', join(dir, 'run'))
      .replaceAll('26379', String(port))
      .replaceAll(' 6379 ', ` ${primary.port} `);
    expect(script).not.toContain(password);
    const sentinel = spawnServer('sh', ['-c', script], { logFile: join(dir, 'log'), env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, REDIS_PASSWORD: password } });
    const ask = (...args: string[]) => {
      try {
        return execFileSync(cliBin, ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', stdio: 'pipe' }).trim();
      } catch {
        return '';
      }
    };
    try {
      await waitFor('sentinel', () => ask('ping') === 'PONG', { timeoutMs: 10_000, alive: () => sentinel.child.exitCode === null, logFile: sentinel.logFile });
      expect(ask('sentinel', 'get-master-addr-by-name', 'apistack').split('\n')).toEqual(['127.0.0.1', String(primary.port)]);
      // Authenticated with auth-pass: the primary is seen up (not subjectively down) and its role known.
      await waitFor('sentinel to see the primary', () => /^master$/m.test(ask('sentinel', 'master', 'apistack')) && !/s_down|disconnected/.test(ask('sentinel', 'master', 'apistack')), { timeoutMs: 10_000, intervalMs: 200 });
      const info = ask('sentinel', 'master', 'apistack');
      expect(info).toMatch(/^quorum\n2$/m);
      expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(password)).toBe(false);
    } finally {
      await stopPid(sentinel.pid);
      await primary.cleanup();
    }
  });
});
