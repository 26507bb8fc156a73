/** What every chart shares: labels, images, the restricted pod security settings, resources. */
import { randomBytes } from 'node:crypto';
import { ApiObject, type ApiObjectProps } from 'cdk8s';
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

/**
 * Every built-in object the charts emit, typed by the Kubernetes OpenAPI schema: an unknown or
 * misspelt key is a type error at `npm run typecheck`, before any YAML is written.
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

type PodSpec = NonNullable<NonNullable<IDeployment['spec']>['template']['spec']>;
type Container = PodSpec['containers'][number];
type EnvVar = NonNullable<Container['env']>[number];

export const PART_OF = 'apistack';
/** Non-root uid/gid for every pod (Pod Security Standards "restricted"; ≥ 10000 keeps clear of host users). */
export const RUN_AS = 10001;

/** Third-party images, pinned. */
export const IMAGES = {
  postgresExporter: 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0',
  redisExporter: 'oliver006/redis_exporter:v1.62.0',
  nginxExporter: 'nginx/nginx-prometheus-exporter:1.3.0',
  prometheus: 'prom/prometheus:v2.54.1',
  grafana: 'grafana/grafana:11.2.0',
} as const;

export function labels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': PART_OF };
}

export function selector(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name };
}

export function podSecurityContext(): NonNullable<PodSpec['securityContext']> {
  return { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS, seccompProfile: { type: 'RuntimeDefault' } };
}

export function containerSecurityContext(): NonNullable<Container['securityContext']> {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
}

export function resources(c: ContainerResources): NonNullable<Container['resources']> {
  return {
    requests: { cpu: `${c.cpuRequestMillicores}m`, memory: `${c.memoryRequestMiB}Mi` },
    limits: { cpu: `${c.cpuLimitMillicores}m`, memory: `${c.memoryLimitMiB}Mi` },
  };
}

export function secretRef(secret: string, key: string): Pick<EnvVar, 'valueFrom'> {
  return { valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** Secret values generated at synth time; pass your own to keep them stable across syntheses. */
export interface SecretValues {
  readonly postgresPassword: string;
  readonly redisPassword: string;
  readonly adminToken: string;
  readonly grafanaAdminPassword: string;
}

export function generateSecretValues(): SecretValues {
  const s = () => randomBytes(24).toString('base64url');
  return { postgresPassword: s(), redisPassword: s(), adminToken: s(), grafanaAdminPassword: s() };
}

/** At most one pod of `name` down at a time during voluntary disruptions. */
export function podDisruptionBudget(scope: Construct, name: string): ApiObject {
  return manifest(scope, 'pdb', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, labels: labels(name) }, spec: { maxUnavailable: 1, selector: { matchLabels: selector(name) } } });
}

type StatefulSetSpec = NonNullable<IStatefulSet['spec']>;
/** The `data` volume claim of a StatefulSet, sized and classed from the profile. */
export function dataVolumeClaim(name: string, storageClassName: string, sizeGiB: number): NonNullable<StatefulSetSpec['volumeClaimTemplates']>[number] {
  return { metadata: { name: 'data', labels: labels(name) }, spec: { accessModes: ['ReadWriteOnce'], storageClassName, resources: { requests: { storage: `${sizeGiB}Gi` } } } };
}
