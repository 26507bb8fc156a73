/**
 * The synthesized Kubernetes YAML: schema-valid, policy-clean (what kube-score, kube-linter and
 * Polaris check), driven exactly by the profile, and priced the same as the profile.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSecretValues, kubernetesApp } from '../../charts/index.ts';
import { Catalog, priceKubernetes, priceKubernetesProfile, type KubernetesCostInputs } from '../../lib/cost/index.ts';
import { storageClassVolumeType } from '../../lib/cost/readers/kubernetes.ts';
import { kubernetesWorkloads, loadProfile, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { versionAtLeast } from '../../nginx/index.ts';
import { tempDir } from '../helpers/servers.ts';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

// Values as `apistack secrets init` makes them: none may reach the manifests.
const secrets = generateSecretValues(loadProfile('optimized'));

function synth(profile: ResolvedProfile): { files: string[]; objects: K8sObject[] } {
  const outdir = tempDir('apistack-k8s-');
  kubernetesApp({ profile, outdir }).synth();
  const files = readdirSync(outdir).sort();
  const objects = files.flatMap((f) => parseAllDocuments(readFileSync(join(outdir, f), 'utf8')).map((d) => d.toJSON() as K8sObject)).filter(Boolean);
  return { files, objects };
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const podSpecOf = (o: K8sObject) => o.spec.template.spec;
const workloadsOf = (objects: K8sObject[]) => objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
const allContainers = (objects: K8sObject[]) => workloadsOf(objects).flatMap((o) => podSpecOf(o).containers.map((c: any) => ({ owner: `${o.kind}/${o.metadata.name}`, c })));

describe('Kubernetes target', () => {
  const optimized = loadProfile('optimized');
  const baseline = loadProfile('baseline');
  let opt: { files: string[]; objects: K8sObject[] };
  let base: { files: string[]; objects: K8sObject[] };

  beforeAll(() => {
    opt = synth(optimized);
    base = synth(baseline);
  });

  it('writes one YAML file per chart, in apply order', () => {
    expect(opt.files).toEqual(['00-namespace.yaml', '10-data.yaml', '20-api.yaml', '30-nginx.yaml', '40-monitoring.yaml', '50-network.yaml']);
  });

  it('every object validates against the Kubernetes OpenAPI schema (kubernetes-models)', async () => {
    for (const o of opt.objects) {
      const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
      const mod = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`);
      expect(() => new mod[o.kind](o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it('the schema check catches a wrong type (it can fail)', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    const broken = structuredClone(find(opt.objects, 'Deployment', 'api'));
    broken.spec.template.spec.containers[0].image = 42;
    expect(() => new Deployment(broken as never).validate()).toThrow(/image must be string/);
  });

  it('every object but the Namespace lives in the profile namespace', () => {
    for (const o of opt.objects.filter((x) => !['Namespace', 'StorageClass'].includes(x.kind))) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('apistack');
    expect(find(opt.objects, 'Namespace', 'apistack').metadata.labels!['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  describe('policies', () => {
    it('every container sets CPU and memory requests and limits', () => {
      for (const { owner, c } of allContainers(opt.objects)) {
        expect(c.resources?.requests?.cpu, owner).toBeDefined();
        expect(c.resources?.requests?.memory, owner).toBeDefined();
        expect(c.resources?.limits?.cpu, owner).toBeDefined();
        expect(c.resources?.limits?.memory, owner).toBeDefined();
      }
    });

    it('no image is untagged or :latest', () => {
      for (const { owner, c } of allContainers(opt.objects)) expect(c.image, owner).toMatch(/^[^:]+(:\d[\w.-]*|:v[\w.-]+)$|^[\w./-]+:[\w.-]+$/);
      for (const { owner, c } of allContainers(opt.objects)) expect(c.image, owner).not.toMatch(/:latest$/);
    });

    it('long-running containers have liveness and readiness probes, and they differ where the app offers both', () => {
      for (const { owner, c } of allContainers(workloadsOf(opt.objects).filter((o) => o.kind !== 'Job'))) {
        expect(c.livenessProbe, owner).toBeDefined();
        expect(c.readinessProbe, owner).toBeDefined();
      }
      const api = podSpecOf(find(opt.objects, 'Deployment', 'api')).containers[0];
      expect(api.livenessProbe.httpGet.path).toBe('/healthz');
      expect(api.readinessProbe.httpGet.path).toBe('/readyz');
      expect(api.startupProbe.httpGet.path).toBe('/healthz');
    });

    it('every multi-replica Deployment has a PodDisruptionBudget', () => {
      const pdbs = byKind(opt.objects, 'PodDisruptionBudget').map((p) => p.spec.selector.matchLabels['app.kubernetes.io/name']);
      const hpas = byKind(opt.objects, 'HorizontalPodAutoscaler');
      for (const d of byKind(opt.objects, 'Deployment')) {
        const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
        const replicas = hpa ? hpa.spec.minReplicas : (d.spec.replicas ?? 1);
        if (replicas > 1) expect(pdbs, d.metadata.name).toContain(d.metadata.labels!['app.kubernetes.io/name']);
      }
    });

    it('HPAs have minReplicas >= 2 and their targets have no fixed replicas', () => {
      for (const hpa of byKind(opt.objects, 'HorizontalPodAutoscaler')) {
        expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
        expect(find(opt.objects, 'Deployment', hpa.spec.scaleTargetRef.name).spec.replicas).toBeUndefined();
      }
    });

    it('every Service and NetworkPolicy selects pods that exist', () => {
      const podLabels = workloadsOf(opt.objects).map((o) => o.spec.template.metadata.labels as Record<string, string>);
      const selects = (sel: Record<string, string>) => podLabels.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
      for (const s of byKind(opt.objects, 'Service')) expect(selects(s.spec.selector), `Service/${s.metadata.name}`).toBe(true);
      for (const np of byKind(opt.objects, 'NetworkPolicy')) {
        const sel = np.spec.podSelector.matchLabels;
        if (sel) expect(selects(sel), `NetworkPolicy/${np.metadata.name}`).toBe(true);
        for (const rule of [...(np.spec.ingress ?? []), ...(np.spec.egress ?? [])]) {
          for (const peer of [...(rule.from ?? []), ...(rule.to ?? [])]) {
            if (peer.podSelector?.matchLabels && !peer.namespaceSelector) expect(selects(peer.podSelector.matchLabels), `NetworkPolicy/${np.metadata.name} peer`).toBe(true);
          }
        }
      }
    });

    it('denies all traffic by default and allows DNS for every pod', () => {
      const deny = find(opt.objects, 'NetworkPolicy', 'default-deny');
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] });
      const dns = find(opt.objects, 'NetworkPolicy', 'allow-dns');
      expect(dns.spec.podSelector).toEqual({});
      expect(dns.spec.egress[0].ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    });

    it('every pod meets Pod Security Standards "restricted", with a read-only root filesystem', () => {
      for (const o of workloadsOf(opt.objects)) {
        const spec = podSpecOf(o);
        expect(spec.securityContext, o.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        expect(spec.securityContext.runAsUser).toBeGreaterThanOrEqual(10000);
        expect(spec.securityContext.runAsGroup).toBeGreaterThanOrEqual(10000);
        for (const c of spec.containers) {
          expect(c.securityContext, `${o.metadata.name}/${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        }
      }
    });

    it('every container also sets seccompProfile RuntimeDefault, and pulls its pinned image only when missing', () => {
      for (const { owner, c } of allContainers(opt.objects)) {
        expect(c.securityContext.seccompProfile, `${owner}/${c.name}`).toEqual({ type: 'RuntimeDefault' });
        expect(c.imagePullPolicy, `${owner}/${c.name}`).toBe('IfNotPresent');
      }
    });

    it('workloads select their pods by name label alone, the selector clusters already run (it is immutable)', () => {
      for (const o of workloadsOf(opt.objects).filter((x) => x.kind !== 'Job')) {
        expect(o.spec.selector, `${o.kind}/${o.metadata.name}`).toEqual({ matchLabels: { 'app.kubernetes.io/name': o.metadata.name } });
        expect(o.spec.template.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject({ 'app.kubernetes.io/name': o.metadata.name, 'app.kubernetes.io/part-of': 'apistack' });
      }
    });

    it('every probe and every Service targets a port its container declares', () => {
      for (const { owner, c } of allContainers(opt.objects)) {
        const declared = (c.ports ?? []).map((x: any) => x.containerPort);
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe].filter(Boolean)) {
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (port !== undefined) expect(declared, `${owner}/${c.name}`).toContain(port);
        }
      }
      const workloads = workloadsOf(opt.objects);
      for (const s of byKind(opt.objects, 'Service')) {
        const pods = workloads.filter((o) => Object.entries(s.spec.selector as Record<string, string>).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
        const declared = pods.flatMap((o) => podSpecOf(o).containers.flatMap((c: any) => (c.ports ?? []).map((x: any) => x.containerPort)));
        for (const port of s.spec.ports) expect(declared, `Service/${s.metadata.name}`).toContain(port.targetPort);
      }
    });

    it('HPAs scale with the Kubernetes default policies and the profile stabilization windows', () => {
      const k8sDefaults = (up: number, down: number) => ({
        scaleUp: { stabilizationWindowSeconds: up, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] },
        scaleDown: { stabilizationWindowSeconds: down, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
      });
      expect(find(opt.objects, 'HorizontalPodAutoscaler', 'api').spec.behavior).toEqual(k8sDefaults(optimized.api.scaleUpStabilizationSeconds, optimized.api.scaleDownStabilizationSeconds));
      const ha = synth(loadProfile('production-ha')).objects;
      expect(find(ha, 'HorizontalPodAutoscaler', 'nginx').spec.behavior).toEqual(k8sDefaults(0, 300));
      expect(find(ha, 'Deployment', 'nginx').spec.replicas).toBeUndefined();
    });

    it('nginx takes traffic from anywhere and Prometheus reaches the API server: rules without peers, no CIDR', () => {
      const nginx = find(opt.objects, 'NetworkPolicy', 'nginx');
      // 8080 for the NLB (PROXY protocol), 8082 for in-cluster callers.
      expect(nginx.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8080 }, { protocol: 'TCP', port: 8082 }] }]);
      const prometheus = find(opt.objects, 'NetworkPolicy', 'prometheus');
      expect(prometheus.spec.egress).toContainEqual({ ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] });
      expect(JSON.stringify(byKind(opt.objects, 'NetworkPolicy'))).not.toContain('ipBlock');
    });

    it('the ConfigMap holds the connection URLs without passwords; the passwords come from Secrets', () => {
      const config = find(opt.objects, 'ConfigMap', 'api-config').data!;
      const db = new URL(config.DATABASE_URL!);
      expect([db.protocol, db.username, db.password, db.host, db.pathname]).toEqual(['postgres:', 'apistack', '', 'postgres.apistack.svc.cluster.local:5432', '/apistack']);
      const redis = new URL(config.REDIS_URL!);
      expect([redis.protocol, redis.username, redis.password, redis.host]).toEqual(['redis:', '', '', 'redis.apistack.svc.cluster.local:6379']);
      const ref = (c: any, name: string) => c.env.find((e: any) => e.name === name)?.valueFrom?.secretKeyRef;
      const api = podSpecOf(find(opt.objects, 'Deployment', 'api')).containers[0];
      expect(api.envFrom).toEqual([{ configMapRef: { name: 'api-config' } }]);
      expect(ref(api, 'DATABASE_PASSWORD')).toEqual({ name: 'postgres-credentials', key: 'password' });
      expect(ref(api, 'REDIS_PASSWORD')).toEqual({ name: 'redis-credentials', key: 'password' });
      expect(ref(api, 'ADMIN_TOKEN')).toEqual({ name: 'api-secrets', key: 'admin-token' });
      const [postgres, exporter] = podSpecOf(find(opt.objects, 'StatefulSet', 'postgres')).containers;
      expect(ref(postgres, 'POSTGRES_PASSWORD')).toEqual({ name: 'postgres-credentials', key: 'password' });
      expect(ref(exporter, 'DATA_SOURCE_PASS')).toEqual({ name: 'postgres-credentials', key: 'password' });
      expect(exporter.env.map((e: any) => e.name)).not.toContain('DATA_SOURCE_NAME');
      const migrate = podSpecOf(opt.objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('migrations-'))!).containers[0];
      expect(migrate.envFrom).toEqual([{ configMapRef: { name: 'api-config' } }]);
      expect(ref(migrate, 'DATABASE_PASSWORD')).toEqual({ name: 'postgres-credentials', key: 'password' });
    });

    it('mounts the service account token only where RBAC needs it (Prometheus)', () => {
      for (const o of workloadsOf(opt.objects)) expect(podSpecOf(o).automountServiceAccountToken, o.metadata.name).toBe(o.metadata.name === 'prometheus');
    });

    it('passes secrets only through secretKeyRef, never as plain values', () => {
      const secretValues = Object.values(secrets) as string[];
      expect(secretValues).toHaveLength(4);
      for (const { owner, c } of allContainers(opt.objects)) {
        for (const e of c.env ?? []) {
          if (e.value !== undefined) for (const s of secretValues) expect(String(e.value), `${owner} ${e.name}`).not.toContain(s);
        }
        const secretNames = (c.env ?? []).filter((e: any) => /PASSWORD|PASS$|TOKEN|DATABASE_URL|REDIS_URL|DATA_SOURCE_NAME/.test(e.name));
        for (const e of secretNames) expect(e.valueFrom?.secretKeyRef, `${owner} ${e.name}`).toBeDefined();
      }
      for (const cm of byKind(opt.objects, 'ConfigMap')) for (const s of secretValues) expect(JSON.stringify(cm.data)).not.toContain(s);
    });
  });

  it('nginx resolves the headless Service by full DNS name with least_conn, on a pinned image >= 1.27.3', () => {
    const conf = find(opt.objects, 'ConfigMap', 'nginx-config').data!['nginx.conf']!;
    expect(conf).toContain('server api-headless.apistack.svc.cluster.local:8000 resolve');
    expect(conf).toContain('least_conn;');
    const image = podSpecOf(find(opt.objects, 'Deployment', 'nginx')).containers[0].image as string;
    expect(versionAtLeast(image.split(':')[1]!, '1.27.3')).toBe(true);
    expect(find(opt.objects, 'Deployment', 'nginx').spec.template.metadata.annotations['apistack.dev/config-sha256']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the API pod covers the graceful timeout: preStop + graceful < termination grace period', () => {
    const spec = podSpecOf(find(opt.objects, 'Deployment', 'api'));
    const preStop = Number(spec.containers[0].lifecycle.preStop.exec.command[1]);
    expect(preStop + optimized.api.gracefulTimeoutSeconds).toBeLessThan(spec.terminationGracePeriodSeconds);
    expect(spec.topologySpreadConstraints.every((t: any) => t.whenUnsatisfiable === 'ScheduleAnyway')).toBe(true);
  });

  it('nginx pods finish in-flight requests: preStop, then a graceful quit bounded below the grace period', () => {
    const p = resolveProfileLayer({ extends: 'production-ha', nginx: { preStopDelaySeconds: 7, autoscalingCpuTargetPercent: 55, replicasMax: 6 } });
    const { objects } = synth(p);
    const spec = podSpecOf(find(objects, 'Deployment', 'nginx'));
    expect(spec.containers[0].lifecycle.preStop.exec.command).toEqual(['sleep', '7']);
    const conf = find(objects, 'ConfigMap', 'nginx-config').data!['nginx.conf']!;
    const shutdown = Number(/worker_shutdown_timeout (\d+)s;/.exec(conf)![1]);
    // The longest proxied request: connect plus read timeouts.
    expect(shutdown).toBe(p.nginx.proxyConnectTimeoutSeconds + p.nginx.proxyReadTimeoutSeconds);
    expect(7 + shutdown).toBeLessThan(spec.terminationGracePeriodSeconds);
    expect(find(objects, 'HorizontalPodAutoscaler', 'nginx').spec.metrics[0].resource.target.averageUtilization).toBe(55);
    // Unset, both follow the API's settings.
    const optSpec = podSpecOf(find(opt.objects, 'Deployment', 'nginx'));
    expect(optSpec.containers[0].lifecycle.preStop.exec.command).toEqual(['sleep', String(optimized.api.preStopDelaySeconds)]);
  });

  it('the profile drives replicas, resources and storage exactly', () => {
    for (const [p, s] of [
      [optimized, opt],
      [baseline, base],
    ] as const) {
      const hpa = find(s.objects, 'HorizontalPodAutoscaler', 'api');
      expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([p.api.replicasMin, p.api.replicasMax]);
      const api = podSpecOf(find(s.objects, 'Deployment', 'api')).containers[0];
      expect(api.resources).toEqual({
        requests: { cpu: `${p.api.vcpuPerReplica * 1000}m`, memory: `${p.api.memoryMiBPerReplica}Mi` },
        limits: { cpu: `${p.api.vcpuPerReplica * 1000}m`, memory: `${p.api.memoryMiBPerReplica}Mi` },
      });
      if (p.derived.kubernetes.postgresMode === 'statefulset') {
        const pg = find(s.objects, 'StatefulSet', 'postgres');
        expect(pg.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe(`${p.postgres.storageGiB}Gi`);
        expect(pg.spec.template.spec.containers[0].args).toEqual(['-c', `max_connections=${p.derived.postgres.maxConnectionsKubernetes}`]);
        expect(pg.spec.template.spec.containers[0].resources.limits.memory).toBe(`${p.postgres.k8sMemoryLimitMiB}Mi`);
      } else {
        // Multi-AZ (baseline): a CloudNativePG Cluster sized the same way.
        const pg = find(s.objects, 'Cluster', 'postgres-ha');
        expect(pg.spec.storage.size).toBe(`${p.postgres.storageGiB}Gi`);
        expect(pg.spec.postgresql.parameters.max_connections).toBe(String(p.derived.postgres.maxConnectionsKubernetes));
        expect(pg.spec.resources.limits.memory).toBe(`${p.postgres.k8sMemoryLimitMiB}Mi`);
      }
      expect(find(s.objects, 'ConfigMap', 'api-config').data!.WEB_CONCURRENCY).toBe(String(p.derived.api.workersPerReplica));
      // Redis: a StatefulSet either way (one kind per name across profiles), with a claim only when persistent.
      const redis = s.objects.find((o) => o.metadata.name === 'redis' && ['StatefulSet', 'Deployment'].includes(o.kind))!;
      expect(redis.kind).toBe('StatefulSet');
      expect(Boolean(redis.spec.volumeClaimTemplates)).toBe(p.redis.persistence);
    }
  });

  it('emits a PodMonitor and a PrometheusRule instead of Prometheus and Grafana when the operator runs', () => {
    const { objects } = synth(loadProfile(join(import.meta.dirname, 'fixtures', 'operator.yaml')));
    expect(byKind(objects, 'PodMonitor')).toHaveLength(1);
    expect(byKind(objects, 'PrometheusRule')[0]!.spec.groups.length).toBeGreaterThan(0);
    expect(objects.find((o) => o.metadata.name === 'prometheus' || o.metadata.name === 'grafana')).toBeUndefined();
  });

  it('what is priced is what is deployed: pricing the YAML equals pricing the profile', () => {
    for (const [p, s] of [
      [optimized, opt],
      [baseline, base],
    ] as const) {
      const hpa = find(s.objects, 'HorizontalPodAutoscaler', 'api');
      const cpu = (q: string) => Number(q.replace('m', ''));
      const mem = (q: string) => Number(q.replace('Mi', ''));
      const groups = Object.fromEntries(kubernetesWorkloads(p).map((w) => [w.name, w.group]));
      const pods: KubernetesCostInputs['pods'][number][] = [];
      const volumes: KubernetesCostInputs['volumes'][number][] = [];
      // A CloudNativePG Cluster runs `instances` pods of one postgres container, each with a claim of `storage`.
      const clusters = byKind(s.objects, 'Cluster').map((c) => ({
        ...c,
        spec: {
          replicas: c.spec.instances,
          template: { spec: { containers: [{ resources: c.spec.resources }] } },
          volumeClaimTemplates: [{ spec: { storageClassName: c.spec.storage.storageClass, resources: { requests: { storage: c.spec.storage.size } } } }],
        },
      }));
      const order = kubernetesWorkloads(p).map((w) => w.name);
      const running = [...workloadsOf(s.objects).filter((x) => x.kind !== 'Job'), ...clusters].sort((a, b) => order.indexOf(a.metadata.name) - order.indexOf(b.metadata.name));
      for (const o of running) {
        const name = o.metadata.name;
        const replicas = name === 'api' ? hpa.spec.maxReplicas : (o.spec.replicas ?? find(s.objects, 'HorizontalPodAutoscaler', name)?.spec.minReplicas);
        const containers = podSpecOf(o).containers;
        for (let i = 0; i < replicas; i++) {
          pods.push({ workload: name, group: groups[name]!, cpuMillicores: containers.reduce((t: number, c: any) => t + cpu(c.resources.requests.cpu), 0), memoryMiB: containers.reduce((t: number, c: any) => t + mem(c.resources.requests.memory), 0) });
          for (const v of o.spec.volumeClaimTemplates ?? []) {
            // Priced at the EBS type of the StorageClass the claim names, as the manifests create it.
            const storageClass = s.objects.find((x) => x.kind === 'StorageClass' && x.metadata.name === v.spec.storageClassName) as any;
            volumes.push({ name: `${name}-${i}`, sizeGiB: Number(v.spec.resources.requests.storage.replace('Gi', '')), storageClassName: v.spec.storageClassName, volumeType: storageClassVolumeType(storageClass?.parameters, v.spec.storageClassName) });
          }
        }
      }
      const inputs: KubernetesCostInputs = { profile: p.name, region: p.region, nodeInstanceType: p.kubernetes.nodeInstanceType, spareNodes: p.kubernetes.spareNodes, pods, volumes, loadBalancerServices: byKind(s.objects, 'Service').filter((x) => x.spec.type === 'LoadBalancer').length, apiReplicas: hpa.spec.maxReplicas };
      const catalog = Catalog.load();
      const fromYaml = priceKubernetes(inputs, p, catalog, { hoursPerMonth: 730 });
      const fromProfile = priceKubernetesProfile(p, catalog, { hoursPerMonth: 730, replicas: 'max' });
      expect(fromYaml.components).toEqual(fromProfile.components);
      expect(fromYaml.total).toBe(fromProfile.total);
    }
  });
});
