/**
 * What every chart shares: labels and selectors, images, the restricted pod security settings,
 * resources and probes as cdk8s-plus-27 props, and the typed `manifest()` for kinds cdk8s-plus-27
 * has no construct for.
 */
import { createHash } from 'node:crypto';
import { ApiObject, Duration, Size, type ApiObjectProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { ContainerResources } from '../lib/profile/workloads.ts';
import { EC2_FAMILIES, splitInstanceType } from '../lib/profile/instances.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { PROMETHEUS_OPERATOR_DEFAULTS } from '../lib/profile/schema.ts';

/**
 * A built-in object written by hand, typed by the Kubernetes OpenAPI schema: an unknown or
 * misspelt key is a type error at `npm run typecheck`, before any YAML is written. The charts use
 * it only for kinds cdk8s-plus-27 has no construct for (PodDisruptionBudget).
 */
export type Manifest =
  | IDeployment
  | IStatefulSet
  | IJob
  | IHorizontalPodAutoscaler
  | IPodDisruptionBudget
  | INetworkPolicy
  | IRole
  | IRoleBinding
  | IConfigMap
  | INamespace
  | ISecret
  | IService
  | IServiceAccount;

export function manifest(scope: Construct, id: string, object: Manifest): ApiObject {
  return new ApiObject(scope, id, object as unknown as ApiObjectProps);
}

export const PART_OF = 'apistack';
/** Non-root uid/gid for every pod (Pod Security Standards "restricted"; ≥ 10000 keeps clear of host users). */
export const RUN_AS = 10001;

export { DATABASE, CONTAINER_IMAGES as IMAGES } from '../lib/profile/index.ts';

/**
 * The `kubernetes.io/arch` of the profile's node type (Graviton families are arm64), or undefined
 * for a type apistack does not know, whose pods then schedule on any node.
 */
export function nodeArchitecture(p: ResolvedProfile): 'amd64' | 'arm64' | undefined {
  const family = EC2_FAMILIES[splitInstanceType(p.kubernetes.nodeInstanceType)?.family ?? ''];
  if (!family) return undefined;
  return family.architecture === 'arm64' ? 'arm64' : 'amd64';
}

/** What the Prometheus Operator's Prometheus selects, and where it runs: the profile's, else kube-prometheus-stack's defaults. */
export function operatorSelection(p: ResolvedProfile): { selectorLabels: Record<string, string>; prometheusNamespace: string; prometheusPodLabels: Record<string, string> } {
  const m = p.monitoring;
  return {
    selectorLabels: { ...(m.operatorSelectorLabels ?? PROMETHEUS_OPERATOR_DEFAULTS.selectorLabels) },
    prometheusNamespace: m.operatorPrometheusNamespace ?? PROMETHEUS_OPERATOR_DEFAULTS.prometheusNamespace,
    prometheusPodLabels: { ...(m.operatorPrometheusPodLabels ?? PROMETHEUS_OPERATOR_DEFAULTS.prometheusPodLabels) },
  };
}

/** The API image: `--image`, else the profile's repository and tag. */
export function apiImage(p: ResolvedProfile, override?: string): string {
  return override ?? `${p.api.imageRepository}:${p.api.imageTag}`;
}

/** The pod annotation that carries the checksum of the configuration its pods read. */
export const CONFIG_CHECKSUM_ANNOTATION = 'apistack.dev/config-sha256';

/**
 * The checksum annotation over every ConfigMap a pod reads (environment or files): a change to
 * any of them changes the pod template, so the workload rolls, as it would on a new image.
 * Kubernetes itself never restarts a pod for a changed ConfigMap (environment variables are read
 * at start; a `subPath` mount never updates).
 */
export function configChecksum(...configMaps: kplus.ConfigMap[]): Record<string, string> {
  const hash = createHash('sha256');
  for (const c of configMaps) hash.update(JSON.stringify([c.name, c.data, c.binaryData]));
  return { [CONFIG_CHECKSUM_ANNOTATION]: hash.digest('hex') };
}

export function labels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': PART_OF };
}

export function selector(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name };
}

/** `metadata` of an object that belongs to `name`. */
export function meta(objectName: string, owner: string = objectName): { name: string; labels: Record<string, string> } {
  return { name: objectName, labels: labels(owner) };
}

/**
 * The props every workload shares. `select: false`, then `selectByName`: cdk8s-plus-27 would
 * select pods by its `cdk8s.io/metadata.addr` label, whose value comes from the construct path;
 * a workload's selector is immutable, so it stays the `app.kubernetes.io/name` that clusters run.
 * The address label itself stays on the pods (cdk8s-plus adds it; it is derived from the path,
 * so it is the same on every synth).
 */
export function workloadProps(name: string) {
  return {
    metadata: meta(name),
    podMetadata: { labels: labels(name) },
    select: false,
    securityContext: podSecurityContext(),
    // Only Prometheus needs the API token (pod discovery); it turns this on.
    automountServiceAccountToken: false,
  } satisfies kplus.WorkloadProps;
}

export function selectByName<T extends kplus.Workload>(workload: T, name: string): T {
  workload.select(kplus.LabelSelector.of({ labels: selector(name) }));
  return workload;
}

/** Pod Security Standards "restricted" at pod level; seccompProfile is added by `seccompRuntimeDefault`. */
export function podSecurityContext(): kplus.PodSecurityContextProps {
  return { ensureNonRoot: true, user: RUN_AS, group: RUN_AS, fsGroup: RUN_AS };
}

/** Pod Security Standards "restricted" per container; seccompProfile is added by `seccompRuntimeDefault`. */
export function containerSecurityContext(): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    // cdk8s-plus-27's Capability enum has no ALL; Kubernetes takes "ALL", and "restricted" requires dropping it.
    capabilities: { drop: ['ALL' as kplus.Capability] },
  };
}

/**
 * A container with the profile's requests and limits and the restricted security context.
 * Images are pinned, so they are pulled only when missing (cdk8s-plus-27 defaults to Always).
 */
export function container(r: ContainerResources, props: Omit<kplus.ContainerProps, 'name' | 'resources' | 'securityContext'>): kplus.ContainerProps {
  return { name: r.name, imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT, ...props, resources: resources(r), securityContext: containerSecurityContext() };
}

/** Requests and limits exactly as `kubernetesWorkloads` sizes them (what the cost model prices); never cdk8s-plus's defaults. */
export function resources(c: ContainerResources): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(c.cpuRequestMillicores), limit: kplus.Cpu.millis(c.cpuLimitMillicores) },
    memory: { request: Size.mebibytes(c.memoryRequestMiB), limit: Size.mebibytes(c.memoryLimitMiB) },
  };
}

/** Probe timings in seconds, as the Kubernetes fields are; cdk8s-plus takes Durations. */
export interface ProbeTimings {
  readonly periodSeconds: number;
  /** @default 3 (the Kubernetes default, which cdk8s-plus-27 writes out) */
  readonly failureThreshold?: number;
  /** @default 1 (the Kubernetes default) */
  readonly timeoutSeconds?: number;
}

function probeOptions(t: ProbeTimings): kplus.ProbeOptions {
  return {
    periodSeconds: Duration.seconds(t.periodSeconds),
    ...(t.failureThreshold !== undefined ? { failureThreshold: t.failureThreshold } : {}),
    ...(t.timeoutSeconds !== undefined ? { timeoutSeconds: Duration.seconds(t.timeoutSeconds) } : {}),
  };
}

/** The port is always given: cdk8s-plus-27 would otherwise probe port 80. */
export function httpProbe(path: string, port: number, t: ProbeTimings): kplus.Probe {
  return kplus.Probe.fromHttpGet(path, { port, ...probeOptions(t) });
}

export function tcpProbe(port: number, t: ProbeTimings): kplus.Probe {
  return kplus.Probe.fromTcpSocket({ port, ...probeOptions(t) });
}

export function execProbe(command: string[], t: ProbeTimings): kplus.Probe {
  return kplus.Probe.fromCommand(command, probeOptions(t));
}

/** `sleep N` before SIGTERM, so load balancers stop routing before the process starts draining. */
export function preStopSleep(seconds: number): kplus.ContainerLifecycle {
  return { preStop: kplus.Handler.fromCommand(['sleep', String(seconds)]) };
}

export function emptyDir(scope: Construct, name: string): kplus.Volume {
  return kplus.Volume.fromEmptyDir(scope, `${name}-volume`, name);
}

/** A Service selecting the pods of `name` by their name label, with numeric target ports (all cdk8s-plus-27 takes). */
export function serviceFor(scope: Construct, id: string, props: { name: string; owner: string; ports: kplus.ServicePort[]; type?: kplus.ServiceType; headless?: boolean; annotations?: Record<string, string> }): kplus.Service {
  const service = new kplus.Service(scope, id, {
    metadata: { ...meta(props.name, props.owner), ...(props.annotations ? { annotations: props.annotations } : {}) },
    type: props.type ?? kplus.ServiceType.CLUSTER_IP,
    ...(props.headless ? { clusterIP: 'None' } : {}),
    ports: props.ports,
  });
  for (const [key, value] of Object.entries(selector(props.owner))) service.selectLabel(key, value);
  return service;
}

/**
 * Scaling policies as Kubernetes applies them when none are given (scale up by 100% or 4 pods
 * per 15 s, whichever is more; scale down by up to 100% per 15 s), with the stabilization windows
 * from the profile. cdk8s-plus-27 would write its own policies (4 pods or 200% a minute up, only
 * minReplicas pods per 5 minutes down).
 * @see https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#default-behavior
 */
export function kubernetesDefaultScaling(scaleUpStabilizationSeconds: number, scaleDownStabilizationSeconds: number): Pick<kplus.HorizontalPodAutoscalerProps, 'scaleUp' | 'scaleDown'> {
  const every15s = Duration.seconds(15);
  return {
    scaleUp: {
      stabilizationWindow: Duration.seconds(scaleUpStabilizationSeconds),
      strategy: kplus.ScalingStrategy.MAX_CHANGE,
      policies: [
        { replicas: kplus.Replicas.percent(100), duration: every15s },
        { replicas: kplus.Replicas.absolute(4), duration: every15s },
      ],
    },
    scaleDown: {
      stabilizationWindow: Duration.seconds(scaleDownStabilizationSeconds),
      strategy: kplus.ScalingStrategy.MAX_CHANGE,
      policies: [{ replicas: kplus.Replicas.percent(100), duration: every15s }],
    },
  };
}

/** At most one pod of `name` down at a time during voluntary disruptions (cdk8s-plus-27 has no PodDisruptionBudget). */
export function podDisruptionBudget(scope: Construct, name: string): ApiObject {
  return manifest(scope, 'pdb', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(name), spec: { maxUnavailable: 1, selector: { matchLabels: selector(name) } } });
}
