/**
 * The AWS CDK app named in cdk.json: `npx cdk synth [-c profile=NAME|FILE]` (default: optimized),
 * plus the load-test stack with `-c loadtest=SCENARIO [-c parallelism=N]`.
 * Also `apistack synth --target aws [--loadtest SCENARIO]`, which writes the cloud assembly to DIR/aws.
 */
import { App } from 'aws-cdk-lib';
import { join } from 'node:path';
import { awsApp } from '../lib/aws/index.ts';
import { loadTestScenario, type Scenario } from '../lib/loadtest/scenario.ts';
import { DEFAULT_PROFILE, loadProfile, type ResolvedProfile } from '../lib/profile/index.ts';
import { isUserError } from '../lib/errors.ts';

export function synthAws(profile: string | ResolvedProfile, outDir: string, loadTest?: Scenario): string {
  const outdir = join(outDir, 'aws');
  const { app } = awsApp({ profile: typeof profile === 'string' ? loadProfile(profile, process.cwd(), { target: 'aws' }) : profile, outdir, ...(loadTest ? { loadTest } : {}) });
  app.synth();
  return outdir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    // Under the cdk CLI the App reads its outdir and context (-c profile=...) from the environment.
    const app = new App();
    const ref = (app.node.tryGetContext('profile') as string | undefined) ?? (app.node.tryGetContext('apistack:profile') as string | undefined) ?? DEFAULT_PROFILE;
    const context = (key: string) => app.node.tryGetContext(key) as string | number | undefined;
    const parallelism = context('parallelism');
    const loadTest = loadTestScenario(context('loadtest') as string | undefined, parallelism === undefined ? undefined : String(parallelism));
    awsApp({ profile: loadProfile(ref, process.cwd(), { target: 'aws' }), app, ...(loadTest ? { loadTest } : {}) });
    app.synth();
  } catch (e) {
    if (!isUserError(e)) throw e;
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
}
