import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PROFILE, UserError } from '../../lib/profile/index.ts';
import { synthKubernetes } from '../k8s.ts';

export function registerSynthCommands(program: Command): void {
  program
    .command('synth')
    .description('write a deploy target: --target k8s writes DIR/k8s/*.yaml for kubectl apply -f')
    .option('-t, --target <target>', 'k8s (the AWS target is not built yet)', 'k8s')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-o, --out <dir>', 'output directory', 'dist')
    .option('--image <image>', 'API image with a pinned tag (default: the profile api.imageRepository:api.imageTag)')
    .action((opts: { target: string; profile: string; out: string; image?: string }) => {
      if (opts.target !== 'k8s') throw new UserError(`unknown or unbuilt target "${opts.target}"; use --target k8s`);
      if (opts.image !== undefined && (!/:[\w.-]+$/.test(opts.image) || opts.image.endsWith(':latest'))) {
        throw new UserError(`--image must carry a pinned tag such as registry/apistack-api:0.1.0, got "${opts.image}"`);
      }
      const dir = synthKubernetes(opts.profile, opts.out, opts.image);
      for (const f of readdirSync(dir).sort()) console.log(`wrote ${join(dir, f)}`);
    });
}
