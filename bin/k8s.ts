/** The cdk8s app: `tsx bin/k8s.ts [profile] [outdir]` writes the Kubernetes YAML (also `apistack synth --target k8s`). */
import { join } from 'node:path';
import { kubernetesApp } from '../charts/index.ts';
import { DEFAULT_PROFILE, loadProfile } from '../lib/profile/index.ts';

export function synthKubernetes(profileRef: string, outDir: string, apiImage?: string): string {
  const outdir = join(outDir, 'k8s');
  kubernetesApp({ profile: loadProfile(profileRef), outdir, ...(apiImage ? { apiImage } : {}) }).synth();
  return outdir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`wrote ${synthKubernetes(process.argv[2] ?? DEFAULT_PROFILE, process.argv[3] ?? 'dist')}`);
}
