/**
 * Day two on a cluster: applying a new synth over the previous one.
 *
 * - What the API server would refuse (immutable fields of StatefulSets, Deployments, Services,
 *   Jobs, StorageClasses, a Cluster's storage that shrinks) and what it would accept but leave
 *   wrong (Postgres moving to another home without its data) is found by comparing the previous
 *   synth in the output directory with the new one: `switchProblems`, a pure function, each
 *   problem with the steps that migrate.
 * - Pruning is kubectl's ApplySet: one parent ConfigMap in the profile namespace, whose id labels
 *   every object kubectl applies; what a new synth no longer has is deleted by
 *   `kubectl apply --prune --applyset`. kubectl writes the membership label itself and refuses
 *   manifests that already carry it, so the manifests carry none; `applySetMembers` emulates
 *   what kubectl labels, `prunedBy` what it would delete.
 * @see https://github.com/kubernetes/enhancements/tree/master/keps/sig-cli/3659-kubectl-apply-prune
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import type { ResolvedProfile } from '../lib/profile/load.ts';

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: any;
  readonly [field: string]: unknown;
}

/** The ApplySet labels and annotations (KEP-3659), as kubectl writes them. */
export const APPLYSET = Object.freeze({
  partOfLabel: 'applyset.kubernetes.io/part-of',
  idLabel: 'applyset.kubernetes.io/id',
  toolingAnnotation: 'applyset.kubernetes.io/tooling',
  groupKindsAnnotation: 'applyset.kubernetes.io/contains-group-kinds',
});

/** The ApplySet parent: a ConfigMap in the profile namespace, which kubectl creates on the first apply. */
export const APPLYSET_PARENT_NAME = 'apistack-applyset';

/** Kinds without a namespace: the ApplySet counts them as members of a namespaced parent too. */
const CLUSTER_SCOPED = new Set(['Namespace', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'CustomResourceDefinition']);

/**
 * The ApplySet id: `applyset-` + base64url(sha256("<name>.<namespace>.<kind>.<group>")) + `-v1`,
 * the group of a ConfigMap being the empty core group. kubectl puts it on the parent
 * (applyset.kubernetes.io/id) and on every member (applyset.kubernetes.io/part-of).
 */
export function applySetId(parent: { name: string; namespace: string; kind: string; group: string }): string {
  const hash = createHash('sha256').update([parent.name, parent.namespace, parent.kind, parent.group].join('.')).digest('base64url');
  return `applyset-${hash}-v1`;
}

export function profileApplySetId(p: ResolvedProfile): string {
  return applySetId({ name: APPLYSET_PARENT_NAME, namespace: p.kubernetes.namespace, kind: 'ConfigMap', group: '' });
}

/** The commands that apply a synth and prune what it no longer has. */
export function applyCommands(p: ResolvedProfile, dir: string): string[] {
  const ns = p.kubernetes.namespace;
  return [
    // The parent lives in the namespace, so on a new cluster the namespace comes first.
    `kubectl apply -f ${join(dir, '00-namespace.yaml')}`,
    `KUBECTL_APPLYSET=true kubectl apply -n ${ns} --prune --applyset=configmaps/${APPLYSET_PARENT_NAME} -f ${dir}/`,
  ];
}

const groupOf = (o: K8sObject) => (o.apiVersion.includes('/') ? o.apiVersion.split('/')[0]! : '');
/** `Kind.group` as ApplySet writes group-kinds (the core group without a suffix). */
export const groupKind = (o: K8sObject) => (groupOf(o) ? `${o.kind}.${groupOf(o)}` : o.kind);
const namespaceOf = (o: K8sObject, ns: string) => (CLUSTER_SCOPED.has(o.kind) ? '' : (o.metadata.namespace ?? ns));
const keyOf = (o: K8sObject, ns: string) => `${groupKind(o)}/${namespaceOf(o, ns)}/${o.metadata.name}`;
const refOf = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

/**
 * The objects as kubectl applies them under the ApplySet: each labelled with the parent's id.
 * Throws as kubectl does when an object already carries the label.
 */
export function applySetMembers(objects: readonly K8sObject[], p: ResolvedProfile): K8sObject[] {
  const id = profileApplySetId(p);
  return objects.map((o) => {
    if (o.metadata.labels?.[APPLYSET.partOfLabel] !== undefined) throw new Error(`ApplySet label "${APPLYSET.partOfLabel}" already set in input data (${refOf(o)}): kubectl refuses it`);
    return { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, [APPLYSET.partOfLabel]: id } } };
  });
}

/** The parent as kubectl leaves it after applying `objects`: its id and the sorted group-kinds it prunes over. */
export function applySetParent(objects: readonly K8sObject[], p: ResolvedProfile): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: APPLYSET_PARENT_NAME,
      namespace: p.kubernetes.namespace,
      labels: { [APPLYSET.idLabel]: profileApplySetId(p) },
      annotations: { [APPLYSET.groupKindsAnnotation]: [...new Set(objects.map(groupKind))].sort().join(','), [APPLYSET.toolingAnnotation]: 'kubectl/v1.31' },
    },
  };
}

/** What `kubectl apply --prune --applyset` deletes when `next` is applied over `previous`: members of a pruned group-kind that `next` lacks. */
export function prunedBy(previous: readonly K8sObject[], next: readonly K8sObject[], p: ResolvedProfile): string[] {
  const ns = p.kubernetes.namespace;
  const kinds = new Set((applySetParent(previous, p).metadata.annotations![APPLYSET.groupKindsAnnotation] ?? '').split(','));
  const kept = new Set(next.map((o) => keyOf(o, ns)));
  return previous.filter((o) => kinds.has(groupKind(o)) && !kept.has(keyOf(o, ns))).map(refOf);
}

/** Something the cluster would refuse, or accept and get wrong, with the steps that migrate. */
export interface SwitchProblem {
  /** Kind/name of the object. */
  readonly object: string;
  readonly field: string;
  readonly message: string;
  readonly steps: readonly string[];
}

const json = (v: unknown) => JSON.stringify(v ?? null);
const claimSize = (t: any) => t?.spec?.resources?.requests?.storage as string | undefined;
const gib = (q: string | undefined) => (q === undefined ? undefined : Number(/^(\d+)Gi$/.exec(q)?.[1] ?? Number.NaN));

/**
 * Compare the previous synth with the new one, object by object (kind and name), for what the
 * API server refuses to change in place and what moves data. Pure: manifests in, problems out.
 */
export function switchProblems(previous: readonly K8sObject[], next: readonly K8sObject[], p: ResolvedProfile): SwitchProblem[] {
  const ns = p.kubernetes.namespace;
  const kubectl = `kubectl -n ${ns}`;
  const problems: SwitchProblem[] = [];
  const before = new Map(previous.map((o) => [keyOf(o, ns), o]));
  const add = (o: K8sObject, field: string, message: string, steps: string[]) => problems.push({ object: refOf(o), field, message, steps });

  for (const now of next) {
    const was = before.get(keyOf(now, ns));
    if (!was) continue;
    const name = now.metadata.name;
    const orphanAndApply = [`${kubectl} delete ${now.kind.toLowerCase()} ${name} --cascade=orphan   # its pods keep running and serving`, 'apply the new synth: the new object adopts the running pods and replaces them one by one'];
    if (now.kind === 'StatefulSet') {
      for (const field of ['selector', 'serviceName', 'podManagementPolicy'] as const) {
        if (json(was.spec?.[field]) !== json(now.spec?.[field])) add(now, `spec.${field}`, `spec.${field} changes from ${json(was.spec?.[field])} to ${json(now.spec?.[field])}; the API server refuses to change it in place (StatefulSet fields other than replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and minReadySeconds are immutable)`, orphanAndApply);
      }
      const oldClaims = (was.spec?.volumeClaimTemplates ?? []) as any[];
      const newClaims = (now.spec?.volumeClaimTemplates ?? []) as any[];
      if (json(oldClaims) !== json(newClaims)) {
        const replicas = Math.max(was.spec?.replicas ?? 1, 1);
        const claimNames = (claim: string) => Array.from({ length: replicas }, (_, i) => `${claim}-${name}-${i}`);
        const oldSize = gib(claimSize(oldClaims[0]));
        const newSize = gib(claimSize(newClaims[0]));
        const sameOtherwise = oldClaims.length === 1 && newClaims.length === 1 && json({ ...oldClaims[0], spec: { ...oldClaims[0].spec, resources: undefined } }) === json({ ...newClaims[0], spec: { ...newClaims[0].spec, resources: undefined } });
        if (sameOtherwise && oldSize !== undefined && newSize !== undefined && newSize > oldSize) {
          add(now, 'spec.volumeClaimTemplates', `the claim template grows from ${oldSize}Gi to ${newSize}Gi; volumeClaimTemplates are immutable, and the existing claims keep their size`, [
            ...claimNames(oldClaims[0].metadata.name).map((c) => `${kubectl} patch pvc ${c} -p '{"spec":{"resources":{"requests":{"storage":"${newSize}Gi"}}}}'   # grows in place: the StorageClass has allowVolumeExpansion`),
            ...orphanAndApply,
          ]);
        } else if (sameOtherwise && oldSize !== undefined && newSize !== undefined && newSize < oldSize) {
          add(now, 'spec.volumeClaimTemplates', `the claim template shrinks from ${oldSize}Gi to ${newSize}Gi; volumeClaimTemplates are immutable, and no volume shrinks`, [
            `keep ${oldSize}Gi (set the profile's storage back to ${oldSize}), or move the data to smaller volumes:`,
            ...(name === 'postgres' ? [`${kubectl} exec ${name}-0 -c postgres -- pg_dump -U apistack -Fc apistack > apistack.dump   # with the API scaled to 0`] : [`${name} holds cache data only: nothing to keep`]),
            `${kubectl} delete statefulset ${name}`,
            `${kubectl} delete pvc ${claimNames(oldClaims[0].metadata.name).join(' ')}`,
            'apply the new synth',
            ...(name === 'postgres' ? [`${kubectl} exec -i ${name}-0 -c postgres -- pg_restore -U apistack -d apistack --clean --if-exists < apistack.dump`] : []),
          ]);
        } else {
          add(now, 'spec.volumeClaimTemplates', `the claim templates change (${oldClaims.length ? `${oldClaims.map((c) => `${c.metadata.name} ${claimSize(c)} of ${c.spec?.storageClassName ?? 'the default class'}`).join(', ')}` : 'none'} → ${newClaims.length ? newClaims.map((c) => `${c.metadata.name} ${claimSize(c)} of ${c.spec?.storageClassName ?? 'the default class'}`).join(', ') : 'none'}); volumeClaimTemplates are immutable`, [
            ...(name === 'postgres' ? [`${kubectl} exec ${name}-0 -c postgres -- pg_dump -U apistack -Fc apistack > apistack.dump   # with the API scaled to 0`] : [`${name} holds cache data only: nothing to keep`]),
            `${kubectl} delete statefulset ${name}${oldClaims.length ? ` && ${kubectl} delete pvc ${claimNames(oldClaims[0].metadata.name).join(' ')}` : ''}`,
            'apply the new synth',
            ...(name === 'postgres' ? [`${kubectl} exec -i ${name}-0 -c postgres -- pg_restore -U apistack -d apistack --clean --if-exists < apistack.dump`] : []),
          ]);
        }
      }
    }
    const autoscaled = next.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec?.scaleTargetRef?.kind === 'Deployment' && o.spec?.scaleTargetRef?.name === name);
    if (now.kind === 'Deployment' && was.spec?.replicas !== undefined && now.spec?.replicas === undefined && autoscaled) {
      // kubectl deletes a field the last apply set and this one lacks: replicas would drop to the default of 1 before the HPA scales back up.
      add(now, 'spec.replicas', `an HPA takes over the replicas (${was.spec.replicas} fixed until now); applying the synth that drops spec.replicas first sets the Deployment to 1 pod`, [
        `${kubectl} apply view-last-applied deployment/${name} -o json | jq 'del(.spec.replicas)' | ${kubectl} apply set-last-applied -f -   # the running replicas stay; the next apply leaves them to the HPA`,
        'apply the new synth',
      ]);
    }
    if (now.kind === 'Deployment' && json(was.spec?.selector) !== json(now.spec?.selector)) {
      add(now, 'spec.selector', `spec.selector changes from ${json(was.spec?.selector)} to ${json(now.spec?.selector)}; a Deployment's selector is immutable`, [`${kubectl} delete deployment ${name}   # a short gap while the new pods start`, 'apply the new synth']);
    }
    if (now.kind === 'Service') {
      const headless = (o: K8sObject) => o.spec?.clusterIP === 'None';
      if (headless(was) !== headless(now)) {
        add(now, 'spec.clusterIP', `the Service turns ${headless(now) ? 'headless (clusterIP: None)' : 'from headless to a virtual IP'}; spec.clusterIP is immutable once set`, [`${kubectl} delete service ${name}   # clients resolve the name again once it is back`, 'apply the new synth']);
      }
    }
    if (now.kind === 'Job') {
      if (json(was.spec?.template) !== json(now.spec?.template)) add(now, 'spec.template', 'the Job\'s pod template changes; a Job\'s template is immutable', [`${kubectl} delete job ${name}   # it has run; the new one runs once applied`, 'apply the new synth']);
    }
    if (now.kind === 'StorageClass') {
      for (const field of ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode'] as const) {
        if (json(was[field]) !== json(now[field])) add(now, field, `${field} changes from ${json(was[field])} to ${json(now[field])}; a StorageClass's ${field} is immutable (volumes it made keep theirs)`, [`kubectl delete storageclass ${name}   # the volumes it provisioned stay`, 'apply the new synth: new claims get the new settings']);
      }
    }
    if (now.kind === 'Cluster' && groupOf(now) === 'postgresql.cnpg.io') {
      const oldSize = gib(was.spec?.storage?.size);
      const newSize = gib(now.spec?.storage?.size);
      if (oldSize !== undefined && newSize !== undefined && newSize < oldSize) add(now, 'spec.storage.size', `storage shrinks from ${oldSize}Gi to ${newSize}Gi; CloudNativePG grows volumes but never shrinks them`, [`keep ${oldSize}Gi (set postgres.storageGiB back to ${oldSize}), or create a second Cluster of ${newSize}Gi bootstrapped from this one (bootstrap.pg_basebackup or import) and move the API to it`]);
    }
  }

  // Postgres moving home: a new, empty database would serve while the old one's data stays on its volume.
  const home = (objects: readonly K8sObject[]) => objects.find((o) => (o.kind === 'StatefulSet' && o.metadata.name === 'postgres') || (o.kind === 'Cluster' && groupOf(o) === 'postgresql.cnpg.io'));
  const [from, to] = [home(previous), home(next)];
  if (from && to && keyOf(from, ns) !== keyOf(to, ns)) {
    // In a CloudNativePG pod only the postgres superuser logs in over the local socket (peer); in the StatefulSet apistack is the superuser.
    const primary = (o: K8sObject) => `$(${kubectl} get pod -l cnpg.io/cluster=${o.metadata.name},cnpg.io/instanceRole=primary -o name)`;
    const source = from.kind === 'StatefulSet' ? `${kubectl} exec ${from.metadata.name}-0 -c postgres -- pg_dump -U apistack` : `${kubectl} exec ${primary(from)} -c postgres -- pg_dump -U postgres`;
    const target = to.kind === 'StatefulSet' ? `${kubectl} exec -i ${to.metadata.name}-0 -c postgres -- pg_restore -U apistack` : `${kubectl} exec -i ${primary(to)} -c postgres -- pg_restore -U postgres --role=apistack`;
    problems.push({
      object: refOf(to),
      field: 'Postgres',
      message: `Postgres moves from ${refOf(from)} to ${refOf(to)}: the new one starts empty and the API would switch to it, while the data stays on the old volume`,
      steps: [
        `${kubectl} scale deployment api --replicas=0   # no writes while the data moves`,
        `${source} -Fc apistack > apistack.dump`,
        'apply the new synth (with --prune it deletes the old workload; its PVC stays until you delete it)',
        `${target} -d apistack --clean --if-exists --no-owner < apistack.dump`,
        `${kubectl} scale deployment api --replicas=${p.derived.autoscaling.minReplicas}   # the HPA takes over`,
      ],
    });
  }
  return problems;
}

/** The refusal `synth` prints: every problem with its steps, then how to synth once they are done. */
export function renderSwitchRefusal(problems: readonly SwitchProblem[], dir: string): string {
  const lines = [`this synth cannot be applied over the previous one in ${dir} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`];
  for (const problem of problems) {
    lines.push(`  - ${problem.object} ${problem.field}: ${problem.message}`, '    to migrate:');
    problem.steps.forEach((step, i) => lines.push(`      ${i + 1}. ${step}`));
  }
  lines.push(`Once the cluster is migrated (or to apply to a new cluster), remove ${dir} and synth again; docs/kubernetes-data.md explains each step.`);
  return lines.join('\n');
}

/** Every object of a synthesized app, as it will be written (without writing anything). */
export function appObjects(app: App): K8sObject[] {
  return app.charts.flatMap((chart) => chart.toJson() as K8sObject[]);
}

/** The objects of the YAML files a previous synth wrote in `dir` (none when there is no previous synth). */
export function readManifests(dir: string): K8sObject[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as K8sObject | null))
    .filter((o): o is K8sObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}
