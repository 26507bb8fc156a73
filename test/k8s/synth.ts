/** Synthesize the Kubernetes app into a temporary directory and read back every object, file by file. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubernetesApp, type KubernetesAppProps } from '../../charts/index.ts';
import { tempDir } from '../helpers/servers.ts';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

export interface Synthesized {
  readonly dir: string;
  readonly files: string[];
  readonly objects: K8sObject[];
  find(kind: string, name: string): K8sObject;
}

export function synthObjects(props: Omit<KubernetesAppProps, 'outdir'>): Synthesized {
  const dir = tempDir('apistack-k8s-');
  kubernetesApp({ ...props, outdir: dir }).synth();
  const files = readdirSync(dir).sort();
  const objects = files.flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as K8sObject)).filter(Boolean);
  return {
    dir,
    files,
    objects,
    find(kind, name) {
      const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
      if (!o) throw new Error(`no ${kind}/${name} in ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
      return o;
    },
  };
}

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job'];
export const workloadsOf = (objects: K8sObject[]) => objects.filter((o) => WORKLOAD_KINDS.includes(o.kind));
export const jobsNamed = (objects: K8sObject[], prefix: string) => objects.filter((o) => o.kind === 'Job' && o.metadata.name.startsWith(`${prefix}-`));

/** The ConfigMaps a pod template reads: `envFrom`, `env[].valueFrom.configMapKeyRef` and volumes. */
export function configMapsReadBy(template: any): string[] {
  const spec = template.spec;
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  const names = new Set<string>();
  for (const c of containers) {
    for (const e of c.envFrom ?? []) if (e.configMapRef) names.add(e.configMapRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef) names.add(e.valueFrom.configMapKeyRef.name);
  }
  for (const v of spec.volumes ?? []) if (v.configMap) names.add(v.configMap.name);
  return [...names].sort();
}

export const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

export interface PeerPod {
  readonly namespace: string;
  /** The namespace's labels; Kubernetes sets kubernetes.io/metadata.name on every namespace. */
  readonly namespaceLabels?: Record<string, string>;
  readonly labels: Record<string, string>;
}

/**
 * NetworkPolicy ingress as the API server defines it: a pod selected by no Ingress policy takes
 * everything; otherwise a connection is allowed when one rule of one policy selecting the pod
 * lets the peer in on that port. (matchLabels only: the charts write no matchExpressions.)
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/
 */
export function ingressAllowed(objects: K8sObject[], to: PeerPod, from: PeerPod, port: number): boolean {
  const nsLabels = { 'kubernetes.io/metadata.name': from.namespace, ...from.namespaceLabels };
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && (o.metadata.namespace ?? '') === to.namespace && matches(o.spec.podSelector?.matchLabels, to.labels) && (o.spec.policyTypes ?? ['Ingress']).includes('Ingress'));
  if (policies.length === 0) return true;
  const peerMatches = (peer: any) => {
    if (peer.ipBlock) return false;
    if (peer.namespaceSelector) return matches(peer.namespaceSelector.matchLabels, nsLabels) && (!peer.podSelector || matches(peer.podSelector.matchLabels, from.labels));
    return from.namespace === to.namespace && matches(peer.podSelector?.matchLabels, from.labels);
  };
  return policies.some((p) => (p.spec.ingress ?? []).some((rule: any) => (!rule.from || rule.from.some(peerMatches)) && (!rule.ports || rule.ports.some((x: any) => x.port === port))));
}
