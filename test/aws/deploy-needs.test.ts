/** What a real deploy needs beyond a valid template: writable paths, keys, subscriptions, rotation, alarms. */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { awsApp } from '../../lib/aws/index.ts';
import { PORTS, resolveProfileLayer } from '../../lib/profile/index.ts';
import { tempDir } from '../helpers/servers.ts';
import { PROFILE_NAMES, synth, resources, only, containers, taskWith, envOf } from './fixtures.ts';

describe('what a real deploy needs', () => {
  it('nginx gets a writable /tmp on its read-only root (pid and temp files)', () => {
    const s = synth('optimized');
    const task = taskWith(s, 'nginx');
    expect(task.Volumes).toEqual([{ Name: 'tmp' }]);
    expect(containers(s, 'nginx')[0]).toMatchObject({ ReadonlyRootFilesystem: true, MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }] });
  });

  it('pages go through a topic under a key of our own that CloudWatch and the managed alert manager may use', () => {
    const s = synth('alb-managed');
    const topic = only(s, 'AWS::SNS::Topic');
    expect(topic.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^PagingKey/), 'Arn'] });
    const key = only(s, 'AWS::KMS::Key');
    expect(key.EnableKeyRotation).toBe(true);
    const keyPrincipals = (key.KeyPolicy as { Statement: { Principal: { Service?: string } }[] }).Statement.map((st) => st.Principal.Service).filter(Boolean);
    expect(keyPrincipals.sort()).toEqual(['aps.amazonaws.com', 'cloudwatch.amazonaws.com']);
    const alertManager = String(JSON.stringify(only(s, 'AWS::APS::Workspace').AlertManagerDefinition));
    expect(alertManager).toContain('sns_configs');
    expect(alertManager).toContain('PagingTopic');
    s.template.hasOutput('AlarmTopicArn', {});
  });

  it('alarm emails from the profile are subscribed', () => {
    const profile = resolveProfileLayer({ extends: 'loadtest', name: 'paged', monitoring: { alarmEmails: ['oncall@example.com'] } });
    const { stack } = awsApp({ profile, outdir: tempDir() });
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'paged', monitoring: { alarmEmails: ['not-an-address'] } })).toThrow('monitoring.alarmEmails.0: "not-an-address" — must be an email address');
  });

  it('the password rotates from subnets with a way out, not at creation, and a rotation rolls the API tasks', () => {
    const s = synth('optimized');
    const schedule = only(s, 'AWS::SecretsManager::RotationSchedule');
    expect(schedule.RotateImmediatelyOnUpdate).toBe(false);
    const app = only(s, 'AWS::Serverless::Application') as { Parameters: { vpcSubnetIds: unknown } };
    expect(JSON.stringify(app.Parameters.vpcSubnetIds)).toMatch(/privateSubnet/);
    expect(JSON.stringify(app.Parameters.vpcSubnetIds)).not.toMatch(/isolatedSubnet/);
    const rule = only(s, 'AWS::Events::Rule') as { EventPattern: { detail: { eventName: string[] } }; Targets: { Arn: unknown }[] };
    expect(rule.EventPattern.detail.eventName).toEqual(['RotationSucceeded']);
    const definition = JSON.stringify(only(s, 'AWS::StepFunctions::StateMachine').DefinitionString);
    expect(definition).toContain(':states:::aws-sdk:ecs:updateService');
    expect(definition).toContain('ForceNewDeployment');
  });

  it('managed monitoring puts a collector beside nginx too, so the nginx rules and dashboards have data', () => {
    const s = synth('nlb-managed');
    const collectors = containers(s, 'collector').map((c) => JSON.stringify(envOf(c).AOT_CONFIG_CONTENT));
    expect(collectors).toHaveLength(2);
    expect(collectors.some((c) => c.includes(`127.0.0.1:${PORTS.nginxExporter}`))).toBe(true);
    expect(collectors.every((c) => c.includes('external_labels'))).toBe(true);
  });

  it('the cache memory alarm watches the fullest node, wherever the primary moved', () => {
    const s = synth('production-ha');
    const alarm = resources(s, 'AWS::CloudWatch::Alarm').find(([id]) => id.startsWith('AlarmsCacheMemory'))![1] as { Metrics: { Expression?: string; Id: string }[] };
    expect(alarm.Metrics.find((m) => m.Expression)!.Expression).toBe('MAX([node1, node2, node3])');
  });

  it('EFS throughput does not depend on a small file system\'s size; no task opens port 53 to the VPC', () => {
    synth('optimized').template.hasResourceProperties('AWS::EFS::FileSystem', { ThroughputMode: 'elastic' });
    for (const name of PROFILE_NAMES) {
      const egress = resources(synth(name), 'AWS::EC2::SecurityGroup').flatMap(([, g]) => (g.SecurityGroupEgress as { FromPort?: number }[] | undefined) ?? []);
      expect(egress.filter((e) => e.FromPort === 53), name).toEqual([]);
    }
  });
});
