/** The network construct: subnets, NAT gateways, flow logs and endpoints per profile, and the zones it names. */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { awsApp } from '../../lib/aws/index.ts';
import { resolveProfileLayer } from '../../lib/profile/index.ts';
import { tempDir } from '../helpers/servers.ts';
import { PROFILE_NAMES, synth, resources } from './fixtures.ts';

describe('network', () => {
  it.each(PROFILE_NAMES)('%s: public, private and isolated subnets in each AZ, NAT gateways, flow logs, endpoints', (name) => {
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
    // How many each fixture has is in facts.test.ts; each reaches every zone.
    for (const [, e] of interfaces) expect(e.SubnetIds).toHaveLength(azs);
  });

  it('zones: named per region, or from the profile where the region\'s letters are not known or not contiguous', () => {
    const tokyo = { extends: 'loadtest', name: 'tokyo', region: 'ap-northeast-1' } as const;
    expect(() => awsApp({ profile: resolveProfileLayer(tokyo, process.cwd(), { target: 'k8s' }), outdir: tempDir() })).toThrow('the availability zones of ap-northeast-1 are not known here');
    const named = resolveProfileLayer({ extends: 'loadtest', name: 'tokyo', region: 'ap-northeast-1', network: { availabilityZoneNames: ['ap-northeast-1a', 'ap-northeast-1c'] } });
    const { stack } = awsApp({ profile: named, outdir: tempDir(), nag: false });
    const zones = new Set(Object.values(Template.fromStack(stack).findResources('AWS::EC2::Subnet')).map((r) => (r as { Properties: { AvailabilityZone: string } }).Properties.AvailabilityZone));
    expect(zones).toEqual(new Set(['ap-northeast-1a', 'ap-northeast-1c']));
  });

  it('the cache parameter group family comes from a table', () => {
    const six = resolveProfileLayer({ extends: 'loadtest', name: 'redis6', redis: { engine: 'redis', engineVersion: '6.2' } });
    const { stack } = awsApp({ profile: six, outdir: tempDir(), nag: false });
    Template.fromStack(stack).hasResourceProperties('AWS::ElastiCache::ParameterGroup', { CacheParameterGroupFamily: 'redis6.x' });
  });

  it('refuses what AWS cannot run, with the field and the fix, also for a profile loaded for Kubernetes only', () => {
    const oneAz = resolveProfileLayer({ extends: 'loadtest', name: 'one-az', network: { availabilityZones: 1, natGateways: 1 } }, process.cwd(), { target: 'k8s' });
    expect(() => awsApp({ profile: oneAz, outdir: tempDir() })).toThrow('network.availabilityZones: 1 availability zone, but RDS and ElastiCache subnet groups need subnets in at least 2 availability zones on AWS; set it to 2 or more');
    const noNat = resolveProfileLayer({ extends: 'loadtest', name: 'no-nat', network: { natGateways: 0 } }, process.cwd(), { target: 'k8s' });
    expect(() => awsApp({ profile: noNat, outdir: tempDir() })).toThrow('network.natGateways: 0 NAT gateways, but the tasks reach ECR (their images)');
  });
});
