/**
 * The load test in the cluster (90-loadtest.yaml): written only when asked, schema-valid, Pod
 * Security "restricted", the scenario's scripts and parallelism, setup once before the runners,
 * remote write to the stack's Prometheus, and NetworkPolicies that allow exactly its flows.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubernetesApp, LOADTEST_FIXTURES_SECRET, referencedSecrets, runnerWaitSeconds, SETUP_RETRIES } from '../../charts/index.ts';
import { renderK6Script, renderK6SetupScript } from '../../lib/loadtest/k6.ts';
import { BUILTIN_SCENARIOS, DEFAULT_WARMUP_SECONDS, type Scenario } from '../../lib/loadtest/scenario.ts';
import { K6_TREND_STATS_ENV } from '../../lib/monitoring/index.ts';
import { CONTAINER_IMAGES, loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; rules?: any[] };

function synth(profile: ResolvedProfile, loadTest?: Scenario): { dir: string; files: string[]; objects: K8sObject[]; file: (name: string) => K8sObject[] } {
  const dir = tempDir('apistack-k8s-lt-');
  kubernetesApp({ profile, outdir: dir, ...(loadTest ? { loadTest } : {}) }).synth();
  const files = readdirSync(dir).sort();
  const file = (name: string) => parseAllDocuments(readFileSync(join(dir, name), 'utf8')).map((d) => d.toJSON() as K8sObject).filter(Boolean);
  return { dir, files, objects: files.flatMap(file), file };
}

const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const podSpec = (o: K8sObject) => o.spec.template.spec;
const envOf = (c: any) => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));

describe('Kubernetes load test (90-loadtest.yaml)', () => {
  const profile = loadProfile('optimized');
  const mixed: Scenario = { ...BUILTIN_SCENARIOS.mixed!, parallelism: 3 };
  let plain: ReturnType<typeof synth>;
  let lt: ReturnType<typeof synth>;
  let ltObjects: K8sObject[];

  beforeAll(() => {
    plain = synth(profile);
    lt = synth(profile, mixed);
    ltObjects = lt.file('90-loadtest.yaml');
  });

  it('is written only when asked; the other files change only where Prometheus and Grafana must', () => {
    expect(plain.files).not.toContain('90-loadtest.yaml');
    expect(lt.files).toEqual([...plain.files, '90-loadtest.yaml']);
    for (const f of plain.files.filter((x) => x !== '40-monitoring.yaml')) expect(readFileSync(join(lt.dir, f), 'utf8'), f).toBe(readFileSync(join(plain.dir, f), 'utf8'));
    // Prometheus already receives remote writes: adding the load test must not restart it.
    const prometheus = (objects: K8sObject[]) => find(objects, 'StatefulSet', 'prometheus');
    expect(prometheus(plain.objects).spec.template.spec.containers[0].args).toContain('--web.enable-remote-write-receiver');
    expect(prometheus(lt.objects).spec.template).toEqual(prometheus(plain.objects).spec.template);
    expect(Object.keys(find(plain.objects, 'ConfigMap', 'grafana-dashboards').data!)).not.toContain('apistack-loadtest.json');
    const dashboard = JSON.parse(find(lt.objects, 'ConfigMap', 'grafana-dashboards').data!['apistack-loadtest.json']!);
    expect(JSON.stringify(dashboard)).toContain('vector(0.05)');
  });

  it('every object validates against the Kubernetes OpenAPI schema (kubernetes-models)', async () => {
    expect(ltObjects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      ['ConfigMap/loadtest-scripts', 'Job/loadtest', 'Job/loadtest-setup', 'NetworkPolicy/loadtest', 'NetworkPolicy/loadtest-setup', 'NetworkPolicy/prometheus-remote-write', 'Role/loadtest-setup', 'RoleBinding/loadtest-setup', 'Secret/loadtest-fixtures', 'ServiceAccount/loadtest-setup'].sort(),
    );
    for (const o of ltObjects) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('apistack');
      const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
      const mod = await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`);
      expect(() => new mod[o.kind](o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it('every pod meets Pod Security Standards "restricted", init containers included, with pinned k6, resources and a read-only root', () => {
    for (const job of ltObjects.filter((o) => o.kind === 'Job')) {
      const spec = podSpec(job);
      expect(spec.securityContext, job.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.restartPolicy).toBe('Never');
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const at = `${job.metadata.name}/${c.name}`;
        expect(c.securityContext, at).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
        expect(c.image, at).toBe(CONTAINER_IMAGES.k6);
        expect(c.image, at).toMatch(/^grafana\/k6:\d+\.\d+\.\d+$/);
        expect(c.imagePullPolicy, at).toBe('IfNotPresent');
        for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) expect(c.resources?.[k]?.[r], `${at} ${k}.${r}`).toBeDefined();
      }
    }
  });

  it('runs the scenario parallelism as an Indexed Job, failing rather than retrying a failed verdict', () => {
    // The deadline: the warm-up and the scenario, the longest waits before them, and a margin.
    const job = find(ltObjects, 'Job', 'loadtest');
    expect(job.spec).toMatchObject({ parallelism: 3, completions: 3, completionMode: 'Indexed', backoffLimit: 0, activeDeadlineSeconds: 20 + DEFAULT_WARMUP_SECONDS + runnerWaitSeconds(true) + 300 });
    const soak = synth(profile, { ...BUILTIN_SCENARIOS.soak!, parallelism: 5 }).file('90-loadtest.yaml');
    expect(find(soak, 'Job', 'loadtest').spec).toMatchObject({ parallelism: 5, completions: 5 });
  });

  it('the ConfigMap holds exactly the rendered scripts, which the containers run', () => {
    const scripts = find(ltObjects, 'ConfigMap', 'loadtest-scripts').data!;
    expect(scripts['run.js']).toBe(renderK6Script(mixed));
    expect(scripts['setup.js']).toBe(renderK6SetupScript(mixed, { store: 'kubernetes-secret' }));
    expect(podSpec(find(ltObjects, 'Job', 'loadtest')).containers[0].args).toEqual(['run', '-o', 'experimental-prometheus-rw', '/scripts/run.js']);
    expect(podSpec(find(ltObjects, 'Job', 'loadtest-setup')).containers[0].args).toEqual(['run', '/scripts/setup.js']);
  });

  it('runners target nginx, remote-write to the stack Prometheus Service with the trend stats the dashboard reads, and carry their pod name', () => {
    const runner = podSpec(find(ltObjects, 'Job', 'loadtest')).containers[0];
    const env = envOf(runner);
    // The plain-HTTP Service: the public one takes the NLB's PROXY protocol only.
    expect(env.TARGET_URL).toBe('http://nginx-internal.apistack.svc.cluster.local');
    expect(env.K6_PROMETHEUS_RW_TREND_STATS).toBe(K6_TREND_STATS_ENV);
    expect(env.RUNNER_ID).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    const rw = new URL(env.K6_PROMETHEUS_RW_SERVER_URL);
    expect([rw.hostname, rw.pathname]).toEqual(['prometheus.apistack.svc.cluster.local', '/api/v1/write']);
    const service = find(lt.objects, 'Service', 'prometheus');
    expect(service.spec.ports.map((p: any) => p.port)).toContain(Number(rw.port));
    const nginx = find(lt.objects, 'Service', 'nginx');
    expect(nginx.spec.ports.map((p: any) => p.port)).toContain(80);
  });

  it('setup runs once, in its own Job; runners wait for the fixtures it writes into the one Secret it may patch', () => {
    const setup = podSpec(find(ltObjects, 'Job', 'loadtest-setup'));
    expect(find(ltObjects, 'Job', 'loadtest-setup').spec.parallelism).toBeUndefined();
    expect(find(ltObjects, 'Job', 'loadtest-setup').spec.backoffLimit).toBe(SETUP_RETRIES);
    const env = envOf(setup.containers[0]);
    expect(env.ADMIN_TOKEN).toEqual({ secretKeyRef: { name: 'api-secrets', key: 'admin-token' } });
    expect(referencedSecrets(profile)).toContain('adminToken');
    expect(env.FIXTURES_SECRET_URL).toBe(`https://kubernetes.default.svc/api/v1/namespaces/apistack/secrets/${LOADTEST_FIXTURES_SECRET}`);
    expect(env.SSL_CERT_FILE).toBe('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
    expect(setup.serviceAccountName).toBe('loadtest-setup');
    expect(setup.automountServiceAccountToken).toBe(true);
    expect(find(ltObjects, 'Role', 'loadtest-setup').rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: [LOADTEST_FIXTURES_SECRET], verbs: ['get', 'patch'] }]);
    const secret = find(ltObjects, 'Secret', LOADTEST_FIXTURES_SECRET) as K8sObject & { stringData?: Record<string, string> };
    expect({ ...secret.data, ...secret.stringData }).toEqual({});

    const runners = podSpec(find(ltObjects, 'Job', 'loadtest'));
    expect(runners.automountServiceAccountToken).toBe(false);
    expect(runners.volumes).toContainEqual({ name: 'fixtures', secret: { secretName: LOADTEST_FIXTURES_SECRET } });
    expect(runners.initContainers.map((c: any) => c.name)).toEqual(['wait-for-stack', 'wait-for-setup']);
    expect(runners.initContainers[1].command).toEqual(['sh', '-c', 'until [ -s /fixtures/fixtures.json ]; do sleep 2; done']);
    expect(runners.initContainers[1].volumeMounts).toEqual([{ mountPath: '/fixtures', name: 'fixtures', readOnly: true }]);
    expect(envOf(runners.containers[0]).LOADTEST_FIXTURES_FILE).toBe('/fixtures/fixtures.json');
    expect(envOf(runners.containers[0]).ADMIN_TOKEN).toBeUndefined();
  });

  it('NetworkPolicies: runners reach nginx and Prometheus only, Prometheus admits them, setup reaches nginx and the Kubernetes API', () => {
    const policy = (name: string) => find(ltObjects, 'NetworkPolicy', name).spec;
    const to = (rules: any[]) => rules.map((r) => `${r.to?.[0]?.podSelector?.matchLabels['app.kubernetes.io/name'] ?? 'any'}:${r.ports.map((p: any) => p.port).join(',')}`);
    expect(policy('loadtest')).toMatchObject({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'loadtest' } }, policyTypes: ['Egress'] });
    expect(to(policy('loadtest').egress)).toEqual(['nginx:8080', 'prometheus:9090']);
    expect(policy('prometheus-remote-write').ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'loadtest' } } }], ports: [{ port: 9090, protocol: 'TCP' }] }]);
    expect(to(policy('loadtest-setup').egress)).toEqual(['any:443,6443', 'nginx:8080']);
    // Every selector and peer matches pods that exist, across all files; default deny still covers the rest.
    const podLabels = lt.objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind)).map((o) => o.spec.template.metadata.labels as Record<string, string>);
    const selects = (sel: Record<string, string>) => podLabels.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
    for (const np of ltObjects.filter((o) => o.kind === 'NetworkPolicy')) {
      expect(selects(np.spec.podSelector.matchLabels), np.metadata.name).toBe(true);
      for (const rule of [...(np.spec.ingress ?? []), ...(np.spec.egress ?? [])]) for (const peer of [...(rule.from ?? []), ...(rule.to ?? [])]) expect(selects(peer.podSelector.matchLabels)).toBe(true);
    }
    expect(find(lt.objects, 'NetworkPolicy', 'default-deny').spec.podSelector).toEqual({});
  });

  it('a scenario with no setup has no setup Job, Secret, RBAC or wait for one', () => {
    const objects = synth(profile, BUILTIN_SCENARIOS.status!).file('90-loadtest.yaml');
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ConfigMap/loadtest-scripts', 'Job/loadtest', 'NetworkPolicy/loadtest', 'NetworkPolicy/prometheus-remote-write']);
    expect(podSpec(find(objects, 'Job', 'loadtest')).initContainers.map((c: any) => c.name)).toEqual(['wait-for-stack']);
    expect(Object.keys(find(objects, 'ConfigMap', 'loadtest-scripts').data!)).toEqual(['run.js']);
  });

  it('with the Prometheus Operator (no Prometheus of ours), runners keep their own thresholds and write nowhere', () => {
    const { file } = synth(loadProfile(join(import.meta.dirname, 'fixtures', 'operator.yaml')), mixed);
    const objects = file('90-loadtest.yaml');
    const runner = podSpec(find(objects, 'Job', 'loadtest')).containers[0];
    expect(runner.args).toEqual(['run', '/scripts/run.js']);
    expect(envOf(runner).K6_PROMETHEUS_RW_SERVER_URL).toBeUndefined();
    expect(objects.find((o) => o.metadata.name === 'prometheus-remote-write')).toBeUndefined();
  });

  const IMAGE = 'registry.example.com/apistack-api:1.0.0';
  // CLI processes, each compiling the TypeScript: slow on a loaded 2-core machine.
  it('apistack synth --target k8s --loadtest writes the file, and a later synth without it removes it', () => {
    const out = tempDir('apistack-k8s-lt-cli-');
    const r = cli(['synth', '--target', 'k8s', '--image', IMAGE, '--loadtest', 'spike', '--parallelism', '2', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(join(out, 'k8s', '90-loadtest.yaml'));
    const job = parseAllDocuments(readFileSync(join(out, 'k8s', '90-loadtest.yaml'), 'utf8')).map((d) => d.toJSON() as K8sObject).find((o) => o.kind === 'Job' && o.metadata.name === 'loadtest')!;
    expect(job.spec.parallelism).toBe(2);
    expect(cli(['synth', '--target', 'k8s', '--image', IMAGE, '--out', out]).status).toBe(0);
    expect(existsSync(join(out, 'k8s', '90-loadtest.yaml'))).toBe(false);
    const bad = cli(['synth', '--target', 'k8s', '--image', IMAGE, '--loadtest', 'mixed', '--parallelism', '80', '--out', out]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('error: scenario mixed cannot run on 80 k6 runners:\n  - connections (50) is less than parallelism (80): every runner needs at least one connection; raise connections or lower parallelism\n');
  }, 180_000);
});
