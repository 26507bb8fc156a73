/**
 * The first apply: `apistack synth --target k8s` refuses the placeholder image a cluster cannot
 * pull, and prints what the cluster must already run, derived from the profile.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterPrerequisites } from '../../charts/index.ts';
import { loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

const names = (p: ReturnType<typeof loadProfile>) => clusterPrerequisites(p).map((x) => x.name);

describe('apistack synth --target k8s: the image and the cluster prerequisites', () => {
  it('refuses the placeholder image with what to do, and writes nothing', () => {
    const out = tempDir('apistack-k8s-image-');
    const r = cli(['synth', '--target', 'k8s', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: profile "optimized" names the placeholder API image ghcr\.io\/apistack\/api:0\.1\.0, which no registry serves: build and push app\/Dockerfile .* then pass --image REGISTRY\/apistack-api:TAG or set api\.imageRepository and api\.imageTag in your profile; --placeholder-image writes the manifests anyway, for review only\n$/);
    expect(existsSync(join(out, 'k8s'))).toBe(false);
  }, 120_000);

  // CLI processes, each compiling the TypeScript: slow on a loaded 2-core machine.
  it('takes --image, or a profile that names its own image, and prints the prerequisites after writing', () => {
    const out = tempDir('apistack-k8s-image-');
    const r = cli(['synth', '--target', 'k8s', '--image', 'registry.example.com/apistack-api:1.0.0', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const first = lines.findIndex((l) => l.startsWith('the cluster must already run'));
    expect(first).toBeGreaterThan(lines.findLastIndex((l) => l.startsWith('wrote ')));
    for (const needle of ['registry.example.com/apistack-api:1.0.0', 'kubernetes.io/arch=arm64', 'AWS Load Balancer Controller', 'StorageClass "gp3"', 'EBS CSI driver', 'metrics-server', 'enableNetworkPolicy=true']) expect(r.stdout, needle).toContain(needle);

    const file = join(out, 'own-image.yaml');
    writeFileSync(file, 'extends: optimized\nname: own-image\napi:\n  imageRepository: registry.example.com/apistack-api\n  imageTag: 2.0.0\n');
    const own = cli(['synth', '--target', 'k8s', '--profile', file, '--out', out]);
    expect(own.status, own.stderr).toBe(0);
    expect(own.stdout).toContain('registry.example.com/apistack-api:2.0.0');
  }, 180_000);

  it('follows the profile: architecture, load balancer, operator', () => {
    expect(clusterPrerequisites(loadProfile('baseline')).find((x) => x.name === 'node-architecture')!.requirement).toContain('kubernetes.io/arch=amd64');
    expect(names(loadProfile('optimized'))).toEqual(['api-image', 'node-architecture', 'load-balancer-controller', 'storage-class', 'metrics-server', 'network-policy']);
    const plainLb = resolveProfileLayer({ extends: 'optimized', kubernetes: { awsNlbAnnotations: false } });
    expect(names(plainLb)).toContain('load-balancer');
    expect(names(plainLb)).not.toContain('load-balancer-controller');
    const operator = clusterPrerequisites(resolveProfileLayer({ extends: 'optimized', monitoring: { prometheusOperator: true } })).find((x) => x.name === 'prometheus-operator')!;
    expect(operator.requirement).toContain('release=kube-prometheus-stack');
    expect(operator.requirement).toContain('namespace monitoring');
    const alerting = clusterPrerequisites(resolveProfileLayer({ extends: 'optimized', monitoring: { alertmanagerUrl: 'http://alertmanager.monitoring.svc:9093' } }));
    expect(alerting.find((x) => x.name === 'alertmanager')!.requirement).toContain('http://alertmanager.monitoring.svc:9093');
  });
});
