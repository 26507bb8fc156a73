/**
 * The AWS target: synthesized with no account, checked by cdk-nag's AwsSolutions pack, asserted
 * resource by resource against the profile, and priced from the template as deployed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsApp, type ApistackStack } from '../../lib/aws/index.ts';
import { Catalog, priceProfile, priceTemplate } from '../../lib/cost/index.ts';
import { renderRulesYaml } from '../../lib/monitoring/index.ts';
import { loadProfile, PORTS, resolveProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { cli, repoRoot } from '../helpers/cli.ts';
import { idleAcknowledgements, SuppressionRecorder, unnamedIam5, type Suppression } from '../helpers/nag.ts';
import { tempDir } from '../helpers/servers.ts';

const catalog = Catalog.load();
const certificateArn = (region: string) => `arn:aws:acm:${region}:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666`;

/**
 * The built-in profiles, plus the AWS-native balancer with managed monitoring and interface
 * endpoints, a European stack on provisioned-IOPS storage with classes priced by family, and
 * both balancers with a certificate (TLS on 443), and nginx without an access log.
 */
const PROFILES: Record<string, () => ResolvedProfile> = {
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

interface Synth {
  profile: ResolvedProfile;
  stack: ApistackStack;
  template: Template;
  json: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }> };
  dir: string;
  /** Every finding cdk-nag suppressed, with the reason it was suppressed under. */
  suppressions: Suppression[];
}

const synths = new Map<string, Synth>();
function synth(name: string): Synth {
  let s = synths.get(name);
  if (!s) {
    const profile = PROFILES[name]!();
    const dir = tempDir('apistack-aws-');
    const recorder = new SuppressionRecorder();
    const { app, stack } = awsApp({ profile, outdir: dir, nagLoggers: [recorder] });
    app.synth();
    const template = Template.fromStack(stack);
    s = { profile, stack, template, json: template.toJSON() as Synth['json'], dir, suppressions: recorder.of(stack) };
    synths.set(name, s);
  }
  return s;
}

function resources(s: Synth, type: string): [string, Record<string, unknown>][] {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

function only(s: Synth, type: string): Record<string, unknown> {
  const found = resources(s, type);
  expect(found, type).toHaveLength(1);
  return found[0]![1];
}

function containers(s: Synth, name: string): Record<string, unknown>[] {
  return resources(s, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => (t.ContainerDefinitions as Record<string, unknown>[]).filter((c) => c.Name === name));
}

function taskWith(s: Synth, container: string): Record<string, unknown> {
  const tasks = resources(s, 'AWS::ECS::TaskDefinition').filter(([, t]) => (t.ContainerDefinitions as { Name: string }[]).some((c) => c.Name === container));
  expect(tasks).toHaveLength(1);
  return tasks[0]![1];
}

const envOf = (c: Record<string, unknown>) => Object.fromEntries((c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));

beforeAll(() => {
  for (const name of Object.keys(PROFILES)) synth(name);
}, 240_000);

describe('cdk-nag AwsSolutions', () => {
  it.each(Object.keys(PROFILES))('%s: no unacknowledged error or warning', (name) => {
    const { stack } = synth(name);
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure')),
    ].map((f) => `${f.id}: ${String(f.entry.data).slice(0, 160)}`);
    expect(findings).toEqual([]);
  });

  it.each(Object.keys(PROFILES))('%s: every acknowledgement gives a specific reason', (name) => {
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

  it.each(Object.keys(PROFILES))('%s: every acknowledgement suppresses a finding, and every IAM5 one names the actions it lets through', (name) => {
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

describe('network', () => {
  it.each(Object.keys(PROFILES))('%s: public, private and isolated subnets in each AZ, NAT gateways, flow logs, endpoints', (name) => {
    const s = synth(name);
    const p = s.profile;
    const azs = p.network.availabilityZones;
    s.template.resourceCountIs('AWS::EC2::Subnet', 3 * azs);
    s.template.resourceCountIs('AWS::EC2::NatGateway', p.network.natGateways);
    const subnetNames = resources(s, 'AWS::EC2::Subnet').map(([, r]) => (r.Tags as { Key: string; Value: string }[]).find((t) => t.Key === 'aws-cdk:subnet-name')!.Value);
    expect(subnetNames.sort()).toEqual([...Array(azs).fill('isolated'), ...Array(azs).fill('private'), ...Array(azs).fill('public')]);
    const zones = new Set(resources(s, 'AWS::EC2::Subnet').map(([, r]) => r.AvailabilityZone));
    expect(zones).toEqual(new Set(Array.from({ length: azs }, (_, i) => `${p.region}${'abcdef'[i]}`)));
    s.template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', LogDestinationType: 'cloud-watch-logs' });
    const endpoints = resources(s, 'AWS::EC2::VPCEndpoint');
    const gateway = endpoints.filter(([, e]) => e.VpcEndpointType === 'Gateway');
    expect(gateway).toHaveLength(1);
    const interfaces = endpoints.filter(([, e]) => e.VpcEndpointType === 'Interface');
    expect(interfaces).toHaveLength(p.network.interfaceEndpoints ? 4 : 0);
    for (const [, e] of interfaces) expect(e.SubnetIds).toHaveLength(azs);
  });

  it('zones: named per region, or from the profile where the region\'s letters are not contiguous', () => {
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'four-zones', region: 'eu-west-1', network: { availabilityZones: 4, natGateways: 1 } })).toThrow(
      'network.availabilityZones: eu-west-1 has 3 availability zones (eu-west-1a, eu-west-1b, eu-west-1c); use at most 3',
    );
    const tokyo = resolveProfileLayer({ extends: 'loadtest', name: 'tokyo', region: 'ap-northeast-1' });
    expect(() => awsApp({ profile: tokyo, outdir: tempDir() })).toThrow('the availability zones of ap-northeast-1 are not known here; list them in network.availabilityZoneNames');
    const named = resolveProfileLayer({ extends: 'loadtest', name: 'tokyo', region: 'ap-northeast-1', network: { availabilityZoneNames: ['ap-northeast-1a', 'ap-northeast-1c'] } });
    const { stack } = awsApp({ profile: named, outdir: tempDir(), nag: false });
    const zones = new Set(Object.values(Template.fromStack(stack).findResources('AWS::EC2::Subnet')).map((r) => (r as { Properties: { AvailabilityZone: string } }).Properties.AvailabilityZone));
    expect(zones).toEqual(new Set(['ap-northeast-1a', 'ap-northeast-1c']));
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'x', network: { availabilityZoneNames: ['us-east-1a', 'eu-west-1b'] } })).toThrow('network.availabilityZoneNames: eu-west-1b is not in region us-east-1');
  });

  it('the cache parameter group family comes from a table, and a version without one is refused', () => {
    const six = resolveProfileLayer({ extends: 'loadtest', name: 'redis6', redis: { engine: 'redis', engineVersion: '6.2' } });
    const { stack } = awsApp({ profile: six, outdir: tempDir(), nag: false });
    Template.fromStack(stack).hasResourceProperties('AWS::ElastiCache::ParameterGroup', { CacheParameterGroupFamily: 'redis6.x' });
    expect(() => resolveProfileLayer({ extends: 'loadtest', name: 'x', redis: { engine: 'valkey', engineVersion: '9.0' } })).toThrow('redis.engineVersion: valkey 9.0 is not a version apistack deploys on ElastiCache; use one of 7.2, 8.0, 8.1');
  });

  it('refuses what AWS cannot run, with the field and the fix', () => {
    const oneAz = resolveProfileLayer({ extends: 'loadtest', name: 'one-az', network: { availabilityZones: 1, natGateways: 1 } });
    expect(() => awsApp({ profile: oneAz, outdir: tempDir() })).toThrow('network.availabilityZones is 1, but RDS and ElastiCache subnet groups need subnets in at least 2 availability zones on AWS; set it to 2 or more');
    const noNat = resolveProfileLayer({ extends: 'loadtest', name: 'no-nat', network: { natGateways: 0 } });
    expect(() => awsApp({ profile: noNat, outdir: tempDir() })).toThrow('network.natGateways is 0, but the tasks reach ECR (their images)');
  });
});

describe('data', () => {
  it.each(Object.keys(PROFILES))('%s: RDS Postgres as the profile says, encrypted, private, password in Secrets Manager and rotated', (name) => {
    const s = synth(name);
    const pg = s.profile.postgres;
    s.template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: pg.engineVersion,
      DBInstanceClass: pg.instanceClass,
      AllocatedStorage: String(pg.storageGiB),
      StorageType: pg.storageType,
      MultiAZ: pg.multiAz,
      // Provisioned IOPS only where the profile gives them (io1/io2), as priced.
      Iops: pg.iops ?? Match.absent(),
      BackupRetentionPeriod: pg.backupRetentionDays,
      DeletionProtection: s.profile.derived.postgres.deletionProtection,
      StorageEncrypted: true,
      PubliclyAccessible: false,
      EnablePerformanceInsights: true,
      MasterUsername: 'apistack',
      MasterUserPassword: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['{{resolve:secretsmanager:']) ]) }),
    });
    s.template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: `postgres${pg.engineVersion.split('.')[0]}`,
      Parameters: Match.objectLike({ max_connections: String(s.profile.derived.postgres.budgetAws.maxConnections), 'rds.force_ssl': '1' }),
    });
    s.template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  });

  it.each(Object.keys(PROFILES))('%s: ElastiCache as the profile says, encrypted, AUTH token from Secrets Manager', (name) => {
    const s = synth(name);
    const r = s.profile.redis;
    const group = only(s, 'AWS::ElastiCache::ReplicationGroup');
    expect(group).toMatchObject({
      Engine: r.engine,
      EngineVersion: r.engineVersion,
      CacheNodeType: r.nodeType,
      NumCacheClusters: 1 + r.replicas,
      MultiAZEnabled: r.multiAz,
      AutomaticFailoverEnabled: r.replicas > 0,
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      Port: PORTS.redis,
    });
    expect(JSON.stringify(group.AuthToken)).toContain('{{resolve:secretsmanager:');
    // Family names follow no pattern across versions (redis6.x, redis7, valkey8): written out here.
    const family = ({ 'redis 7.1': 'redis7', 'valkey 8.0': 'valkey8' } as Record<string, string>)[`${r.engine} ${r.engineVersion}`];
    s.template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { CacheParameterGroupFamily: family, Properties: { 'maxmemory-policy': r.maxmemoryPolicy } });
  });
});

describe('the API service', () => {
  it.each(Object.keys(PROFILES))('%s: Fargate task sized and configured by the profile, secrets from Secrets Manager', (name) => {
    const s = synth(name);
    const p = s.profile;
    s.template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    const task = taskWith(s, 'api');
    expect(task).toMatchObject({
      Cpu: String(p.api.vcpuPerReplica * 1024),
      Memory: String(p.api.memoryMiBPerReplica),
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: p.api.cpuArchitecture === 'arm64' ? 'ARM64' : 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    const [api] = containers(s, 'api');
    const env = envOf(api!);
    expect(env.WEB_CONCURRENCY).toBe(String(p.derived.api.workersPerReplica));
    expect(env.GRACEFUL_TIMEOUT).toBe(String(p.api.gracefulTimeoutSeconds));
    expect(env.SHUTDOWN_DELAY).toBe(String(p.derived.api.shutdownDelaySeconds));
    expect(JSON.stringify(env.DATABASE_URL)).toMatch(/postgres:\/\/apistack@.*sslmode=require/);
    expect(JSON.stringify(env.REDIS_URL)).toContain('rediss://');
    expect((api!.Secrets as { Name: string }[]).map((x) => x.Name).sort()).toEqual(['ADMIN_TOKEN', 'DATABASE_PASSWORD', 'REDIS_PASSWORD']);
    expect(api).toMatchObject({
      Essential: true,
      StopTimeout: p.derived.api.containerStopTimeoutSeconds,
      ReadonlyRootFilesystem: true,
      User: '10001',
      HealthCheck: { Command: expect.arrayContaining(['CMD']) },
      LogConfiguration: { LogDriver: 'awslogs' },
      DependsOn: [{ ContainerName: 'migrate', Condition: 'SUCCESS' }],
      PortMappings: [
        { ContainerPort: PORTS.api, Name: 'http' },
        { ContainerPort: PORTS.apiMetrics, Name: 'metrics' },
      ].map((m) => expect.objectContaining(m)),
    });
    expect(containers(s, 'migrate')[0]).toMatchObject({ Essential: false, Command: ['migrate'] });
    // The stop timeout covers the shutdown delay and the graceful timeout.
    expect(p.derived.api.containerStopTimeoutSeconds).toBeGreaterThan(p.api.preStopDelaySeconds + p.api.gracefulTimeoutSeconds);
    for (const group of resources(s, 'AWS::Logs::LogGroup')) expect(group[1].RetentionInDays).toBe(p.derived.monitoring.logRetentionDays);
  });

  it.each(Object.keys(PROFILES))('%s: zero-downtime deploys, Cloud Map, autoscaling from the profile', (name) => {
    const s = synth(name);
    const p = s.profile;
    const [serviceId, service] = resources(s, 'AWS::ECS::Service').find(([id]) => id.startsWith('ApiService'))!;
    expect(service).toMatchObject({
      DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100, MaximumPercent: 200 },
      LaunchType: 'FARGATE',
      ServiceRegistries: [expect.objectContaining({ RegistryArn: expect.anything() })],
    });
    // nginx and Prometheus resolve the tasks by name: one A record per task, short-lived.
    s.template.hasResourceProperties('AWS::ServiceDiscovery::Service', { Name: 'api', DnsConfig: { DnsRecords: [{ Type: 'A', TTL: 5 }] } });
    s.template.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: 'apistack.internal' });
    // Autoscaling owns the count: a deploy must not reset it.
    expect(service.DesiredCount).toBeUndefined();
    expect((service.NetworkConfiguration as { AwsvpcConfiguration: { AssignPublicIp: string } }).AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');

    const [targetId, target] = resources(s, 'AWS::ApplicationAutoScaling::ScalableTarget').find(([, t]) => JSON.stringify(t.ResourceId).includes(serviceId))!;
    expect(target).toMatchObject({ MinCapacity: p.api.replicasMin, MaxCapacity: p.api.replicasMax });
    const policies = resources(s, 'AWS::ApplicationAutoScaling::ScalingPolicy')
      .filter(([, pol]) => JSON.stringify(pol.ScalingTargetId).includes(targetId))
      .map(([, pol]) => pol.TargetTrackingScalingPolicyConfiguration as Record<string, unknown>);
    const byMetric = Object.fromEntries(policies.map((c) => [(c.PredefinedMetricSpecification as { PredefinedMetricType: string }).PredefinedMetricType, c]));
    const cooldowns = { ScaleOutCooldown: p.api.scaleUpStabilizationSeconds, ScaleInCooldown: p.api.scaleDownStabilizationSeconds };
    expect(byMetric.ECSServiceAverageCPUUtilization).toMatchObject({ TargetValue: p.api.autoscalingCpuTargetPercent, ...cooldowns });
    expect(byMetric.ECSServiceAverageMemoryUtilization).toMatchObject({ TargetValue: p.api.autoscalingMemoryTargetPercent, ...cooldowns });
    if (p.network.loadBalancer === 'alb') {
      expect(byMetric.ALBRequestCountPerTarget).toMatchObject({ TargetValue: p.derived.api.autoscalingRequestsPerTargetPerMinute, ...cooldowns });
    } else {
      expect(byMetric.ALBRequestCountPerTarget).toBeUndefined();
    }
    const scheduled = (target.ScheduledActions as Record<string, unknown>[] | undefined) ?? [];
    expect(scheduled.map((a) => ({ name: a.ScheduledActionName, schedule: a.Schedule, tz: a.Timezone, ...(a.ScalableTargetAction as object) }))).toEqual(
      (p.api.scheduledScaling ?? []).map((x) => ({ name: x.name, schedule: x.schedule, tz: x.timeZone, MinCapacity: x.replicasMin, MaxCapacity: x.replicasMax })),
    );
  });
});

describe('load balancer', () => {
  it('nlb: nginx on Fargate renders least_conn over the Cloud Map name, behind an NLB with the graceful deregistration delay', () => {
    const s = synth('optimized');
    const p = s.profile;
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      Protocol: 'TCP',
      TargetType: 'ip',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(p.api.gracefulTimeoutSeconds) }]),
    });
    const nginx = resources(s, 'AWS::ECS::Service').find(([id]) => id.startsWith('NginxService'))![1];
    expect(nginx).toMatchObject({ DesiredCount: p.nginx.replicasMin, DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100 } });
    // The rendered config is the image's build context.
    const conf = readdirSync(s.dir)
      .filter((d) => d.startsWith('asset.'))
      .flatMap((d) => readdirSync(join(s.dir, d)).filter((f) => f === 'nginx.conf').map((f) => readFileSync(join(s.dir, d, f), 'utf8')));
    expect(conf).toHaveLength(1);
    expect(conf[0]).toContain('least_conn;');
    expect(conf[0]).toMatch(/server api\.apistack\.internal:8000 .*resolve/);
    expect(conf[0]).toContain('resolver 169.254.169.253');
  });

  const listeners = (s: Synth) =>
    resources(s, 'AWS::ElasticLoadBalancingV2::Listener')
      .map(([, l]) => ({ port: l.Port, protocol: l.Protocol, certificates: l.Certificates, sslPolicy: l.SslPolicy, action: (l.DefaultActions as { Type: string }[])[0]!.Type }))
      .sort((a, b) => Number(a.port) - Number(b.port));
  const accessLogs = (s: Synth) => {
    const attributes = only(s, 'AWS::ElasticLoadBalancingV2::LoadBalancer').LoadBalancerAttributes as { Key: string; Value: unknown }[];
    return attributes.find((a) => a.Key === 'access_logs.s3.enabled')?.Value;
  };
  const publicIngress = (s: Synth) =>
    resources(s, 'AWS::EC2::SecurityGroup')
      .flatMap(([, g]) => (g.SecurityGroupIngress as { CidrIp?: string; FromPort: number }[] | undefined) ?? [])
      .filter((r) => r.CidrIp === '0.0.0.0/0')
      .map((r) => r.FromPort)
      .sort((a, b) => a - b);
  const tls = { sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06', certificates: [{ CertificateArn: certificateArn('us-east-1') }] };

  it('nlb without a certificate: plain TCP on 80, no access-log bucket it could never fill, and the acknowledgement says why', () => {
    const s = synth('optimized');
    expect(listeners(s)).toEqual([{ port: 80, protocol: 'TCP', certificates: undefined, sslPolicy: undefined, action: 'forward' }]);
    expect(accessLogs(s)).toBeUndefined();
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(publicIngress(s)).toEqual([80]);
    const elb2 = s.suppressions.filter((x) => x.ruleId === 'AwsSolutions-ELB2');
    expect(elb2).toHaveLength(1);
    expect(elb2[0]!.reason).toContain('NLBs write access logs for TLS listeners only');
    expect(elb2[0]!.reason).toContain('nginx\'s JSON access log in CloudWatch Logs');
  });

  it('nlb with a certificate: TLS on 443 only (an NLB cannot redirect 80), to nginx, access logs to an encrypted bucket', () => {
    const s = synth('nlb-tls');
    expect(listeners(s)).toEqual([{ port: 443, protocol: 'TLS', ...tls, action: 'forward' }]);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8080, Protocol: 'TCP' });
    expect(accessLogs(s)).toBe('true');
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.prefix', Value: 'nlb' }]) });
    s.template.hasResourceProperties('AWS::S3::Bucket', { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    expect(publicIngress(s)).toEqual([443]);
    expect(s.suppressions.filter((x) => x.ruleId === 'AwsSolutions-ELB2')).toEqual([]);
  });

  it('alb without a certificate: HTTP on 80 with access logs', () => {
    const s = synth('alb-managed');
    expect(listeners(s)).toEqual([{ port: 80, protocol: 'HTTP', certificates: undefined, sslPolicy: undefined, action: 'forward' }]);
    expect(accessLogs(s)).toBe('true');
    expect(publicIngress(s)).toEqual([80]);
  });

  it('alb with a certificate: HTTPS on 443 to the API, 80 redirects to it, access logs', () => {
    const s = synth('alb-tls');
    expect(listeners(s)).toEqual([
      { port: 80, protocol: 'HTTP', certificates: undefined, sslPolicy: undefined, action: 'redirect' },
      { port: 443, protocol: 'HTTPS', ...tls, action: 'forward' },
    ]);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] });
    expect(accessLogs(s)).toBe('true');
    expect(publicIngress(s)).toEqual([80, 443]);
  });

  it('the stack names its load balancer for DNS', () => {
    synth('optimized').template.hasOutput('LoadBalancerDnsName', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NginxLoadBalancer'), 'DNSName'] } });
  });

  it('alb: least outstanding requests straight to the API tasks, access logs, the graceful deregistration delay', () => {
    const s = synth('alb-managed');
    s.template.resourceCountIs('AWS::ECS::Service', 1);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'application',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: PORTS.api,
      HealthCheckPath: '/readyz',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(s.profile.api.gracefulTimeoutSeconds) }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'load_balancing.algorithm.type', Value: 'least_outstanding_requests' }]),
    });
  });
});

describe('monitoring', () => {
  it('self-hosted: Prometheus and Grafana services on encrypted EFS, configured from lib/monitoring', () => {
    const s = synth('optimized');
    s.template.hasResourceProperties('AWS::EFS::FileSystem', { Encrypted: true });
    s.template.resourceCountIs('AWS::EFS::AccessPoint', 2);
    for (const name of ['prometheus', 'grafana']) {
      expect(containers(s, name)).toHaveLength(1);
      expect(taskWith(s, name).Volumes).toEqual([expect.objectContaining({ Name: 'data', EFSVolumeConfiguration: expect.objectContaining({ TransitEncryption: 'ENABLED' }) })]);
    }
    expect(containers(s, 'grafana')[0]!.Secrets).toEqual([expect.objectContaining({ Name: 'GF_SECURITY_ADMIN_PASSWORD' })]);
    const files = readdirSync(s.dir).filter((d) => d.startsWith('asset.')).flatMap((d) => readdirSync(join(s.dir, d)).map((f) => join(s.dir, d, f)));
    const promYaml = readFileSync(files.find((f) => f.endsWith('prometheus.yml'))!, 'utf8');
    expect(promYaml).toContain('api.apistack.internal');
    expect(promYaml).toContain('nginx.apistack.internal');
    expect(readFileSync(files.find((f) => f.endsWith('rules.yml'))!, 'utf8')).toBe(renderRulesYaml(s.profile));
    s.template.resourceCountIs('AWS::APS::Workspace', 0);
  });

  it('managed: a workspace with the rules, a collector beside every API task, Managed Grafana', () => {
    const s = synth('alb-managed');
    expect(only(s, 'AWS::APS::RuleGroupsNamespace').Data).toBe(renderRulesYaml(s.profile));
    s.template.resourceCountIs('AWS::APS::Workspace', 1);
    s.template.hasResourceProperties('AWS::Grafana::Workspace', { AccountAccessType: 'CURRENT_ACCOUNT', DataSources: ['PROMETHEUS', 'CLOUDWATCH'] });
    const collector = containers(s, 'collector')[0]!;
    expect(collector.Essential).toBe(false);
    expect(JSON.stringify(envOf(collector).AOT_CONFIG_CONTENT)).toContain(`127.0.0.1:${PORTS.apiMetrics}`);
    expect(taskWith(s, 'collector')).toBe(taskWith(s, 'api'));
    s.template.resourceCountIs('AWS::EFS::FileSystem', 0);
  });

  it.each([
    ['optimized', ['CacheMemory', 'DatabaseConnections', 'DatabaseCpu', 'DatabaseStorage', 'Nginx5xx', 'UnhealthyHosts']],
    ['alb-managed', ['Alb5xx', 'CacheMemory', 'DatabaseConnections', 'DatabaseCpu', 'DatabaseStorage', 'Target5xx', 'UnhealthyHosts']],
    ['nlb-no-access-log', ['CacheMemory', 'DatabaseConnections', 'DatabaseCpu', 'DatabaseStorage', 'NginxUpstreamErrors', 'UnhealthyHosts']],
  ])('%s: CloudWatch alarms page through an encrypted topic', (name, expected) => {
    const s = synth(name);
    const alarms = resources(s, 'AWS::CloudWatch::Alarm');
    expect(alarms.map(([id]) => id.replace(/^Alarms/, '').replace(/[A-F0-9]{8}$/, '')).sort()).toEqual(expected);
    for (const [, a] of alarms) expect(a.AlarmActions).toHaveLength(1);
    // The nginx alarm counts what nginx logs: 5xx statuses from the access log, or upstream failures from the error log when the access log is off.
    const filters = resources(s, 'AWS::Logs::MetricFilter').map(([, f]) => f.FilterPattern);
    if (expected.includes('Nginx5xx')) expect(filters).toEqual(['{ $.status = "5*" }']);
    else if (expected.includes('NginxUpstreamErrors')) expect(filters).toEqual(['"[error]" "upstream"']);
    else expect(filters).toEqual([]);
    const connections = alarms.find(([id]) => id.startsWith('AlarmsDatabaseConnections'))![1];
    expect(connections.Threshold).toBe(Math.floor((s.profile.derived.postgres.budgetAws.maxConnections * s.profile.monitoring.alerts.dbConnectionsPercent) / 100));
  });
});

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
    for (const name of Object.keys(PROFILES)) {
      const egress = resources(synth(name), 'AWS::EC2::SecurityGroup').flatMap(([, g]) => (g.SecurityGroupEgress as { FromPort?: number }[] | undefined) ?? []);
      expect(egress.filter((e) => e.FromPort === 53), name).toEqual([]);
    }
  });
});

describe('security groups allow exactly the paths the stack needs', () => {
  function edges(s: Synth): string[] {
    const groups = new Map(resources(s, 'AWS::EC2::SecurityGroup').map(([id, g]) => [id, String(g.GroupDescription)]));
    const name = (ref: unknown) => {
      const id = (ref as { 'Fn::GetAtt'?: [string] })?.['Fn::GetAtt']?.[0];
      const d = id ? groups.get(id) : undefined;
      return d ? d.split(':')[0]! : JSON.stringify(ref);
    };
    const out: string[] = [];
    for (const [id, g] of resources(s, 'AWS::EC2::SecurityGroup')) {
      for (const rule of (g.SecurityGroupIngress as Record<string, unknown>[] | undefined) ?? []) {
        out.push(`${rule.CidrIp ? (typeof rule.CidrIp === 'string' ? rule.CidrIp : 'vpc') : name(rule.SourceSecurityGroupId)} -> ${groups.get(id)!.split(':')[0]}:${rule.FromPort}`);
      }
    }
    // RDS's port is a reference to the instance's endpoint port.
    const port = (p: unknown) => (typeof p === 'object' ? 'endpoint port' : String(p));
    for (const [, r] of resources(s, 'AWS::EC2::SecurityGroupIngress')) out.push(`${name(r.SourceSecurityGroupId)} -> ${name(r.GroupId)}:${port(r.FromPort)}`);
    return [...new Set(out)].sort();
  }

  it('nlb and self-hosted monitoring', () => {
    expect(edges(synth('optimized'))).toEqual(
      [
        '0.0.0.0/0 -> NLB:80',
        'NLB -> nginx tasks:8080',
        'nginx tasks -> API tasks:8000',
        'API tasks -> Postgres:5432',
        'API tasks -> valkey:6379',
        'Prometheus and Grafana -> API tasks:9464',
        'Prometheus and Grafana -> nginx tasks:9113',
        'Prometheus and Grafana -> Prometheus and Grafana:9090',
        'Prometheus and Grafana -> EFS:2049',
        // The Secrets Manager rotation function logs in to rotate the password.
        'apistack-optimized/Database/Postgres/RotationSingleUser/SecurityGroup -> Postgres:endpoint port',
      ].sort(),
    );
  });

  it('with a certificate: 443 from the internet to the NLB; 443 and the redirecting 80 to the ALB', () => {
    expect(edges(synth('nlb-tls')).filter((e) => e.startsWith('0.0.0.0/0'))).toEqual(['0.0.0.0/0 -> NLB:443']);
    expect(edges(synth('alb-tls')).filter((e) => e.startsWith('0.0.0.0/0'))).toEqual(['0.0.0.0/0 -> ALB:443', '0.0.0.0/0 -> ALB:80']);
  });

  it('alb, managed monitoring and interface endpoints', () => {
    expect(edges(synth('alb-managed'))).toEqual(
      [
        '0.0.0.0/0 -> ALB:80',
        'ALB -> API tasks:8000',
        'API tasks -> Postgres:5432',
        'API tasks -> valkey:6379',
        'apistack-alb-managed/Database/Postgres/RotationSingleUser/SecurityGroup -> Postgres:endpoint port',
        ...['EcrApi', 'EcrDocker', 'Logs', 'SecretsManager'].map((e) => `vpc -> apistack-alb-managed/Network/Vpc/${e}/SecurityGroup:443`),
      ].sort(),
    );
  });
});

describe('no secret value in the cloud assembly', () => {
  it.each(Object.keys(PROFILES))('%s: Secrets Manager generates every secret; tasks and resources hold only references', (name) => {
    const s = synth(name);
    for (const [, secret] of resources(s, 'AWS::SecretsManager::Secret')) {
      expect(secret.SecretString).toBeUndefined();
      expect(secret.GenerateSecretString).toBeDefined();
    }
    for (const c of resources(s, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => t.ContainerDefinitions as Record<string, unknown>[])) {
      const names = ((c.Environment as { Name: string }[] | undefined) ?? []).map((e) => e.Name);
      expect(names.filter((n) => /PASSWORD|TOKEN|SECRET|_KEY$/.test(n)), String(c.Name)).toEqual([]);
      for (const secret of (c.Secrets as { ValueFrom: unknown }[] | undefined) ?? []) expect(typeof secret.ValueFrom).not.toBe('string');
    }
    // Nothing that looks like a credential in any file of the assembly (templates, nginx, Prometheus, Grafana contexts).
    const text = readdirSync(s.dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.parentPath.includes('/app') && /\.(json|yml|yaml|conf)$/.test(e.name))
      .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
      .join('\n');
    expect(text).not.toMatch(/"(MasterUserPassword|AuthToken)":\s*"(?!\{\{resolve)/);
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^@"\s]*:[^@"\s]+@/);
  });
});

describe('deterministic synth', () => {
  it('two synths of the same profile give byte-identical templates and the same image contexts', () => {
    const read = () => {
      const dir = tempDir('apistack-aws-det-');
      awsApp({ profile: loadProfile('production-ha'), outdir: dir }).app.synth();
      const files = readdirSync(dir).filter((f) => f.endsWith('.template.json') || f.endsWith('.assets.json') || f.startsWith('asset.')).sort();
      return { files, templates: files.filter((f) => f.endsWith('.json')).map((f) => readFileSync(join(dir, f), 'utf8')) };
    };
    const a = read();
    const b = read();
    expect(b.files).toEqual(a.files);
    expect(b.templates).toEqual(a.templates);
  });
});

describe('the profile drives the template', () => {
  it('baseline and optimized differ where their profiles do', () => {
    const pick = (s: Synth) => ({
      dbClass: only(s, 'AWS::RDS::DBInstance').DBInstanceClass,
      storage: only(s, 'AWS::RDS::DBInstance').AllocatedStorage,
      dbMultiAz: only(s, 'AWS::RDS::DBInstance').MultiAZ,
      cacheNode: only(s, 'AWS::ElastiCache::ReplicationGroup').CacheNodeType,
      cacheNodes: only(s, 'AWS::ElastiCache::ReplicationGroup').NumCacheClusters,
      taskCpu: taskWith(s, 'api').Cpu,
      range: (({ MinCapacity, MaxCapacity }) => [MinCapacity, MaxCapacity])(resources(s, 'AWS::ApplicationAutoScaling::ScalableTarget')[0]![1] as { MinCapacity: number; MaxCapacity: number }),
      nat: resources(s, 'AWS::EC2::NatGateway').length,
    });
    expect(pick(synth('baseline'))).toEqual({ dbClass: 'db.m7g.large', storage: '200', dbMultiAz: true, cacheNode: 'cache.r7g.large', cacheNodes: 2, taskCpu: '1024', range: [6, 20], nat: 2 });
    expect(pick(synth('optimized'))).toEqual({ dbClass: 'db.t4g.medium', storage: '50', dbMultiAz: false, cacheNode: 'cache.t4g.medium', cacheNodes: 1, taskCpu: '2048', range: [2, 6], nat: 1 });
    expect(pick(synth('production-ha'))).toMatchObject({ dbMultiAz: true, cacheNodes: 3, range: [3, 8], nat: 3 });
  });
});

describe('priced as deployed', () => {
  it.each(Object.keys(PROFILES))('%s: pricing the template gives the profile\'s monthly cost per component, at every replica point', (name) => {
    const s = synth(name);
    const perComponent = (b: { components: readonly { name: string; monthly: number }[] }) => Object.fromEntries(b.components.map((c) => [c.name, c.monthly]));
    for (const replicas of [undefined, 'min', 'max'] as const) {
      const fromTemplate = priceTemplate(s.dir, catalog, replicas ? { replicas } : {}).breakdown;
      const fromProfile = priceProfile(s.profile, 'aws', catalog, replicas ? { replicas } : {});
      expect(perComponent(fromTemplate)).toEqual(perComponent(fromProfile));
      expect(fromTemplate.total).toBe(fromProfile.total);
    }
  });

  it('reads sizes from the resources, not from the profile it records', () => {
    const s = synth('optimized');
    const dir = tempDir('apistack-aws-edit-');
    const json = JSON.parse(JSON.stringify(s.json)) as Synth['json'];
    const task = Object.values(json.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition' && JSON.stringify(r.Properties).includes('"Name":"api"'))!;
    task.Properties!.Cpu = '4096';
    task.Properties!.Memory = '8192';
    Object.values(json.Resources).find((r) => r.Type === 'AWS::RDS::DBInstance')!.Properties!.DBInstanceClass = 'db.m7g.large';
    writeFileSync(join(dir, 'edited.template.json'), JSON.stringify(json));
    const edited = priceTemplate(dir, catalog).breakdown;
    const original = priceProfile(s.profile, 'aws', catalog);
    const app = (b: typeof edited) => b.components.find((c) => c.name === 'Application Servers')!.monthly;
    expect(app(edited)).toBeCloseTo(2 * app(original), 1);
    expect(edited.components.find((c) => c.name === 'Database')!.lines[0]!.name).toBe('RDS PostgreSQL db.m7g.large');
  });
});

describe('CLI and cdk.json', () => {
  it('apistack synth --target aws, then cost --from-template prints what cost --profile prints (JSON too)', () => {
    const out = tempDir('apistack-aws-cli-');
    const synthRun = cli(['synth', '--target', 'aws', '--profile', 'loadtest', '--out', out]);
    expect(synthRun.stderr).toBe('');
    expect(synthRun.status).toBe(0);
    expect(synthRun.stdout).toContain(join(out, 'aws', 'apistack-loadtest.template.json'));
    for (const format of ['json', 'table']) {
      const fromTemplate = cli(['cost', '--from-template', join(out, 'aws'), '--format', format]);
      const fromProfile = cli(['cost', '--profile', 'loadtest', '--format', format]);
      expect(fromTemplate.status).toBe(0);
      expect(fromTemplate.stdout).toBe(fromProfile.stdout);
    }
    const wrong = cli(['cost', '--from-template', join(out, 'nothing-here')]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toBe(`error: ${join(out, 'nothing-here')} does not exist; synthesize first: apistack synth --target aws --out DIR, then pass DIR/aws\n`);
  }, 240_000);

  it('a profile AWS cannot run is a clear error, not a stack trace', () => {
    const dir = tempDir('apistack-aws-bad-');
    const file = join(dir, 'one-az.yaml');
    writeFileSync(file, 'extends: loadtest\nname: one-az\nnetwork: { availabilityZones: 1, natGateways: 1 }\n');
    const r = cli(['synth', '--target', 'aws', '--profile', file, '--out', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: profile one-az: network.availabilityZones is 1');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('npx cdk synth -c profile=NAME works offline with no account, from the pinned CLI', () => {
    const out = tempDir('apistack-cdk-');
    const r = spawnSync(join(repoRoot, 'node_modules', '.bin', 'cdk'), ['synth', '-q', '-c', 'profile=loadtest', '-o', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', CDK_DISABLE_VERSION_CHECK: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'apistack-loadtest.template.json'), 'utf8')) as Synth['json'];
    expect(Object.values(template.Resources).find((x) => x.Type === 'AWS::RDS::DBInstance')!.Properties!.DBInstanceClass).toBe('db.t4g.small');
  }, 180_000);
});
