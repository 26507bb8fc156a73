/** The cdk8s app: `tsx bin/k8s.ts [profile] [outdir]` writes the Kubernetes YAML (also `apistack synth --target k8s`). */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { kubernetesApp } from '../charts/index.ts';
import type { Scenario } from '../lib/loadtest/scenario.ts';
import { DEFAULT_PROFILE, loadProfile, type ResolvedProfile } from '../lib/profile/index.ts';

/** `loadTest`: also write 90-loadtest.yaml, this scenario's k6 Jobs (`synth --loadtest`). */
export function synthKubernetes(profile: string | ResolvedProfile, outDir: string, apiImage?: string, loadTest?: Scenario): string {
  const outdir = join(outDir, 'k8s');
  // A load test written by an earlier synth must not be applied with a stack that no longer receives its metrics.
  rmSync(join(outdir, '90-loadtest.yaml'), { force: true });
  kubernetesApp({ profile: typeof profile === 'string' ? loadProfile(profile) : profile, outdir, ...(apiImage ? { apiImage } : {}), ...(loadTest ? { loadTest } : {}) }).synth();
  return outdir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`wrote ${synthKubernetes(process.argv[2] ?? DEFAULT_PROFILE, process.argv[3] ?? 'dist')}`);
}
