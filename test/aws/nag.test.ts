/** cdk-nag's AwsSolutions pack on every fixture: no unacknowledged finding, and every acknowledgement specific and live. */
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { idleAcknowledgements, unnamedIam5 } from '../helpers/nag.ts';
import { PROFILE_NAMES, synth, resources, type Synth } from './fixtures.ts';

describe('cdk-nag AwsSolutions', () => {
  it.each(PROFILE_NAMES)('%s: no unacknowledged error or warning', (name) => {
    expect(synth(name).nagFindings).toEqual([]);
  });

  it.each(PROFILE_NAMES)('%s: every acknowledgement gives a specific reason', (name) => {
    const s = synth(name);
    const reasons = Object.values(s.json.Resources).flatMap((r) => ((r.Metadata?.cdk_nag as { rules_to_suppress?: { id: string; reason: string }[] } | undefined)?.rules_to_suppress ?? []));
    expect(reasons.length).toBeGreaterThan(5);
    for (const { id, reason } of reasons) {
      expect(reason.length, `${id}: ${reason}`).toBeGreaterThan(60);
    }
    // Profile-dependent acknowledgements name the profile choice they follow from.
    const singleAz = reasons.filter((r) => r.id === 'AwsSolutions-RDS3');
    expect(singleAz.length > 0).toBe(!s.profile.postgres.multiAz);
    for (const r of singleAz) expect(r.reason).toContain(`Profile ${s.profile.name} sets postgres.multiAz false`);
  });

  it.each(PROFILE_NAMES)('%s: every acknowledgement suppresses a finding, and every IAM5 one names the actions it lets through', (name) => {
    const s = synth(name);
    expect(s.suppressions.length).toBeGreaterThan(5);
    expect(idleAcknowledgements(s.json, s.suppressions)).toEqual([]);
    expect(unnamedIam5(s.json, s.suppressions)).toEqual([]);
  });

  it('the checks of acknowledgements are live: one that suppresses nothing, and an IAM5 reason that names the wrong action, are reported', () => {
    const s = synth('optimized');
    const json = JSON.parse(JSON.stringify(s.json)) as Synth['json'];
    const [, cluster] = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::ECS::Cluster')!;
    cluster.Metadata = { cdk_nag: { rules_to_suppress: [{ id: 'AwsSolutions-S1', reason: 'a cluster is no bucket' }] } };
    expect(idleAcknowledgements(json, s.suppressions)).toEqual(['AwsSolutions-S1: "a cluster is no bucket" suppresses nothing']);
    // The image-pull reason on the ECS Exec wildcards, as it was before each got its own.
    const exec = s.suppressions.find((x) => x.ruleId === 'AwsSolutions-IAM5' && x.reason.startsWith('ECS Exec, the only way in to prometheus'))!;
    const misattributed = { ...exec, reason: 'ecr:GetAuthorizationToken supports no resource-level permissions; the pull actions themselves are scoped to the asset repository' };
    expect(unnamedIam5(s.json, [misattributed])).toEqual(expect.arrayContaining([expect.stringMatching(/Resource::\*: the reason does not name ssmmessages:CreateControlChannel/)]));
  });

  it('ECS Exec (the way in to Prometheus and Grafana) logs its sessions to a log group of its own, and its grants are acknowledged as what they are', () => {
    const s = synth('optimized');
    const [groupId] = resources(s, 'AWS::Logs::LogGroup').find(([id]) => id.startsWith('ExecSessionLogs'))!;
    s.template.hasResourceProperties('AWS::ECS::Cluster', { Configuration: { ExecuteCommandConfiguration: { Logging: 'OVERRIDE', LogConfiguration: { CloudWatchLogGroupName: { Ref: groupId } } } } });
    const exec = s.suppressions.filter((x) => x.ruleId === 'AwsSolutions-IAM5' && x.logicalId.includes('TaskRole'));
    expect(exec.map((x) => `${x.logicalId.replace(/[0-9A-F]{8}$/, '')} ${x.findingId}`).sort()).toEqual(
      ['grafana', 'prometheus'].flatMap((n) => [
        `Monitoring${n}TaskTaskRoleDefaultPolicy Resource::*`,
        `Monitoring${n}TaskTaskRoleDefaultPolicy Resource::arn:<AWS::Partition>:logs:us-east-1:<AWS::AccountId>:log-group:<${groupId}>:*`,
      ]),
    );
    for (const x of exec) expect(x.reason).toMatch(/^ECS Exec/);
    // The image-pull acknowledgement stays on the execution roles, where the ECR login is.
    const pulls = s.suppressions.filter((x) => x.reason.startsWith('ecr:GetAuthorizationToken'));
    expect(pulls.length).toBeGreaterThan(0);
    for (const x of pulls) expect(x.logicalId).toMatch(/ExecutionRoleDefaultPolicy/);
    // Managed monitoring runs no task with ECS Exec: no session log group.
    expect(resources(synth('alb-managed'), 'AWS::Logs::LogGroup').filter(([id]) => id.startsWith('ExecSessionLogs'))).toEqual([]);
  });

  it('the checks are live: an unencrypted, unlogged bucket is reported', () => {
    const app = new App();
    const stack = new Stack(app, 'probe');
    new s3.Bucket(stack, 'Loose');
    Aspects.of(app).add(new AwsSolutionsChecks());
    app.synth();
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-S1'));
    expect(errors.length).toBeGreaterThan(0);
  });
});
