/** The cdk8s app: `tsx bin/k8s.ts [profile] [outdir]` writes the Kubernetes YAML (also `apistack synth --target k8s`). */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { appObjects, readManifests, renderSwitchRefusal, switchProblems } from '../charts/apply.ts';
import { kubernetesApp } from '../charts/index.ts';
import type { Scenario } from '../lib/loadtest/scenario.ts';
import { DEFAULT_PROFILE, loadProfile, type ResolvedProfile } from '../lib/profile/index.ts';
import { UserError } from '../lib/errors.ts';

/** `loadTest`: also write 90-loadtest.yaml, this scenario's k6 Jobs (`synth --loadtest`). */
export function synthKubernetes(profile: string | ResolvedProfile, outDir: string, apiImage?: string, loadTest?: Scenario): string {
  const outdir = join(outDir, 'k8s');
  // A load test written by an earlier synth must not be applied with a stack that no longer receives its metrics.
  rmSync(join(outdir, '90-loadtest.yaml'), { force: true });
  const resolved = typeof profile === 'string' ? loadProfile(profile) : profile;
  const app = kubernetesApp({ profile: resolved, outdir, ...(apiImage ? { apiImage } : {}), ...(loadTest ? { loadTest } : {}) });
  // Refused before anything is written: what the cluster would reject over the previous synth, with the steps to migrate.
  const problems = switchProblems(readManifests(outdir), appObjects(app), resolved);
  if (problems.length > 0) throw new UserError(renderSwitchRefusal(problems, outdir), problems.map((x) => `${x.object} ${x.field}: ${x.message}`));
  app.synth();
  return outdir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`wrote ${synthKubernetes(process.argv[2] ?? DEFAULT_PROFILE, process.argv[3] ?? 'dist')}`);
}
