/** What every chart shares: labels, images, the restricted pod security settings, resources. */
import { randomBytes } from 'node:crypto';
import type { ContainerResources } from '../lib/profile/workloads.ts';

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

export function podSecurityContext(): Record<string, unknown> {
  return { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS, seccompProfile: { type: 'RuntimeDefault' } };
}

export function containerSecurityContext(): Record<string, unknown> {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
}

export function resources(c: ContainerResources): Record<string, unknown> {
  return {
    requests: { cpu: `${c.cpuRequestMillicores}m`, memory: `${c.memoryRequestMiB}Mi` },
    limits: { cpu: `${c.cpuLimitMillicores}m`, memory: `${c.memoryLimitMiB}Mi` },
  };
}

export function secretRef(secret: string, key: string): Record<string, unknown> {
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
