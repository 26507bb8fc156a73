/**
 * The nginx service behind the NLB as synthesized: the volume-init container that hands the
 * Fargate /tmp volume to nginx's uid, PROXY protocol v2 on the target group, health checks that
 * still work with it, and the load-test exemption of the NAT gateways' addresses.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { awsApp } from '../../lib/aws/index.ts';
import { cidrContains } from '../../lib/aws/balancer.ts';
import { loadProfile, PORTS, SERVICE_DNS_TTL_SECONDS, TIMEOUT_MARGIN_SECONDS } from '../../lib/profile/index.ts';
import { CONTAINER_TEMP_DIR, NGINX_HEALTH_PATH, volumeInitCommand } from '../../nginx/index.ts';
import { tempDir } from '../helpers/servers.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

const synths = new Map<string, Resources>();
function resourcesOf(name: string): Resources {
  let r = synths.get(name);
  if (!r) {
    const { app, stack } = awsApp({ profile: loadProfile(name), outdir: tempDir('apistack-aws-nginx-'), nag: false });
    app.synth();
    r = (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources;
    synths.set(name, r);
  }
  return r;
}

function nginxContainers(name: string): Record<string, Record<string, unknown>> {
  const task = Object.values(resourcesOf(name)).find(
    (r) => r.Type === 'AWS::ECS::TaskDefinition' && (r.Properties.ContainerDefinitions as { Name: string }[]).some((c) => c.Name === 'nginx'),
  );
  expect(task).toBeDefined();
  return Object.fromEntries((task!.Properties.ContainerDefinitions as { Name: string }[]).map((c) => [c.Name, c as unknown as Record<string, unknown>]));
}

describe('nginx on Fargate', () => {
  it.each(['optimized', 'production-ha'])('%s: a root volume-init container prepares /tmp, and nginx starts only after it succeeded', (name) => {
    const c = nginxContainers(name);
    expect(c['volume-init']).toMatchObject({
      User: '0',
      Essential: false,
      EntryPoint: ['sh', '-c'],
      Command: [volumeInitCommand(CONTAINER_TEMP_DIR)],
      ReadonlyRootFilesystem: true,
      MountPoints: [{ ContainerPath: CONTAINER_TEMP_DIR, SourceVolume: 'tmp', ReadOnly: false }],
    });
    expect(c.nginx).toMatchObject({
      DependsOn: [{ ContainerName: 'volume-init', Condition: 'SUCCESS' }],
      ReadonlyRootFilesystem: true,
      MountPoints: [{ ContainerPath: CONTAINER_TEMP_DIR, SourceVolume: 'tmp', ReadOnly: false }],
    });
    expect(c.nginx!.User).toBeUndefined(); // the image's USER 101:101
    // The container health check asks the status port: the public one requires a PROXY header.
    expect((c.nginx!.HealthCheck as { Command: string[] }).Command[1]).toContain(`http://127.0.0.1:${PORTS.nginxStatus}${NGINX_HEALTH_PATH}`);
  });

  it('loadtest: the volume-init container writes the NAT gateways\' public addresses for the exemption', () => {
    const env = nginxContainers('loadtest')['volume-init']!.Environment as { Name: string; Value: unknown }[];
    expect(env.map((e) => e.Name)).toEqual(['NAT_PUBLIC_ADDRESSES']);
    // One address is the attribute itself; several are joined with spaces.
    const value = env[0]!.Value as { 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, { 'Fn::GetAtt': [string, string] }[]] };
    const parts = value['Fn::Join'] ? (expect(value['Fn::Join'][0]).toBe(' '), value['Fn::Join'][1].map((p) => p['Fn::GetAtt'])) : [value['Fn::GetAtt']];
    const eips = Object.entries(resourcesOf('loadtest')).filter(([, r]) => r.Type === 'AWS::EC2::EIP').map(([id]) => id);
    expect(eips.length).toBe(loadProfile('loadtest').network.natGateways);
    expect(parts).toEqual(eips.map((id) => [id, 'PublicIp']));
    expect(nginxContainers('optimized')['volume-init']!.Environment).toBeUndefined();
  });
});

describe('client addresses through the NLB', () => {
  it.each(['optimized', 'loadtest', 'production-ha'])('%s: the target group sends PROXY protocol v2 and health-checks the traffic port', (name) => {
    const groups = Object.values(resourcesOf(name)).filter((r) => r.Type === 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(groups).toHaveLength(1);
    const g = groups[0]!.Properties;
    expect(g).toMatchObject({ Protocol: 'TCP', TargetType: 'ip', Port: PORTS.nginx, HealthCheckProtocol: 'HTTP', HealthCheckPath: NGINX_HEALTH_PATH });
    expect(g.HealthCheckPort ?? 'traffic-port').toBe('traffic-port');
    expect(g.TargetGroupAttributes).toContainEqual({ Key: 'proxy_protocol_v2.enabled', Value: 'true' });
  });

  it('cidrContains reads IPv4 blocks', () => {
    expect(cidrContains('10.0.0.0/8', '10.0.0.0/16')).toBe(true);
    expect(cidrContains('10.0.0.0/16', '10.0.0.0/8')).toBe(false);
    expect(cidrContains('172.16.0.0/12', '10.0.0.0/16')).toBe(false);
    expect(cidrContains('fc00::/7', '10.0.0.0/16')).toBe(false);
  });
});

describe('draining an API task on deploys', () => {
  it.each(['baseline', 'optimized', 'production-ha'])('%s: the task keeps serving until nginx cannot hold its Cloud Map address, then drains, inside its stop timeout', (name) => {
    const p = loadProfile(name);
    const r = resourcesOf(name);
    const task = Object.values(r).find((x) => x.Type === 'AWS::ECS::TaskDefinition' && (x.Properties.ContainerDefinitions as { Name: string }[]).some((c) => c.Name === 'api'))!;
    const api = (task.Properties.ContainerDefinitions as { Name: string; Environment: { Name: string; Value: string }[]; StopTimeout: number }[]).find((c) => c.Name === 'api')!;
    const delay = Number(api.Environment.find((e) => e.Name === 'SHUTDOWN_DELAY')!.Value);
    const ttls = Object.values(r)
      .filter((x) => x.Type === 'AWS::ServiceDiscovery::Service')
      .map((x) => (x.Properties.DnsConfig as { DnsRecords: { TTL: number }[] }).DnsRecords[0]!.TTL);
    expect(new Set(ttls)).toEqual(new Set([SERVICE_DNS_TTL_SECONDS]));
    // The record's TTL in the VPC resolver's cache, then nginx's own re-resolve interval, then a margin.
    expect(delay).toBe(Math.max(p.api.preStopDelaySeconds, 2 * SERVICE_DNS_TTL_SECONDS + TIMEOUT_MARGIN_SECONDS));
    expect(api.StopTimeout).toBeGreaterThan(delay + p.api.gracefulTimeoutSeconds);
  });
});
