/**
 * Each fixture's stack, its facts written out: what a reader of the profile expects the template
 * to hold, checked against the resources alone (the construct tests check how each property
 * follows the profile; these pin down what each profile comes to).
 */
import { describe, expect, it } from 'vitest';
import { PROFILE_NAMES, resources, synth, type Synth } from './fixtures.ts';

/** What a fixture's template says about its shape, read from the resources alone. */
interface StackFacts {
  zones: string[];
  natGateways: number;
  interfaceEndpoints: number;
  loadBalancer: 'network' | 'application';
  listenerPorts: number[];
  apiTask: { cpu: string; memory: string; architecture: string };
  apiReplicas: { min: number; max: number };
  scalesOn: string[];
  database: { instanceClass: string; multiAz: boolean; storageType: string; storageGiB: string; iops?: number };
  cache: { nodeType: string; nodes: number; multiAz: boolean };
  monitoring: 'self-hosted' | 'managed';
}

function factsOf(s: Synth): StackFacts {
  const props = (type: string) => resources(s, type).map(([, r]) => r);
  const api = resources(s, 'AWS::ECS::TaskDefinition').find(([, t]) => (t.ContainerDefinitions as { Name: string }[]).some((c) => c.Name === 'api'))![1];
  const [serviceId] = resources(s, 'AWS::ECS::Service').find(([id]) => id.startsWith('ApiService'))!;
  const [targetId, target] = resources(s, 'AWS::ApplicationAutoScaling::ScalableTarget').find(([, t]) => JSON.stringify(t.ResourceId).includes(serviceId))!;
  const db = props('AWS::RDS::DBInstance')[0]!;
  const cache = props('AWS::ElastiCache::ReplicationGroup')[0]!;
  return {
    zones: [...new Set(props('AWS::EC2::Subnet').map((r) => String(r.AvailabilityZone)))].sort(),
    natGateways: props('AWS::EC2::NatGateway').length,
    interfaceEndpoints: props('AWS::EC2::VPCEndpoint').filter((e) => e.VpcEndpointType === 'Interface').length,
    loadBalancer: props('AWS::ElasticLoadBalancingV2::LoadBalancer')[0]!.Type as StackFacts['loadBalancer'],
    listenerPorts: props('AWS::ElasticLoadBalancingV2::Listener').map((l) => Number(l.Port)).sort((a, b) => a - b),
    apiTask: { cpu: String(api.Cpu), memory: String(api.Memory), architecture: String((api.RuntimePlatform as { CpuArchitecture: string }).CpuArchitecture) },
    apiReplicas: { min: Number(target.MinCapacity), max: Number(target.MaxCapacity) },
    scalesOn: props('AWS::ApplicationAutoScaling::ScalingPolicy')
      .filter((pol) => JSON.stringify(pol.ScalingTargetId).includes(targetId))
      .map((pol) => (pol.TargetTrackingScalingPolicyConfiguration as { PredefinedMetricSpecification: { PredefinedMetricType: string } }).PredefinedMetricSpecification.PredefinedMetricType)
      .sort(),
    database: {
      instanceClass: String(db.DBInstanceClass),
      multiAz: Boolean(db.MultiAZ),
      storageType: String(db.StorageType),
      storageGiB: String(db.AllocatedStorage),
      ...(db.Iops !== undefined ? { iops: Number(db.Iops) } : {}),
    },
    cache: { nodeType: String(cache.CacheNodeType), nodes: Number(cache.NumCacheClusters), multiAz: Boolean(cache.MultiAZEnabled) },
    monitoring: props('AWS::APS::Workspace').length > 0 ? 'managed' : 'self-hosted',
  };
}

const CPU = 'ECSServiceAverageCPUUtilization';
const MEMORY = 'ECSServiceAverageMemoryUtilization';
const REQUESTS = 'ALBRequestCountPerTarget';

const FACTS: Record<string, StackFacts> = {
  // The default: NLB and nginx, two zones with one NAT gateway, Graviton tasks, single-AZ data, self-hosted monitoring
  'optimized': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [80],
    apiTask: { cpu: '2048', memory: '4096', architecture: 'ARM64' },
    apiReplicas: { min: 2, max: 6 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.t4g.medium', multiAz: false, storageType: 'gp3', storageGiB: '50' },
    cache: { nodeType: 'cache.t4g.medium', nodes: 1, multiAz: false },
    monitoring: 'self-hosted',
  },
  // The stack as commonly first deployed: ALB, a NAT gateway per zone, x86 tasks, Multi-AZ gp2 Postgres and r7g cache, managed monitoring
  'baseline': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 2,
    interfaceEndpoints: 0,
    loadBalancer: 'application',
    listenerPorts: [80],
    apiTask: { cpu: '1024', memory: '2048', architecture: 'X86_64' },
    apiReplicas: { min: 6, max: 20 },
    scalesOn: [REQUESTS, CPU, MEMORY],
    database: { instanceClass: 'db.m7g.large', multiAz: true, storageType: 'gp2', storageGiB: '200' },
    cache: { nodeType: 'cache.r7g.large', nodes: 2, multiAz: true },
    monitoring: 'managed',
  },
  // Small and cheap: the smallest data classes, three API tasks at most
  'loadtest': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [80],
    apiTask: { cpu: '1024', memory: '2048', architecture: 'ARM64' },
    apiReplicas: { min: 2, max: 3 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.t4g.small', multiAz: false, storageType: 'gp3', storageGiB: '20' },
    cache: { nodeType: 'cache.t4g.micro', nodes: 1, multiAz: false },
    monitoring: 'self-hosted',
  },
  // Every high-availability switch on: three zones, a NAT gateway each, Multi-AZ Postgres, a cache node per zone
  'production-ha': {
    zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    natGateways: 3,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [80],
    apiTask: { cpu: '2048', memory: '4096', architecture: 'ARM64' },
    apiReplicas: { min: 3, max: 8 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.t4g.medium', multiAz: true, storageType: 'gp3', storageGiB: '50' },
    cache: { nodeType: 'cache.t4g.medium', nodes: 3, multiAz: true },
    monitoring: 'self-hosted',
  },
  // Production-ha behind the ALB with interface endpoints and managed monitoring
  'alb-managed': {
    zones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    natGateways: 3,
    interfaceEndpoints: 4,
    loadBalancer: 'application',
    listenerPorts: [80],
    apiTask: { cpu: '2048', memory: '4096', architecture: 'ARM64' },
    apiReplicas: { min: 3, max: 8 },
    scalesOn: [REQUESTS, CPU, MEMORY],
    database: { instanceClass: 'db.t4g.medium', multiAz: true, storageType: 'gp3', storageGiB: '50' },
    cache: { nodeType: 'cache.t4g.medium', nodes: 3, multiAz: true },
    monitoring: 'managed',
  },
  // Production-ha in eu-west-1 on provisioned-IOPS storage
  'io1-eu': {
    zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    natGateways: 3,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [80],
    apiTask: { cpu: '2048', memory: '4096', architecture: 'ARM64' },
    apiReplicas: { min: 3, max: 8 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.r6g.xlarge', multiAz: true, storageType: 'io1', storageGiB: '200', iops: 4000 },
    cache: { nodeType: 'cache.r7g.xlarge', nodes: 3, multiAz: true },
    monitoring: 'self-hosted',
  },
  // Optimized with a certificate: TLS on 443 only
  'nlb-tls': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [443],
    apiTask: { cpu: '2048', memory: '4096', architecture: 'ARM64' },
    apiReplicas: { min: 2, max: 6 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.t4g.medium', multiAz: false, storageType: 'gp3', storageGiB: '50' },
    cache: { nodeType: 'cache.t4g.medium', nodes: 1, multiAz: false },
    monitoring: 'self-hosted',
  },
  // Loadtest behind the ALB with a certificate: 443, and 80 redirecting to it
  'alb-tls': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    interfaceEndpoints: 0,
    loadBalancer: 'application',
    listenerPorts: [80, 443],
    apiTask: { cpu: '1024', memory: '2048', architecture: 'ARM64' },
    apiReplicas: { min: 2, max: 3 },
    scalesOn: [REQUESTS, CPU, MEMORY],
    database: { instanceClass: 'db.t4g.small', multiAz: false, storageType: 'gp3', storageGiB: '20' },
    cache: { nodeType: 'cache.t4g.micro', nodes: 1, multiAz: false },
    monitoring: 'self-hosted',
  },
  // Optimized without an nginx access log: the same shape
  'nlb-no-access-log': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [80],
    apiTask: { cpu: '2048', memory: '4096', architecture: 'ARM64' },
    apiReplicas: { min: 2, max: 6 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.t4g.medium', multiAz: false, storageType: 'gp3', storageGiB: '50' },
    cache: { nodeType: 'cache.t4g.medium', nodes: 1, multiAz: false },
    monitoring: 'self-hosted',
  },
  // Baseline behind nginx with the 8 tasks Cloud Map DNS gives it
  'nlb-managed': {
    zones: ['us-east-1a', 'us-east-1b'],
    natGateways: 2,
    interfaceEndpoints: 0,
    loadBalancer: 'network',
    listenerPorts: [80],
    apiTask: { cpu: '1024', memory: '2048', architecture: 'X86_64' },
    apiReplicas: { min: 6, max: 8 },
    scalesOn: [CPU, MEMORY],
    database: { instanceClass: 'db.m7g.large', multiAz: true, storageType: 'gp2', storageGiB: '200' },
    cache: { nodeType: 'cache.r7g.large', nodes: 2, multiAz: true },
    monitoring: 'managed',
  },
};

describe('what each fixture\'s stack holds', () => {
  it('every fixture has its facts written out', () => {
    expect(Object.keys(FACTS).sort()).toEqual([...PROFILE_NAMES].sort());
  });

  for (const [name, facts] of Object.entries(FACTS)) {
    it(`${name}: ${facts.zones.length} zones, ${facts.natGateways} NAT, ${facts.loadBalancer} load balancer on ${facts.listenerPorts.join(' and ')}, ${facts.database.instanceClass}${facts.database.multiAz ? ' Multi-AZ' : ''}, ${facts.monitoring} monitoring`, () => {
      expect(factsOf(synth(name))).toEqual(facts);
    });
  }
});
