/**
 * Escape hatches: the fields cdk8s-plus-27 does not model, set with JSON patches on the object a
 * construct synthesizes. One helper per missing field. A patch applies before cdk8s-plus's
 * generated Kubernetes types render the object, so each value is typed by those (`kplus.k8s`):
 * a misspelt key fails the typecheck, and a quantity is a `Quantity`, as they expect.
 */
import { createHash } from 'node:crypto';
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { labels, selector } from './common.ts';

type PodTemplated = kplus.Deployment | kplus.StatefulSet | kplus.Job;
const POD_SPEC = '/spec/template/spec';

/**
 * `seccompProfile: RuntimeDefault` on the pod and on every container, which Pod Security
 * Standards "restricted" requires: cdk8s-plus-27's PodSecurityContext and
 * ContainerSecurityContext have no seccompProfile. Call it once every container is added.
 */
export function seccompRuntimeDefault(workload: PodTemplated): void {
  const runtimeDefault: kplus.k8s.SeccompProfile = { type: 'RuntimeDefault' };
  const object = ApiObject.of(workload);
  object.addJsonPatch(JsonPatch.add(`${POD_SPEC}/securityContext/seccompProfile`, runtimeDefault));
  workload.containers.forEach((_, i) => object.addJsonPatch(JsonPatch.add(`${POD_SPEC}/containers/${i}/securityContext/seccompProfile`, runtimeDefault)));
  workload.initContainers.forEach((_, i) => object.addJsonPatch(JsonPatch.add(`${POD_SPEC}/initContainers/${i}/securityContext/seccompProfile`, runtimeDefault)));
}

/**
 * `parallelism`, `completions` and `completionMode: Indexed`: cdk8s-plus-27's Job has none of
 * them. Indexed, every pod is told its index (JOB_COMPLETION_INDEX, 0..pods-1), which is how N
 * load-test runners each take their exact share.
 * @see https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode
 */
export function indexedParallelJob(job: kplus.Job, pods: number): void {
  const spec: Required<Pick<kplus.k8s.JobSpec, 'parallelism' | 'completions' | 'completionMode'>> = { parallelism: pods, completions: pods, completionMode: 'Indexed' };
  const object = ApiObject.of(job);
  for (const [field, value] of Object.entries(spec)) object.addJsonPatch(JsonPatch.add(`/spec/${field}`, value));
}

/**
 * `topologySpreadConstraints` with `whenUnsatisfiable: ScheduleAnyway`: cdk8s-plus-27 has none;
 * its `scheduling.spread` is pod anti-affinity, which keeps pods apart rather than balancing them
 * (maxSkew) over nodes and zones. Preferred, not required, so a small cluster still schedules
 * every replica.
 */
export function preferredTopologySpread(workload: kplus.Deployment, name: string, topologyKeys: readonly string[]): void {
  const constraints: kplus.k8s.TopologySpreadConstraint[] = topologyKeys.map((topologyKey) => ({ maxSkew: 1, topologyKey, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector(name) } }));
  ApiObject.of(workload).addJsonPatch(JsonPatch.add(`${POD_SPEC}/topologySpreadConstraints`, constraints));
}

export interface DataVolumeClaimProps {
  /** The workload the claim belongs to (its labels). */
  readonly name: string;
  /** The container that mounts the volume. */
  readonly container: kplus.Container;
  readonly mountPath: string;
  readonly storageClassName: string;
  readonly sizeGiB: number;
}

/**
 * The `data` entry of `volumeClaimTemplates` and its volume mount: cdk8s-plus-27's StatefulSet
 * has no volumeClaimTemplates, and a container can mount only a Volume of the pod, not a claim
 * template. Call it once the container's other mounts are set.
 */
export function dataVolumeClaim(statefulSet: kplus.StatefulSet, props: DataVolumeClaimProps): void {
  const claim: kplus.k8s.KubePersistentVolumeClaimProps = {
    metadata: { name: 'data', labels: labels(props.name) },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: props.storageClassName, resources: { requests: { storage: kplus.k8s.Quantity.fromString(`${props.sizeGiB}Gi`) } } },
  };
  const mount: kplus.k8s.VolumeMount = { name: 'data', mountPath: props.mountPath };
  const index = statefulSet.containers.indexOf(props.container);
  if (index < 0) throw new Error(`dataVolumeClaim: container "${props.container.name}" is not in StatefulSet ${statefulSet.name}`);
  const mounts = `${POD_SPEC}/containers/${index}/volumeMounts`;
  const object = ApiObject.of(statefulSet);
  object.addJsonPatch(JsonPatch.add('/spec/volumeClaimTemplates', [claim]));
  // JSON Patch appends with "/-" only to an array that exists.
  object.addJsonPatch(props.container.mounts.length > 0 ? JsonPatch.add(`${mounts}/-`, mount) : JsonPatch.add(mounts, [mount]));
}

/**
 * Empty `ingress` and `egress` lists, with `policyTypes` in the order the Kubernetes docs'
 * default-deny example writes them: cdk8s-plus-27 writes a deny-all policy as `policyTypes` alone
 * (Egress first). Same meaning, but the YAML says "deny" where a reader looks for it.
 */
export function explicitDenyAll(policy: kplus.NetworkPolicy): void {
  const rules: Pick<kplus.k8s.NetworkPolicySpec, 'policyTypes' | 'ingress' | 'egress'> = { policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] };
  const object = ApiObject.of(policy);
  object.addJsonPatch(JsonPatch.replace('/spec/policyTypes', rules.policyTypes));
  object.addJsonPatch(JsonPatch.add('/spec/ingress', rules.ingress));
  object.addJsonPatch(JsonPatch.add('/spec/egress', rules.egress));
}

/**
 * A NetworkPolicy whose first `direction` rule has ports and no peers, which Kubernetes reads as
 * "from (or to) anywhere", inside the cluster and outside, on every CNI: cdk8s-plus-27 requires a
 * peer per rule, and an ipBlock of 0.0.0.0/0 is not the same (Cilium, for one, does not match
 * pods or the API server by CIDR). The rule is added through the construct with a stand-in peer
 * that is then removed; the policy is created here, so that rule is rule 0 of its direction.
 */
export function policyOpenToAnyPeer(scope: Construct, id: string, props: Omit<kplus.NetworkPolicyProps, 'ingress' | 'egress'>, direction: 'ingress' | 'egress', ports: kplus.NetworkPolicyPort[]): kplus.NetworkPolicy {
  const policy = new kplus.NetworkPolicy(scope, id, props);
  const standIn = kplus.NetworkPolicyIpBlock.anyIpv4(policy, 'any-peer');
  if (direction === 'ingress') policy.addIngressRule(standIn, ports);
  else policy.addEgressRule(standIn, ports);
  ApiObject.of(policy).addJsonPatch(JsonPatch.remove(direction === 'ingress' ? '/spec/ingress/0/from' : '/spec/egress/0/to'));
  return policy;
}

/**
 * `nodeSelector: kubernetes.io/arch`: the pods run where their images run. cdk8s-plus-27 models
 * node selection only as affinity (`scheduling.attract`), and a required label is what the
 * Kubernetes docs use for a single architecture.
 * @see https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-arch
 */
export function nodeArchitecture(workload: PodTemplated, architecture: 'amd64' | 'arm64'): void {
  const nodeSelector: kplus.k8s.PodSpec['nodeSelector'] = { 'kubernetes.io/arch': architecture };
  ApiObject.of(workload).addJsonPatch(JsonPatch.add(`${POD_SPEC}/nodeSelector`, nodeSelector));
}

/** The migrations Job's name before its template hash is appended (`nameByTemplate`). */
export const MIGRATIONS_JOB = 'migrations';

/**
 * Names a Job `PREFIX-HASH` after its own pod template (image, arguments, environment, node
 * selection), set once every other patch is added: a Job's template is immutable, so an apply
 * that changes it must create a new Job, never update the old one (`spec.template: field is
 * immutable`). An unchanged template keeps its name, so re-applying a synth changes nothing.
 */
export function nameByTemplate(job: kplus.Job, prefix: string): string {
  const object = ApiObject.of(job);
  const template = (object.toJson() as { spec: { template: unknown } }).spec.template;
  const name = `${prefix}-${createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10)}`;
  object.addJsonPatch(JsonPatch.replace('/metadata/name', name));
  return name;
}
