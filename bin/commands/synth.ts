import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PROFILE, UserError } from '../../lib/profile/index.ts';
import { synthAws } from '../aws.ts';
import { synthKubernetes } from '../k8s.ts';

/** What `synth --target aws` prints: the templates and how many image contexts were staged. */
export function describeAwsAssembly(dir: string): string[] {
  const files = readdirSync(dir).sort();
  const assets = files.filter((f) => f.startsWith('asset.')).length;
  return [...files.filter((f) => f.endsWith('.template.json')).map((f) => `wrote ${join(dir, f)}`), `wrote ${dir} (cloud assembly, ${assets} image build contexts): npx cdk deploy --app ${dir}`];
}

export function registerSynthCommands(program: Command): void {
  program
    .command('synth')
    .description('write a deploy target: k8s writes DIR/k8s/*.yaml for kubectl apply -f; aws writes the CDK cloud assembly to DIR/aws')
    .option('-t, --target <target>', 'k8s or aws', 'k8s')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-o, --out <dir>', 'output directory', 'dist')
    .option('--image <image>', 'API image with a pinned tag (default: the profile api.imageRepository:api.imageTag)')
    .action((opts: { target: string; profile: string; out: string; image?: string }) => {
      if (opts.target !== 'k8s' && opts.target !== 'aws') throw new UserError(`unknown target "${opts.target}"; use --target k8s or --target aws`);
      if (opts.target === 'aws') {
        if (opts.image !== undefined) throw new UserError('--image applies to --target k8s; on AWS the API image is built from app/Dockerfile as a CDK asset');
        for (const line of describeAwsAssembly(synthAws(opts.profile, opts.out))) console.log(line);
        return;
      }
      if (opts.image !== undefined && (!/:[\w.-]+$/.test(opts.image) || opts.image.endsWith(':latest'))) {
        throw new UserError(`--image must carry a pinned tag such as registry/apistack-api:0.1.0, got "${opts.image}"`);
      }
      const dir = synthKubernetes(opts.profile, opts.out, opts.image);
      for (const f of readdirSync(dir).sort()) console.log(`wrote ${join(dir, f)}`);
    });
}
