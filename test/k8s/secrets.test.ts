/**
 * No secret in the manifests, and a deterministic synth: the YAML names Secrets that
 * `apistack secrets init` creates once, outside dist/, and two synths of a profile are the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { Chart, Testing } from 'cdk8s';
import { kubernetesApp, referencedSecrets, renderSecretsYaml, SECRET_KEYS, secretEnv, generateSecretValues } from '../../charts/index.ts';
import { loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';
import { cliPath } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

type Doc = { kind: string; metadata: { name: string; namespace?: string }; stringData?: Record<string, string>; data?: Record<string, string>; [k: string]: unknown };

const operatorProfile = join(import.meta.dirname, 'fixtures', 'operator.yaml');

function synthTo(profile: ResolvedProfile): { dir: string; files: string[] } {
  const dir = tempDir('apistack-k8s-');
  kubernetesApp({ profile, outdir: dir }).synth();
  return { dir, files: readdirSync(dir).sort() };
}

function docs(text: string): Doc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Doc)
    .filter(Boolean);
}

function readAll(dir: string): { text: string; objects: Doc[] } {
  const text = readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  return { text, objects: docs(text) };
}

/** Run the CLI from `cwd` (so defaults relative to the working directory land in a temp dir). */
function apistack(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [cliPath, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

/** Every (Secret, key) the objects read: env secretKeyRef, envFrom secretRef, secret volumes. */
function secretReadsOf(objects: Doc[]): { refs: Set<string>; wholeSecrets: Set<string> } {
  const refs = new Set<string>();
  const wholeSecrets = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, any>;
    if (o.secretKeyRef) refs.add(`${o.secretKeyRef.name}/${o.secretKeyRef.key}`);
    if (o.secretRef?.name) wholeSecrets.add(o.secretRef.name);
    if (o.secret?.secretName) wholeSecrets.add(o.secret.secretName);
    Object.values(o).forEach(walk);
  };
  walk(objects);
  return { refs, wholeSecrets };
}

describe('Kubernetes manifests hold no secret and synthesize deterministically', () => {
  const optimized = loadProfile('optimized');
  let cwd: string;
  let secretsFile: string;
  let init: ReturnType<typeof apistack>;

  beforeAll(() => {
    cwd = tempDir('apistack-secrets-');
    init = apistack(['secrets', 'init', '--target', 'k8s', '--profile', 'optimized'], cwd);
    secretsFile = join(cwd, '.apistack', 'secrets', 'k8s-apistack.yaml');
  });

  it('two synths of the same profile are byte-identical, file by file', () => {
    for (const p of [optimized, loadProfile('baseline'), loadProfile(operatorProfile)]) {
      const a = synthTo(p);
      const b = synthTo(p);
      expect(b.files, p.name).toEqual(a.files);
      expect(a.files.length).toBeGreaterThan(0);
      for (const f of a.files) expect(readFileSync(join(b.dir, f)).equals(readFileSync(join(a.dir, f))), `${p.name} ${f}`).toBe(true);
    }
  });

  it('two CLI synths in separate processes, load-test Job included, write byte-identical files', () => {
    const outs = [tempDir('apistack-synth-a-'), tempDir('apistack-synth-b-')];
    for (const out of outs) {
      const r = apistack(['synth', '--target', 'k8s', '--profile', 'baseline', '--placeholder-image', '--loadtest', 'mixed', '--out', out], cwd);
      expect(r.status, r.stderr).toBe(0);
    }
    const [a, b] = outs.map((o) => readdirSync(join(o, 'k8s')).sort());
    expect(a).toContain('90-loadtest.yaml');
    expect(b).toEqual(a);
    for (const f of a!) expect(readFileSync(join(outs[1]!, 'k8s', f)).equals(readFileSync(join(outs[0]!, 'k8s', f))), f).toBe(true);
  });

  it('secrets init writes every Secret once, under .apistack/secrets/ with mode 0600, and says what to apply', () => {
    expect(init.stderr).toBe('');
    expect(init.status).toBe(0);
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    expect(init.stdout).toContain('kubectl create -f .apistack/secrets/k8s-apistack.yaml');
    expect(init.stdout).not.toContain('kubectl apply -f .apistack');
    const secrets = docs(readFileSync(secretsFile, 'utf8'));
    expect(secrets.map((s) => s.kind)).toEqual(secrets.map(() => 'Secret'));
    expect(secrets.map((s) => s.metadata.namespace)).toEqual(secrets.map(() => 'apistack'));
    const values = secrets.flatMap((s) => Object.values(s.stringData ?? {}));
    expect(values).toHaveLength(referencedSecrets(optimized).length);
    // 32 random bytes each, all different.
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(values).size).toBe(values.length);
  });

  it('no Secret object and no value secrets init produced appears in the synthesized YAML', () => {
    const values = docs(readFileSync(secretsFile, 'utf8')).flatMap((s) => Object.values(s.stringData ?? {}));
    expect(values.length).toBeGreaterThan(0);
    // The CLI synth runs where init wrote its file, so a synth that picked the values up would show them.
    const synth = apistack(['synth', '--target', 'k8s', '--profile', 'optimized', '--placeholder-image', '--out', join(cwd, 'synth-out')], cwd);
    expect(synth.status, synth.stderr).toBe(0);
    const synthesized = [
      { name: 'optimized (CLI, beside the secrets file)', dir: join(cwd, 'synth-out', 'k8s') },
      { name: 'operator', dir: synthTo(loadProfile(operatorProfile)).dir },
    ];
    for (const p of synthesized) {
      const { text, objects } = readAll(p.dir);
      expect(objects.length, p.name).toBeGreaterThan(0);
      expect(objects.filter((o) => o.kind === 'Secret'), p.name).toEqual([]);
      // stringData belongs to Secrets alone; ConfigMaps carry `data`, checked for values below.
      expect(text).not.toMatch(/^\s*stringData:/m);
      for (const v of values) expect(text.includes(v), `${p.name}: a secret value in the YAML`).toBe(false);
    }
  });

  it('every secretKeyRef in the YAML is a key secrets init creates, and init creates nothing unused', () => {
    const fromInit = (text: string) => new Set(docs(text).flatMap((s) => Object.keys(s.stringData ?? {}).map((k) => `${s.metadata.name}/${k}`)));
    const check = (p: ResolvedProfile, initText: string) => {
      const created = fromInit(initText);
      const { refs, wholeSecrets } = secretReadsOf(readAll(synthTo(p).dir).objects);
      expect(refs.size, p.name).toBeGreaterThan(0);
      expect([...wholeSecrets], `${p.name}: Secrets read whole`).toEqual([]);
      for (const r of refs) expect(created, `${p.name}: ${r} is read but secrets init does not create it`).toContain(r);
      expect([...created].sort(), p.name).toEqual([...refs].sort());
    };
    check(optimized, readFileSync(secretsFile, 'utf8'));
    // Without self-hosted Grafana there is no grafana-admin to read, or to create.
    const operator = loadProfile(operatorProfile);
    expect(referencedSecrets(operator)).not.toContain('grafanaAdminPassword');
    check(operator, renderSecretsYaml(operator, generateSecretValues(operator)));
  });

  it('a chart cannot read a Secret the profile does not list', () => {
    const operator = loadProfile(operatorProfile);
    const chart = new Chart(Testing.app(), 'c');
    expect(() => secretEnv(chart, operator, 'grafanaAdminPassword')).toThrow(/secret "grafanaAdminPassword" is read by a chart but not listed by referencedSecrets\(\) for profile operator/);
    expect(secretEnv(chart, operator, 'adminToken')).toBeDefined();
    expect(SECRET_KEYS.grafanaAdminPassword.secret).toBe('grafana-admin');
  });

  it('never overwrites: a second init fails with how to rotate, and leaves the file as it was', () => {
    const before = readFileSync(secretsFile);
    const r = apistack(['secrets', 'init'], cwd);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: \.apistack\/secrets\/k8s-apistack\.yaml exists; secrets init never overwrites Secrets/);
    expect(r.stderr).toMatch(/To rotate a value, change it where it is used first \(Postgres: ALTER ROLE apistack PASSWORD/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(secretsFile).equals(before)).toBe(true);
  });

  it('refuses a file inside dist/, a namespace other than the profile one and an unknown target', () => {
    const inDist = apistack(['secrets', 'init', '--out', 'dist/k8s/secrets.yaml'], cwd);
    expect(inDist.status).toBe(1);
    expect(inDist.stderr).toMatch(/^error: --out dist\/k8s\/secrets\.yaml is inside dist\//);
    expect(existsSync(join(cwd, 'dist'))).toBe(false);
    const ns = apistack(['secrets', 'init', '--namespace', 'other', '--out', 'x.yaml'], cwd);
    expect(ns.status).toBe(1);
    expect(ns.stderr).toMatch(/^error: --namespace other differs from kubernetes\.namespace "apistack" of profile optimized/);
    const aws = apistack(['secrets', 'init', '--target', 'aws', '--out', 'y.yaml'], cwd);
    expect(aws.status).toBe(1);
    expect(aws.stderr).toBe("error: secrets init: the AWS target needs no step of its own: Secrets Manager generates every secret when the stack is deployed, and the template holds only references to them\n");
    expect(existsSync(join(cwd, 'x.yaml')) || existsSync(join(cwd, 'y.yaml'))).toBe(false);
  });

  it('--apply runs kubectl create (which never replaces a Secret), and says so when kubectl is missing', () => {
    const bin = tempDir('apistack-kubectl-');
    const log = join(bin, 'calls.log');
    writeFileSync(join(bin, 'kubectl'), `#!/bin/sh\necho "$@" >> ${log}\n`);
    chmodSync(join(bin, 'kubectl'), 0o755);
    const r = apistack(['secrets', 'init', '--out', 'applied.yaml', '--apply'], cwd, { ...process.env, PATH: bin });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['version --client', 'create -f applied.yaml']);

    const empty = tempDir('apistack-nokubectl-');
    const missing = apistack(['secrets', 'init', '--out', 'missing.yaml', '--apply'], cwd, { ...process.env, PATH: empty });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('error: --apply needs kubectl on PATH; missing.yaml is written: create them where kubectl reaches the cluster with kubectl create -f missing.yaml\n');
    expect(statSync(join(cwd, 'missing.yaml')).mode & 0o777).toBe(0o600);
  });
});
