/** The nginx Service behind the AWS Load Balancer Controller's NLB: PROXY protocol v2 for client addresses, probes and in-cluster callers without it. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { kubernetesApp } from '../../charts/index.ts';
import { loadProfile, PORTS, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { NGINX_HEALTH_PATH } from '../../nginx/index.ts';
import { tempDir } from '../helpers/servers.ts';

type K8sObject = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

function synth(profile: ResolvedProfile): K8sObject[] {
  const outdir = tempDir('apistack-k8s-nlb-');
  kubernetesApp({ profile, outdir }).synth();
  return readdirSync(outdir).flatMap((f) => parseAllDocuments(readFileSync(join(outdir, f), 'utf8')).map((d) => d.toJSON() as K8sObject)).filter(Boolean);
}
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

describe('nginx behind the NLB on Kubernetes', () => {
  it('the LoadBalancer Service asks for PROXY protocol, nginx requires it there, and believes it from the VPC only', () => {
    const objects = synth(loadProfile('optimized'));
    const service = find(objects, 'Service', 'nginx')!;
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.metadata.annotations).toMatchObject({
      'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
      'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol': '*',
    });
    const conf = find(objects, 'ConfigMap', 'nginx-config')!.data!['nginx.conf']!;
    expect(conf).toContain(`listen ${PORTS.nginx} proxy_protocol;`);
    expect(conf).toContain('real_ip_header proxy_protocol;');
    expect([...conf.matchAll(/set_real_ip_from (\S+);/g)].map((m) => m[1])).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);

    // In-cluster callers and the kubelet send no header: a plain Service port and probes on the status port.
    const internal = find(objects, 'Service', 'nginx-internal')!;
    expect(internal.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(internal.spec.ports).toEqual([expect.objectContaining({ port: 80, targetPort: PORTS.nginxInternal })]);
    const nginx = find(objects, 'Deployment', 'nginx')!.spec.template.spec.containers.find((c: { name: string }) => c.name === 'nginx');
    for (const probe of [nginx.livenessProbe, nginx.readinessProbe]) expect(probe.httpGet).toMatchObject({ path: NGINX_HEALTH_PATH, port: PORTS.nginxStatus });
  });

  it('the trusted networks follow kubernetes.awsNlbSourceCidrs; without the NLB annotations there is no PROXY protocol', () => {
    const narrowed = synth(resolveProfileLayer({ extends: 'optimized', kubernetes: { awsNlbSourceCidrs: ['10.20.0.0/16'] } }));
    expect([...find(narrowed, 'ConfigMap', 'nginx-config')!.data!['nginx.conf']!.matchAll(/set_real_ip_from (\S+);/g)].map((m) => m[1])).toEqual(['10.20.0.0/16']);

    const plain = synth(resolveProfileLayer({ extends: 'optimized', kubernetes: { awsNlbAnnotations: false } }));
    expect(find(plain, 'ConfigMap', 'nginx-config')!.data!['nginx.conf']).not.toMatch(/proxy_protocol|set_real_ip_from/);
    expect(find(plain, 'Service', 'nginx-internal')).toBeUndefined();
    const nginx = find(plain, 'Deployment', 'nginx')!.spec.template.spec.containers.find((c: { name: string }) => c.name === 'nginx');
    expect(nginx.readinessProbe.httpGet.port).toBe(PORTS.nginx);
  });
});
