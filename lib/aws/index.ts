/** The AWS target: a CDK app with one stack per profile (lib/aws/stack.ts). */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ResolvedProfile } from '../profile/index.ts';
import { ApistackStack } from './stack.ts';

export { ApistackStack, REPO_ROOT, SERVICE_NAMESPACE } from './stack.ts';

/** Stack name for a profile: one deployment per profile per account and region. */
export function stackName(p: ResolvedProfile): string {
  return `apistack-${p.name}`;
}

export interface AwsAppOptions {
  readonly profile: ResolvedProfile;
  readonly outdir?: string;
  /** Run the cdk-nag AwsSolutions checks during synth (errors and warnings become annotations). */
  readonly nag?: boolean;
  readonly app?: App;
}

export function awsApp(opts: AwsAppOptions): { app: App; stack: ApistackStack } {
  const app = opts.app ?? new App({ ...(opts.outdir ? { outdir: opts.outdir } : {}), context: { 'aws:cdk:enable-path-metadata': false, 'aws:cdk:disable-version-reporting': true } });
  const stack = new ApistackStack(app, stackName(opts.profile), { profile: opts.profile });
  if (opts.nag !== false) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}
