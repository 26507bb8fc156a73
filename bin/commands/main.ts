import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PROFILE, loadProfile, PLACEHOLDER_API_IMAGE, type ResolvedProfile } from '../../lib/profile/index.ts';
import { describeAwsAssembly } from './synth.ts';
import { Catalog, compare, priceProfile, renderSavingsSummary } from '../../lib/cost/index.ts';
import { profileSummary } from './profile.ts';

/**
 * The main job (`npm start`): synthesize every target that exists for the profile, then print a
 * summary that fits one screen: the files written, and per target the savings table baseline vs
 * the profile with a pointer to the full breakdown (`apistack cost`), which lists every line,
 * assumption and exclusion.
 */
export function registerMainCommand(program: Command): void {
  program
    .command('main')
    .description('synthesize every target for a profile and print the cost summary (what `npm start` runs)')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-o, --out <dir>', 'output directory', 'dist')
    .action(async (opts: { profile: string; out: string }) => {
      const profile = loadProfile(opts.profile);
      // Loaded here, not at the top: aws-cdk-lib and cdk8s take a second or two that no other command needs.
      const [{ synthAws }, { synthKubernetes }, { kubernetesNginxConfig }] = await Promise.all([import('../aws.ts'), import('../k8s.ts'), import('../../charts/index.ts')]);
      const out: string[] = [`profile ${profileSummary(profile)}`];
      for (const file of synthesizeNginx(profile, opts.out, kubernetesNginxConfig)) out.push(`wrote ${file}`);
      const k8sDir = synthKubernetes(profile, opts.out);
      out.push(`wrote ${k8sDir}: ${readdirSync(k8sDir).sort().join(', ')}`);
      if (profile.api.imageRepository === PLACEHOLDER_API_IMAGE.repository) out.push(`note: ${k8sDir} names the placeholder API image, for review; to deploy, build and push app/Dockerfile and run apistack synth --target k8s --image REGISTRY/apistack-api:TAG (docs/deploy-kubernetes.md)`);
      out.push(...describeAwsAssembly(synthAws(profile, opts.out)));
      out.push(...savingsSummary(profile, opts.profile, Catalog.load()));
      console.log(out.join('\n'));
    });
}

/** Per target: the savings table baseline vs the profile, and the command that prints all of it. */
function savingsSummary(profile: ResolvedProfile, ref: string, catalog: Catalog): string[] {
  const baseline = loadProfile('baseline');
  return (['aws', 'k8s'] as const).flatMap((target) => {
    const price = (p: ResolvedProfile) => priceProfile(p, target, catalog);
    const command = `apistack cost --current baseline --optimized ${/\s/.test(ref) ? JSON.stringify(ref) : ref} --target ${target}`;
    return ['', renderSavingsSummary(compare(price(baseline), price(profile)), command)];
  });
}

/** The balancer config for the Kubernetes target: what the nginx image and ConfigMap carry. */
function synthesizeNginx(profile: ResolvedProfile, outDir: string, kubernetesNginxConfig: (p: ResolvedProfile) => string): string[] {
  const dir = join(outDir, 'nginx');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'kubernetes.conf');
  writeFileSync(file, kubernetesNginxConfig(profile));
  return [file];
}
