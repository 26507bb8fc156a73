/** The AWS target: a CDK app with one stack per profile (lib/aws/stack.ts). */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type INagLogger } from 'cdk-nag';
import type { Scenario } from '../loadtest/scenario.ts';
import type { ResolvedProfile } from '../profile/index.ts';
import { LoadTestStack } from './loadtest.ts';
import { ApistackStack } from './stack.ts';

export { ApistackStack, REPO_ROOT, SERVICE_NAMESPACE } from './stack.ts';
export { LOAD_TEST_TARGET, LoadTestStack, loadTestTargetParameterName, MAX_RUNNERS_AT_ONCE } from './loadtest.ts';

/** Stack name for a profile: one deployment per profile per account and region. */
export function stackName(p: ResolvedProfile): string {
  return `apistack-${p.name}`;
}

/** The load-test stack of a profile's stack: destroying it removes the test and nothing else. */
export function loadTestStackName(p: ResolvedProfile): string {
  return `${stackName(p)}-loadtest`;
}

export interface AwsAppOptions {
  readonly profile: ResolvedProfile;
  readonly outdir?: string;
  /** Run the cdk-nag AwsSolutions checks during synth (errors and warnings become annotations). */
  readonly nag?: boolean;
  /** More receivers of every cdk-nag result (the tests record what each acknowledgement suppressed). @default - annotations and the report only */
  readonly nagLoggers?: INagLogger[];
  readonly app?: App;
  /**
   * Add the load-test stack for this scenario. The main stack is the same with or without it.
   * @default - no load test: the app holds the main stack alone
   */
  readonly loadTest?: Scenario;
}

export function awsApp(opts: AwsAppOptions): { app: App; stack: ApistackStack; loadTestStack?: LoadTestStack } {
  const app = opts.app ?? new App({ ...(opts.outdir ? { outdir: opts.outdir } : {}), context: { 'aws:cdk:enable-path-metadata': false, 'aws:cdk:disable-version-reporting': true } });
  const stack = new ApistackStack(app, stackName(opts.profile), { profile: opts.profile });
  const loadTestStack = opts.loadTest ? new LoadTestStack(app, loadTestStackName(opts.profile), { profile: opts.profile, scenario: opts.loadTest, targetStackName: stack.stackName }) : undefined;
  // Order only, no reference: `cdk deploy --all` creates the parameters the load test reads first.
  loadTestStack?.addStackDependency(stack, 'reads the LoadTestTarget parameters at deploy time');
  if (opts.nag !== false) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, ...(opts.nagLoggers ? { additionalLoggers: opts.nagLoggers } : {}) }));
  return { app, stack, ...(loadTestStack ? { loadTestStack } : {}) };
}
