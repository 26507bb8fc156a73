/**
 * The AWS stacks the construct tests read: the built-in profiles plus fixtures that reach the
 * branches the built-ins do not, each synthesized once per test run (cdk-nag included) into a
 * directory every test file shares (test/global-setup.ts makes it), so splitting the tests by
 * construct costs no extra synths.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { expect, inject } from 'vitest';
import { awsApp } from '../../lib/aws/index.ts';
import { loadProfile, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { SuppressionRecorder, type Suppression } from '../helpers/nag.ts';

export const certificateArn = (region: string) => `arn:aws:acm:${region}:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666`;

/**
 * The built-in profiles, plus the AWS-native balancer with managed monitoring and interface
 * endpoints, a European stack on provisioned-IOPS storage with classes priced by family, and
 * both balancers with a certificate (TLS on 443), and nginx without an access log.
 */
export const PROFILES: Record<string, () => ResolvedProfile> = {
  optimized: () => loadProfile('optimized'),
  baseline: () => loadProfile('baseline'),
  loadtest: () => loadProfile('loadtest'),
  'production-ha': () => loadProfile('production-ha'),
  'alb-managed': () =>
    resolveProfileLayer({ extends: 'production-ha', name: 'alb-managed', network: { loadBalancer: 'alb', interfaceEndpoints: true }, monitoring: { mode: 'managed', grafanaEditors: 1, grafanaViewers: 3 } }),
  'io1-eu': () =>
    resolveProfileLayer({ extends: 'production-ha', name: 'io1-eu', region: 'eu-west-1', postgres: { instanceClass: 'db.r6g.xlarge', storageType: 'io1', storageGiB: 200, iops: 4000 }, redis: { nodeType: 'cache.r7g.xlarge' } }),
  'nlb-tls': () => resolveProfileLayer({ extends: 'optimized', name: 'nlb-tls', network: { loadBalancerCertificateArn: certificateArn('us-east-1') } }),
  'alb-tls': () => resolveProfileLayer({ extends: 'loadtest', name: 'alb-tls', network: { loadBalancer: 'alb', loadBalancerCertificateArn: certificateArn('us-east-1') } }),
  'nlb-no-access-log': () => resolveProfileLayer({ extends: 'optimized', name: 'nlb-no-access-log', nginx: { accessLog: 'off' } }),
  // Managed monitoring behind nginx: baseline's shape with the 8 tasks Cloud Map DNS gives nginx.
  'nlb-managed': () => resolveProfileLayer({ extends: 'baseline', name: 'nlb-managed', api: { replicasMax: 8, replicasExpected: 8 }, network: { loadBalancer: 'nlb' } }),
};
export const PROFILE_NAMES = Object.keys(PROFILES);

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }>;

export interface Synth {
  profile: ResolvedProfile;
  template: Template;
  json: { Resources: Resources };
  /** The cloud assembly directory. */
  dir: string;
  /** Every finding cdk-nag suppressed, with the reason it was suppressed under. */
  suppressions: Suppression[];
  /** cdk-nag's unsuppressed errors and warnings on the main stack, as "path: message". */
  nagFindings: string[];
}

/** What a synth leaves beside its cloud assembly for the other test files. */
interface SynthRecord {
  templateFile: string;
  suppressions: Suppression[];
  nagFindings: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where this run's synthesized fixtures live (test/global-setup.ts). */
    awsSynthRoot: string;
  }
}

function synthesize(name: string, dir: string): SynthRecord {
  const recorder = new SuppressionRecorder();
  const { app, stack } = awsApp({ profile: PROFILES[name]!(), outdir: dir, nagLoggers: [recorder] });
  app.synth();
  // Taken before reading the annotations: that synthesizes the stage again, and cdk-nag reports again.
  const suppressions = recorder.of(stack);
  const nag = Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure');
  const annotations = Annotations.fromStack(stack);
  const nagFindings = [...annotations.findError('*', nag), ...annotations.findWarning('*', nag)].map((f) => `${f.id}: ${String(f.entry.data).slice(0, 160)}`);
  return { templateFile: stack.templateFile, suppressions, nagFindings };
}

const synths = new Map<string, Synth>();

/** The fixture's stack, synthesized by whichever test file needed it first in this run. */
export function synth(name: string): Synth {
  const cached = synths.get(name);
  if (cached) return cached;
  const root = inject('awsSynthRoot');
  const dir = join(root, name);
  if (!existsSync(join(dir, 'synth.json'))) {
    // Written aside and renamed: a file running beside this one sees a whole assembly or none.
    const scratch = join(root, `.${name}-${process.pid}`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, 'synth.json'), JSON.stringify(synthesize(name, scratch)));
    try {
      renameSync(scratch, dir);
    } catch {
      // Another file finished the same synth first: use its.
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const record = JSON.parse(readFileSync(join(dir, 'synth.json'), 'utf8')) as SynthRecord;
  const json = JSON.parse(readFileSync(join(dir, record.templateFile), 'utf8')) as Synth['json'];
  const s: Synth = { profile: PROFILES[name]!(), template: Template.fromJSON(json), json, dir, suppressions: record.suppressions, nagFindings: record.nagFindings };
  synths.set(name, s);
  return s;
}

export function resources(s: Synth, type: string): [string, Record<string, unknown>][] {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

export function only(s: Synth, type: string): Record<string, unknown> {
  const found = resources(s, type);
  expect(found, type).toHaveLength(1);
  return found[0]![1];
}

export function containers(s: Synth, name: string): Record<string, unknown>[] {
  return resources(s, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => (t.ContainerDefinitions as Record<string, unknown>[]).filter((c) => c.Name === name));
}

export function taskWith(s: Synth, container: string): Record<string, unknown> {
  const tasks = resources(s, 'AWS::ECS::TaskDefinition').filter(([, t]) => (t.ContainerDefinitions as { Name: string }[]).some((c) => c.Name === container));
  expect(tasks).toHaveLength(1);
  return tasks[0]![1];
}

export const envOf = (c: Record<string, unknown>) => Object.fromEntries((c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
