import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { kubernetesNginxConfig } from '../../charts/index.ts';
import { DEFAULT_PROFILE, loadProfile, PLACEHOLDER_API_IMAGE, type ResolvedProfile } from '../../lib/profile/index.ts';
import { synthAws } from '../aws.ts';
import { synthKubernetes } from '../k8s.ts';
import { describeAwsAssembly } from './synth.ts';
import { Catalog } from '../../lib/cost/index.ts';
import { costReport } from './cost.ts';
import { profileSummary } from './profile.ts';

/**
 * The main job (`npm start`): synthesize every target that exists for the profile, then print
 * the savings table baseline vs optimized on each target.
 */
export function registerMainCommand(program: Command): void {
  program
    .command('main')
    .description('synthesize every target for a profile and print the cost summary (what `npm start` runs)')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-o, --out <dir>', 'output directory', 'dist')
    .action(async (opts: { profile: string; out: string }) => {
      const profile = loadProfile(opts.profile);
      console.log(`profile ${profileSummary(profile)}`);
      for (const file of synthesizeNginx(profile, opts.out)) console.log(`wrote ${file}`);
      const k8sDir = synthKubernetes(profile, opts.out);
      for (const f of readdirSync(k8sDir).sort()) console.log(`wrote ${join(k8sDir, f)}`);
      if (profile.api.imageRepository === PLACEHOLDER_API_IMAGE.repository) console.log(`note: ${k8sDir} names the placeholder API image, for review; to deploy, build and push app/Dockerfile and run apistack synth --target k8s --image REGISTRY/apistack-api:TAG (docs/deploy-kubernetes.md)`);
      for (const line of describeAwsAssembly(synthAws(profile, opts.out))) console.log(line);
      const catalog = Catalog.load();
      for (const target of ['aws', 'k8s']) {
        console.log('');
        console.log(costReport({ current: 'baseline', optimized: opts.profile, target, format: 'table', prices: [], hoursPerMonth: '730', catalog }));
      }
    });
}

/** The balancer config for the Kubernetes target: what the nginx image and ConfigMap carry. */
export function synthesizeNginx(profile: ResolvedProfile, outDir: string): string[] {
  const dir = join(outDir, 'nginx');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'kubernetes.conf');
  writeFileSync(file, kubernetesNginxConfig(profile));
  return [file];
}
