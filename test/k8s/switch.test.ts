/**
 * Day two: a synth applied over the previous one. What the API server refuses is refused by synth,
 * with the steps that migrate; a name keeps its kind across the built-in profiles; and kubectl's
 * ApplySet labels every object and prunes what a new synth no longer has.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthKubernetes } from '../../bin/k8s.ts';
import {
  APPLYSET,
  applyCommands,
  applySetMembers,
  applySetParent,
  appObjects,
  kubernetesApp,
  profileApplySetId,
  prunedBy,
  readManifests,
  switchProblems,
  type K8sObject,
} from '../../charts/index.ts';
import { builtinProfileNames, loadProfile, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

const objectsOf = (p: ResolvedProfile) => appObjects(kubernetesApp({ profile: p, outdir: tempDir('apistack-switch-') }));
const withStorage = (storageGiB: number) => resolveProfileLayer({ extends: 'optimized', name: 'optimized', postgres: { storageGiB } });
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

function refusal(run: () => unknown): UserError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected the synth to be refused');
}

describe('a synth over the previous output', () => {
  it('that shrinks a claim template is refused with the message and the migration, and writes nothing', () => {
    const out = tempDir('apistack-switch-out-');
    const dir = synthKubernetes(withStorage(50), out);
    const before = snapshot(dir);
    const e = refusal(() => synthKubernetes(withStorage(30), out));
    expect(e.message).toMatch(/^this synth cannot be applied over the previous one in .*k8s \(1 problem\):/);
    expect(e.message).toContain('StatefulSet/postgres spec.volumeClaimTemplates: the claim template shrinks from 50Gi to 30Gi; volumeClaimTemplates are immutable, and no volume shrinks');
    expect(e.message).toContain('pg_dump -U apistack -Fc apistack > apistack.dump');
    expect(e.message).toContain('kubectl -n apistack delete pvc data-postgres-0');
    expect(e.message).toMatch(/remove .*k8s and synth again; docs\/kubernetes-data\.md/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('that grows a claim template says how to grow the claims in place, then orphan and re-create the StatefulSet', () => {
    const out = tempDir('apistack-switch-out-');
    synthKubernetes(withStorage(50), out);
    const e = refusal(() => synthKubernetes(withStorage(80), out));
    expect(e.problems).toEqual(['StatefulSet/postgres spec.volumeClaimTemplates: the claim template grows from 50Gi to 80Gi; volumeClaimTemplates are immutable, and the existing claims keep their size']);
    expect(e.message).toContain(`kubectl -n apistack patch pvc data-postgres-0 -p '{"spec":{"resources":{"requests":{"storage":"80Gi"}}}}'`);
    expect(e.message).toContain('kubectl -n apistack delete statefulset postgres --cascade=orphan');
  });

  it('of the same profile, or into a fresh directory, goes through', () => {
    const out = tempDir('apistack-switch-out-');
    synthKubernetes(loadProfile('production-ha'), out);
    expect(() => synthKubernetes(loadProfile('production-ha'), out)).not.toThrow();
    expect(() => synthKubernetes(loadProfile('baseline'), tempDir('apistack-switch-fresh-'))).not.toThrow();
  });

  it('is refused by the CLI with exit 1 and no stack trace', () => {
    const out = tempDir('apistack-switch-cli-');
    const image = ['--image', 'registry.example.com/apistack-api:1.0.0'];
    const first = cli(['synth', '--target', 'k8s', '--profile', 'optimized', ...image, '--out', out]);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`KUBECTL_APPLYSET=true kubectl apply -n apistack --prune --applyset=configmaps/apistack-applyset -f ${join(out, 'k8s')}/`);
    const r = cli(['synth', '--target', 'k8s', '--profile', 'baseline', ...image, '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: this synth cannot be applied over the previous one in /);
    expect(r.stderr).toContain('Cluster/postgres-ha Postgres: Postgres moves from StatefulSet/postgres to Cluster/postgres-ha');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reads the previous synth back exactly as it was written', () => {
    const out = tempDir('apistack-switch-read-');
    const p = loadProfile('baseline');
    const dir = synthKubernetes(p, out);
    expect(readManifests(dir)).toEqual(JSON.parse(JSON.stringify(objectsOf(p))));
    expect(readManifests(join(out, 'missing'))).toEqual([]);
  });
});

/**
 * The API server's update validation, written from its rules and independent of switchProblems:
 * a StatefulSet's spec may change only in these fields; a Deployment's selector, a Service's
 * headlessness, a Job's template and a StorageClass's provisioning never.
 * @see https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/apps/validation/validation.go (ValidateStatefulSetUpdate)
 */
const STATEFULSET_MUTABLE = new Set(['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds']);
function apiServerRefuses(was: K8sObject, now: K8sObject): boolean {
  const differs = (a: unknown, b: unknown) => JSON.stringify(a ?? null) !== JSON.stringify(b ?? null);
  switch (now.kind) {
    case 'StatefulSet':
      return [...new Set([...Object.keys(was.spec ?? {}), ...Object.keys(now.spec ?? {})])].some((f) => !STATEFULSET_MUTABLE.has(f) && differs(was.spec?.[f], now.spec?.[f]));
    case 'Deployment':
      return differs(was.spec?.selector, now.spec?.selector);
    case 'Service':
      return (was.spec?.clusterIP === 'None') !== (now.spec?.clusterIP === 'None');
    case 'Job':
      return differs(was.spec?.template, now.spec?.template);
    case 'StorageClass':
      return ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode'].some((f) => differs(was[f], now[f]));
    default:
      return false;
  }
}

describe('switching between the built-in profiles', () => {
  const profiles = Object.fromEntries(builtinProfileNames().map((n) => [n, loadProfile(n)]));
  const objects = Object.fromEntries(builtinProfileNames().map((n) => [n, objectsOf(profiles[n]!)]));

  it('a name keeps its kind: no workload name is a Deployment in one profile and a StatefulSet (or Cluster) in another', () => {
    const kinds = new Map<string, Set<string>>();
    for (const list of Object.values(objects)) {
      for (const o of list.filter((x) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Cluster'].includes(x.kind))) kinds.set(o.metadata.name, new Set([...(kinds.get(o.metadata.name) ?? []), o.kind]));
    }
    expect(kinds.get('redis')).toEqual(new Set(['StatefulSet']));
    for (const [name, set] of kinds) expect([...set], name).toHaveLength(1);
  });

  it('every update the API server would refuse between any two built-in profiles is refused by synth', () => {
    let refusedPairs = 0;
    for (const a of builtinProfileNames()) {
      for (const b of builtinProfileNames()) {
        if (a === b) continue;
        const reported = new Set(switchProblems(objects[a]!, objects[b]!, profiles[b]!).map((x) => x.object));
        for (const now of objects[b]!) {
          const was = objects[a]!.find((o) => o.kind === now.kind && o.metadata.name === now.metadata.name);
          if (was && apiServerRefuses(was, now)) {
            refusedPairs++;
            expect(reported, `${a} → ${b}: ${now.kind}/${now.metadata.name}`).toContain(`${now.kind}/${now.metadata.name}`);
          }
        }
      }
    }
    // baseline ↔ optimized alone changes claim templates: the emulation has something to find.
    expect(refusedPairs).toBeGreaterThan(0);
    expect(switchProblems(objects.optimized!, objects.optimized!, profiles.optimized!)).toEqual([]);
  });

  it('handing fixed replicas to an HPA is refused with how to keep them, and leaving the HPA prunes it', () => {
    const toHa = switchProblems(objects.optimized!, objects['production-ha']!, profiles['production-ha']!).find((x) => x.object === 'Deployment/nginx')!;
    expect(toHa.message).toBe('an HPA takes over the replicas (2 fixed until now); applying the synth that drops spec.replicas first sets the Deployment to 1 pod');
    expect(toHa.steps[0]).toContain("apply view-last-applied deployment/nginx -o json | jq 'del(.spec.replicas)'");
    // production-ha → optimized: the nginx HPA would fight the fixed replicas, so the ApplySet prunes it.
    expect(prunedBy(objects['production-ha']!, objects.optimized!, profiles.optimized!)).toContain('HorizontalPodAutoscaler/nginx');
  });

  it('a Postgres that moves home is refused with the dump and restore steps', () => {
    const problems = switchProblems(objects['production-ha']!, objects.optimized!, profiles.optimized!);
    const move = problems.find((x) => x.field === 'Postgres')!;
    expect(move.message).toBe('Postgres moves from Cluster/postgres-ha to StatefulSet/postgres: the new one starts empty and the API would switch to it, while the data stays on the old volume');
    expect(move.steps.join('\n')).toContain('pg_dump -U postgres -Fc apistack > apistack.dump');
    expect(move.steps.join('\n')).toContain('kubectl -n apistack exec -i postgres-0 -c postgres -- pg_restore -U apistack -d apistack');
  });
});

describe('pruning with kubectl ApplySet', () => {
  const optimized = loadProfile('optimized');
  const ha = loadProfile('production-ha');

  it('the id is base64url(sha256("<name>.<namespace>.<kind>.<group>")) of the parent ConfigMap, as KEP-3659 defines it', () => {
    // Computed apart, with Python's hashlib, for ConfigMap apistack-applyset in namespace apistack (core group: empty).
    expect(profileApplySetId(optimized)).toBe('applyset-TRw5wsl99Qnaky7cYEw7NrZ2mKnVRFvid1UKGSzz1KM-v1');
    expect(profileApplySetId(optimized)).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
  });

  it('kubectl labels every object with it; the manifests carry no label of their own (kubectl refuses input that does)', () => {
    for (const p of [optimized, ha]) {
      const objects = objectsOf(p);
      for (const o of objects) expect(o.metadata.labels?.[APPLYSET.partOfLabel], `${o.kind}/${o.metadata.name}`).toBeUndefined();
      const members = applySetMembers(objects, p);
      expect(members).toHaveLength(objects.length);
      for (const o of members) expect(o.metadata.labels![APPLYSET.partOfLabel], `${o.kind}/${o.metadata.name}`).toBe(profileApplySetId(p));
    }
    const labelled = applySetMembers(objectsOf(optimized), optimized);
    expect(() => applySetMembers(labelled, optimized)).toThrow(/ApplySet label "applyset\.kubernetes\.io\/part-of" already set in input data/);
  });

  it('the parent lists every group-kind, the cluster-scoped and custom ones too, so each is pruned', () => {
    const kinds = applySetParent(objectsOf(ha), ha).metadata.annotations![APPLYSET.groupKindsAnnotation]!.split(',');
    expect(kinds).toEqual([...kinds].sort());
    expect(kinds).toEqual(expect.arrayContaining(['Cluster.postgresql.cnpg.io', 'ConfigMap', 'Namespace', 'StatefulSet.apps', 'StorageClass.storage.k8s.io']));
  });

  it('a switch prunes what the new synth no longer has', () => {
    expect(prunedBy(objectsOf(optimized), objectsOf(ha), ha)).toEqual(expect.arrayContaining(['StatefulSet/postgres', 'Service/postgres']));
    expect(prunedBy(objectsOf(ha), objectsOf(optimized), optimized)).toEqual(expect.arrayContaining(['Cluster/postgres-ha', 'Deployment/redis-proxy', 'ConfigMap/redis-proxy-config']));
    expect(prunedBy(objectsOf(optimized), objectsOf(optimized), optimized)).toEqual([]);
  });

  it('the apply commands create the namespace first, then apply and prune under the ApplySet', () => {
    expect(applyCommands(optimized, 'dist/k8s')).toEqual(['kubectl apply -f dist/k8s/00-namespace.yaml', 'KUBECTL_APPLYSET=true kubectl apply -n apistack --prune --applyset=configmaps/apistack-applyset -f dist/k8s/']);
  });
});
