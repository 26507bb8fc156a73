/**
 * The AWS load-test stack: a separate stack only when asked, cdk-nag clean, the rendered scripts in
 * its tasks, setup once before the runners (Step Functions), the main stack's load balancer and
 * Prometheus as targets, and exactly the network paths that needs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsApp, type ApistackStack, type LoadTestStack } from '../../lib/aws/index.ts';
import { SCRIPT_ENV } from '../../lib/aws/loadtest.ts';
import { renderK6Script, renderK6SetupScript } from '../../lib/loadtest/k6.ts';
import { BUILTIN_SCENARIOS, type Scenario } from '../../lib/loadtest/scenario.ts';
import { K6_TREND_STATS_ENV } from '../../lib/monitoring/index.ts';
import { CONTAINER_IMAGES, loadProfile, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { cli, repoRoot } from '../helpers/cli.ts';
import { idleAcknowledgements, SuppressionRecorder, unnamedIam5, type Suppression } from '../helpers/nag.ts';
import { tempDir } from '../helpers/servers.ts';

type Json = Record<string, any>;
interface Synth {
  outdir: string;
  main: ApistackStack;
  lt: LoadTestStack;
  mainJson: Json;
  template: Template;
  json: Json;
  /** What cdk-nag suppressed in the load-test stack. */
  suppressions: Suppression[];
}

function synth(profile: ResolvedProfile, scenario: Scenario): Synth {
  const recorder = new SuppressionRecorder();
  const outdir = tempDir('apistack-aws-lt-');
  const { app, stack, loadTestStack } = awsApp({ profile, outdir, loadTest: scenario, nagLoggers: [recorder] });
  app.synth();
  const template = Template.fromStack(loadTestStack!);
  return { outdir, main: stack, lt: loadTestStack!, mainJson: Template.fromStack(stack).toJSON(), template, json: template.toJSON(), suppressions: recorder.of(loadTestStack!) };
}

const resources = (json: Json, type: string) => Object.entries(json.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
const containerOf = (json: Json, logicalIdPrefix: string) => resources(json, 'AWS::ECS::TaskDefinition').find(([id]) => id.startsWith(logicalIdPrefix))![1].Properties.ContainerDefinitions[0];
const envOf = (c: Json) => Object.fromEntries((c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
/** The Dockerfile of every image asset of the load-test stack. */
const imageAssetDockerfiles = (s: Synth) =>
  Object.values(JSON.parse(readFileSync(join(s.outdir, `${s.lt.artifactId}.assets.json`), 'utf8')).dockerImages as Record<string, Json>).map((a) => readFileSync(join(s.outdir, a.source.directory, 'Dockerfile'), 'utf8'));
const script = (c: Json) => Buffer.from(envOf(c)[SCRIPT_ENV] as string, 'base64').toString('utf8');

const mixed: Scenario = { ...BUILTIN_SCENARIOS.mixed!, parallelism: 3 };
let selfHosted: Synth;
let managed: Synth;

beforeAll(() => {
  selfHosted = synth(loadProfile('optimized'), mixed);
  managed = synth(resolveProfileLayer({ extends: 'production-ha', name: 'alb-managed', network: { loadBalancer: 'alb' }, monitoring: { mode: 'managed', grafanaEditors: 1, grafanaViewers: 3 } }), BUILTIN_SCENARIOS.status!);
}, 240_000);

describe('AWS load-test stack', () => {
  it('exists only when asked, named apistack-<profile>-loadtest', () => {
    const { app, loadTestStack } = awsApp({ profile: loadProfile('optimized'), outdir: tempDir() });
    expect(loadTestStack).toBeUndefined();
    expect(app.node.children.filter((c) => c.constructor.name.endsWith('Stack')).map((c) => c.node.id)).toEqual(['apistack-optimized']);
    expect(selfHosted.lt.stackName).toBe('apistack-optimized-loadtest');
    expect(selfHosted.lt.dependencies.map((d) => d.stackName)).toEqual(['apistack-optimized']);
  });

  it.each([
    ['self-hosted', () => selfHosted],
    ['managed', () => managed],
  ])('%s: no unacknowledged cdk-nag finding in either stack, every acknowledgement with a specific reason', (_name, get) => {
    const s = get();
    for (const stack of [s.main, s.lt]) {
      const a = Annotations.fromStack(stack);
      const findings = [...a.findError('*', Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure')), ...a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure'))];
      expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 200)}`)).toEqual([]);
    }
    const reasons = Object.values(s.json.Resources as Record<string, Json>).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(reasons.length).toBeGreaterThan(2);
    for (const { id, reason } of reasons) expect(reason.length, `${id}: ${reason}`).toBeGreaterThan(60);
    expect(idleAcknowledgements(s.json, s.suppressions)).toEqual([]);
    expect(unnamedIam5(s.json, s.suppressions)).toEqual([]);
  });

  it('the state machine\'s wildcards are acknowledged one by one: the task definition revisions, then what has no resource to scope to', () => {
    const iam5 = selfHosted.suppressions.filter((x) => x.ruleId === 'AwsSolutions-IAM5');
    const runTask = iam5.filter((x) => x.findingId !== 'Resource::*' && !x.findingId.includes(':execution:'));
    expect(runTask.map((x) => x.findingId.match(/"Ref":"(SetupTask|RunnerTask)/)![1]).sort()).toEqual(['RunnerTask', 'SetupTask']);
    for (const x of runTask) expect(x.reason).toMatch(/^ecs:RunTask on any revision/);
    // The state machine's, and ECR's login call of each task's execution role (the k6 image is an asset).
    expect(iam5.filter((x) => x.findingId === 'Resource::*').map((x) => x.logicalId).sort()).toEqual([expect.stringMatching(/^RunRoleDefaultPolicy/), expect.stringMatching(/^RunnerTaskExecutionRoleDefaultPolicy/), expect.stringMatching(/^SetupTaskExecutionRoleDefaultPolicy/)]);
    const children = iam5.filter((x) => x.findingId.includes(':execution:'));
    expect(children.map((x) => x.logicalId)).toEqual([expect.stringMatching(/^RunDistributedMapPolicy/), expect.stringMatching(/^RunDistributedMapPolicy/)]);
  });

  it('with a certificate, runners dial the load balancer over HTTPS (no port 80 rule), skipping only the name check', () => {
    const profile = resolveProfileLayer({ extends: 'optimized', name: 'nlb-tls', network: { loadBalancerCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666' } });
    const { app, loadTestStack } = awsApp({ profile, outdir: tempDir('apistack-aws-lt-tls-'), loadTest: BUILTIN_SCENARIOS.status!, nag: false });
    app.synth();
    const json = Template.fromStack(loadTestStack!).toJSON();
    const env = envOf(containerOf(json, 'RunnerTask'));
    expect(JSON.stringify(env.TARGET_URL)).toMatch(/^\{"Fn::Join":\["",\["https:\/\//);
    expect(env.K6_INSECURE_SKIP_TLS_VERIFY).toBe('true');
    const [, sg] = resources(json, 'AWS::EC2::SecurityGroup')[0]!;
    expect((sg.Properties.SecurityGroupEgress as Json[]).map((r) => `${r.IpProtocol}:${r.FromPort}`).sort()).toEqual(['tcp:443', 'tcp:53', 'udp:53']);
  });

  it('the tasks run pinned grafana/k6, from the account\'s ECR, with exactly the rendered scripts', () => {
    const runner = containerOf(selfHosted.json, 'RunnerTask');
    const setup = containerOf(selfHosted.json, 'SetupTask');
    expect(JSON.stringify(runner.Image)).toMatch(/\.dkr\.ecr\..*cdk-hnb659fds-container-assets-/);
    expect(setup.Image).toEqual(runner.Image);
    expect(imageAssetDockerfiles(selfHosted)).toEqual([`FROM ${CONTAINER_IMAGES.k6}\n`]);
    expect(script(runner)).toBe(renderK6Script(mixed));
    expect(script(setup)).toBe(renderK6SetupScript(mixed, { store: 'aws-secrets-manager' }));
    expect(runner.EntryPoint).toEqual(['sh', '-c']);
    expect(runner.Command).toEqual([`printf '%s' "$${SCRIPT_ENV}" | base64 -d | k6 run -o experimental-prometheus-rw -`]);
    expect(setup.Command).toEqual([`printf '%s' "$${SCRIPT_ENV}" | base64 -d | k6 run -`]);
    expect(runner.ReadonlyRootFilesystem).toBe(true);
    expect(JSON.stringify(selfHosted.json)).not.toContain('${__VU}');
  });

  it('runners load the main stack load balancer and remote-write to its Prometheus, which then accepts remote writes', () => {
    const env = envOf(containerOf(selfHosted.json, 'RunnerTask'));
    expect(JSON.stringify(env.TARGET_URL)).toMatch(/^\{"Fn::Join":\["",\["http:\/\/",\{"Ref":"SsmParameterValueapistackoptimizedloadtesttargetloadbalancerdnsname[0-9A-F]+Parameter"\}\]\]\}$/);
    expect(selfHosted.json.Parameters).toMatchObject({ [(env.TARGET_URL as Json)['Fn::Join'][1][1].Ref]: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/apistack/optimized/load-test-target/load-balancer-dns-name' } });
    expect(env.K6_PROMETHEUS_RW_SERVER_URL).toBe('http://prometheus.apistack.internal:9090/api/v1/write');
    expect(env.K6_PROMETHEUS_RW_TREND_STATS).toBe(K6_TREND_STATS_ENV);
    const prometheus = resources(selfHosted.mainJson, 'AWS::ECS::TaskDefinition').map(([, t]) => t.Properties.ContainerDefinitions[0]).find((c: Json) => c.Name === 'prometheus');
    expect(prometheus.Command).toContain('--web.enable-remote-write-receiver');
    const plain = awsApp({ profile: loadProfile('optimized'), outdir: tempDir() }).stack;
    // Without a load test the main stack exports nothing another stack could pin it with.
    const outputs = (Template.fromStack(plain).toJSON().Outputs ?? {}) as Record<string, { Export?: unknown }>;
    expect(Object.entries(outputs).filter(([, o]) => o.Export).map(([name]) => name)).toEqual([]);
  });

  it('setup runs once before the runners: a state machine runs the setup task, then parallelism runner tasks at once, each with its index', () => {
    const [, machine] = resources(selfHosted.json, 'AWS::StepFunctions::StateMachine')[0]!;
    // Every token of the definition (ARNs, subnet IDs) reads X.
    const parts = machine.Properties.DefinitionString['Fn::Join'][1] as unknown[];
    const definition = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'X')).join(''));
    expect(definition.StartAt).toBe('Runner indexes');
    expect(definition.States['Runner indexes']).toMatchObject({ Type: 'Pass', Result: { runners: ['0', '1', '2'] }, Next: 'Setup' });
    expect(definition.States.Setup).toMatchObject({ Type: 'Task', Resource: 'arn:X:states:::ecs:runTask.sync', Next: 'Runners', ResultPath: null });
    expect(definition.States.Runners).toMatchObject({ Type: 'Map', ItemsPath: '$.runners', MaxConcurrency: 3, End: true });
    expect(definition.States.Runners.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    const run = definition.States.Runners.ItemProcessor.States.Runner;
    expect(run.Resource).toBe('arn:X:states:::ecs:runTask.sync');
    expect(run.Parameters.Overrides.ContainerOverrides[0].Environment).toEqual([{ Name: 'RUNNER_INDEX', 'Value.$': '$' }]);
    expect(machine.Properties).toMatchObject({ TracingConfiguration: { Enabled: true }, LoggingConfiguration: { Level: 'ALL' }, StateMachineName: 'apistack-optimized-loadtest' });
    expect(selfHosted.json.Outputs.StateMachineArn).toBeDefined();
  });

  it('secrets: the setup reads the main admin token and may only put the fixtures secret, which the runners receive', () => {
    const setup = containerOf(selfHosted.json, 'SetupTask');
    expect(setup.Secrets).toEqual([{ Name: 'ADMIN_TOKEN', ValueFrom: { Ref: expect.stringMatching(/^SsmParameterValueapistackoptimizedloadtesttargetadmintokenarn/) } }]);
    const fixtures = resources(selfHosted.json, 'AWS::SecretsManager::Secret');
    expect(fixtures).toHaveLength(1);
    const [fixturesId] = fixtures[0]!;
    expect(envOf(setup).FIXTURES_SECRET_ID).toEqual({ Ref: fixturesId });
    expect(containerOf(selfHosted.json, 'RunnerTask').Secrets).toEqual([{ Name: 'LOADTEST_FIXTURES', ValueFrom: { Ref: fixturesId } }]);
    selfHosted.template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: [{ Action: 'secretsmanager:PutSecretValue', Effect: 'Allow', Resource: { Ref: fixturesId } }] } });
  });

  it('network: runners reach the load balancer (port 80), Prometheus (9090) and HTTPS; Prometheus admits them, declared in this stack', () => {
    const [sgId, sg] = resources(selfHosted.json, 'AWS::EC2::SecurityGroup')[0]!;
    const egress = (sg.Properties.SecurityGroupEgress as Json[]).map((r) => `${r.CidrIp ? 'cidr' : 'sg'}:${r.IpProtocol}:${r.FromPort}`);
    expect(egress.sort()).toEqual(['cidr:tcp:443', 'cidr:tcp:53', 'cidr:tcp:80', 'cidr:udp:53'].sort());
    selfHosted.template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', { FromPort: 9090, ToPort: 9090, GroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] } });
    selfHosted.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 9090, ToPort: 9090, SourceSecurityGroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] }, GroupId: { Ref: Match.stringLikeRegexp('^SsmParameterValueapistackoptimizedloadtesttargetprometheussecuritygroupid') } });
    expect(JSON.stringify(selfHosted.mainJson)).not.toContain('loadtest');
  });

  it('managed monitoring (no Prometheus of ours): runners keep their own thresholds and write nowhere; no setup task when the scenario needs none', () => {
    const runner = containerOf(managed.json, 'RunnerTask');
    expect(envOf(runner).K6_PROMETHEUS_RW_SERVER_URL).toBeUndefined();
    expect(runner.Command).toEqual([`printf '%s' "$${SCRIPT_ENV}" | base64 -d | k6 run -`]);
    expect(resources(managed.json, 'AWS::ECS::TaskDefinition')).toHaveLength(1);
    expect(resources(managed.json, 'AWS::SecretsManager::Secret')).toHaveLength(0);
    expect(resources(managed.json, 'AWS::EC2::SecurityGroupIngress')).toHaveLength(0);
    expect(JSON.stringify(envOf(runner).TARGET_URL)).toContain('loadtesttargetloadbalancerdnsname');
  });

  it('apistack synth --target aws --loadtest writes both templates; cdk synth -c loadtest=... does too', () => {
    const out = tempDir('apistack-aws-lt-cli-');
    const r = cli(['synth', '--target', 'aws', '--profile', 'loadtest', '--loadtest', 'status', '--parallelism', '2', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(join(out, 'aws', 'apistack-loadtest.template.json'));
    expect(r.stdout).toContain(join(out, 'aws', 'apistack-loadtest-loadtest.template.json'));
    const cdkOut = tempDir('apistack-cdk-lt-');
    const c = spawnSync(join(repoRoot, 'node_modules', '.bin', 'cdk'), ['synth', '-q', '-c', 'profile=loadtest', '-c', 'loadtest=read', '-c', 'parallelism=2', '-o', cdkOut], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', CDK_DISABLE_VERSION_CHECK: '1' },
    });
    expect(c.status, c.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(cdkOut, 'apistack-loadtest-loadtest.template.json'), 'utf8')) as Json;
    const runner = resources(template, 'AWS::ECS::TaskDefinition').find(([id]) => id.startsWith('RunnerTask'))![1].Properties.ContainerDefinitions[0];
    expect(script(runner)).toBe(renderK6Script({ ...BUILTIN_SCENARIOS.read!, parallelism: 2 }));
  }, 240_000);
});
