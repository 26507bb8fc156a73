/** The API service: the Fargate task the profile sizes, zero-downtime deploys, Cloud Map and autoscaling. */
import { describe, expect, it } from 'vitest';
import { PORTS } from '../../lib/profile/index.ts';
import { PROFILE_NAMES, synth, resources, containers, taskWith, envOf } from './fixtures.ts';

describe('the API service', () => {
  it.each(PROFILE_NAMES)('%s: Fargate task sized and configured by the profile, secrets from Secrets Manager', (name) => {
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

  it.each(PROFILE_NAMES)('%s: zero-downtime deploys, Cloud Map, autoscaling from the profile', (name) => {
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
    // Which fixtures scale on requests too (those behind the ALB) is in facts.test.ts; where they do, at the derived rate.
    if (byMetric.ALBRequestCountPerTarget) expect(byMetric.ALBRequestCountPerTarget).toMatchObject({ TargetValue: p.derived.api.autoscalingRequestsPerTargetPerMinute, ...cooldowns });
    const scheduled = (target.ScheduledActions as Record<string, unknown>[] | undefined) ?? [];
    expect(scheduled.map((a) => ({ name: a.ScheduledActionName, schedule: a.Schedule, tz: a.Timezone, ...(a.ScalableTargetAction as object) }))).toEqual(
      (p.api.scheduledScaling ?? []).map((x) => ({ name: x.name, schedule: x.schedule, tz: x.timeZone, MinCapacity: x.replicasMin, MaxCapacity: x.replicasMax })),
    );
  });
});
