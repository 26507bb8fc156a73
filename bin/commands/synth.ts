import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runnersOf } from '../../lib/loadtest/k6.ts';
import { loadTestScenario } from '../../lib/loadtest/scenario.ts';
import { DEFAULT_PROFILE, loadProfile, PLACEHOLDER_API_IMAGE, type ResolvedProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';

/** What `synth --target aws` prints: the templates and how many image contexts were staged. */
export function describeAwsAssembly(dir: string): string[] {
  const files = readdirSync(dir).sort();
  const assets = files.filter((f) => f.startsWith('asset.')).length;
  return [...files.filter((f) => f.endsWith('.template.json')).map((f) => `wrote ${join(dir, f)}`), `wrote ${dir} (cloud assembly, ${assets} image build contexts): npx cdk deploy --app ${dir}`];
}

/**
 * The built-in profiles name an image nobody publishes: a cluster would pull it and never serve.
 * Refused unless the synth is only for review.
 */
export function checkApiImage(profile: ResolvedProfile, image: string | undefined, placeholderAllowed: boolean): void {
  if (image !== undefined || profile.api.imageRepository !== PLACEHOLDER_API_IMAGE.repository || placeholderAllowed) return;
  throw new UserError(
    `profile "${profile.name}" names the placeholder API image ${profile.api.imageRepository}:${profile.api.imageTag}, which no registry serves: ` +
      'build and push app/Dockerfile (docs/deploy-kubernetes.md: "Build and push the images"), then pass --image REGISTRY/apistack-api:TAG ' +
      'or set api.imageRepository and api.imageTag in your profile; --placeholder-image writes the manifests anyway, for review only',
  );
}

export function registerSynthCommands(program: Command): void {
  program
    .command('synth')
    .description('write a deploy target: k8s writes DIR/k8s/*.yaml for kubectl apply -f; aws writes the CDK cloud assembly to DIR/aws')
    .option('-t, --target <target>', 'k8s or aws', 'k8s')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-o, --out <dir>', 'output directory', 'dist')
    .option('--image <image>', 'API image with a pinned tag (default: the profile api.imageRepository:api.imageTag)')
    .option('--placeholder-image', 'k8s: write the manifests with the built-in profiles\' placeholder API image (for review; a cluster cannot pull it)')
    .option('--loadtest <scenario>', 'also write a k6 load test of this scenario (built-in name or file): k8s adds 90-loadtest.yaml, aws the apistack-PROFILE-loadtest stack')
    .option('--parallelism <n>', 'k6 runners sharing the load (default: the scenario parallelism, else 1)')
    .action(async (opts: { target: string; profile: string; out: string; image?: string; placeholderImage?: boolean; loadtest?: string; parallelism?: string }) => {
      if (opts.target !== 'k8s' && opts.target !== 'aws') throw new UserError(`unknown target "${opts.target}"; use --target k8s or --target aws`);
      const loadTest = loadTestScenario(opts.loadtest, opts.parallelism);
      if (opts.target === 'aws') {
        if (opts.image !== undefined) throw new UserError('--image applies to --target k8s; on AWS the API image is built from app/Dockerfile as a CDK asset');
        // Loaded here, not at the top: aws-cdk-lib and cdk8s take a second or two that no other command needs.
        const { synthAws } = await import('../aws.ts');
        for (const line of describeAwsAssembly(synthAws(opts.profile, opts.out, loadTest))) console.log(line);
        if (loadTest) console.log(`load test ${loadTest.name} on ${runnersOf(loadTest)} runner(s): npx cdk deploy --app ${join(opts.out, 'aws')} --all, then aws stepfunctions start-execution --state-machine-arn <StateMachineArn output>; remove it with cdk destroy of the -loadtest stack`);
        return;
      }
      if (opts.image !== undefined && (!/:[\w.-]+$/.test(opts.image) || opts.image.endsWith(':latest'))) {
        throw new UserError(`--image must carry a pinned tag such as registry/apistack-api:0.1.0, got "${opts.image}"`);
      }
      const profile = loadProfile(opts.profile, process.cwd(), { target: 'k8s' });
      checkApiImage(profile, opts.image, opts.placeholderImage === true);
      const [{ synthKubernetes }, { applyCommands, clusterPrerequisites, renderPrerequisites }] = await Promise.all([import('../k8s.ts'), import('../../charts/index.ts')]);
      const dir = synthKubernetes(profile, opts.out, opts.image, loadTest);
      for (const f of readdirSync(dir).sort()) console.log(`wrote ${join(dir, f)}`);
      for (const line of renderPrerequisites(clusterPrerequisites(profile, opts.image ? { apiImage: opts.image } : {}), profile.kubernetes.namespace)) console.log(line);
      console.log(['apply, pruning what this synth no longer has (docs/kubernetes-data.md):', ...applyCommands(profile, dir).map((c) => `  ${c}`)].join('\n'));
      if (loadTest) console.log(`load test ${loadTest.name} on ${runnersOf(loadTest)} runner(s): kubectl apply -f ${dir}/ (Prometheus and Grafana change too), then kubectl -n NAMESPACE wait --for=condition=complete job/loadtest --timeout=1h`);
    });
}
