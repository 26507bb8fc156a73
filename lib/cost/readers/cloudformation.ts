/**
 * Reads a synthesized CloudFormation template (the AWS target) into the cost model's inputs:
 * task sizes and counts, the database, the cache, the balancer, NAT gateways and endpoints are
 * taken from the resources. A template cannot say how much traffic to expect or which purchase
 * option applies, so those (usage, purchase, expected replicas, Grafana users, EFS fill) come
 * from the profile the stack records in its `apistack:profile` metadata.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import { PROFILE_METADATA_KEY, resolveProfileData, type ResolvedProfile } from '../../profile/load.ts';
import type { ReplicaPoint } from './common.ts';
import type { AwsCostInputs, FargateTasks } from './profile-aws.ts';

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
export interface CloudFormationTemplate {
  readonly Metadata?: Record<string, unknown>;
  readonly Resources: Record<string, Resource>;
}


/** The one template in a cloud assembly directory (or the file itself). */
export function readTemplate(path: string): { template: CloudFormationTemplate; file: string } {
  if (!existsSync(path)) throw new UserError(`${path} does not exist; synthesize first: apistack synth --target aws --out DIR, then pass DIR/aws`);
  let file = path;
  if (statSync(path).isDirectory()) {
    const templates = readdirSync(path).filter((f) => f.endsWith('.template.json'));
    if (templates.length !== 1) {
      throw new UserError(`${path} holds ${templates.length} CloudFormation templates (*.template.json); pass the cloud assembly of one apistack stack (apistack synth --target aws writes DIR/aws)`);
    }
    file = join(path, templates[0]!);
  }
  let template: CloudFormationTemplate;
  try {
    template = JSON.parse(readFileSync(file, 'utf8')) as CloudFormationTemplate;
  } catch (e) {
    throw new UserError(`${file} is not JSON: ${(e as Error).message}`);
  }
  if (typeof template !== 'object' || template === null || typeof template.Resources !== 'object') throw new UserError(`${file} is not a CloudFormation template: it has no Resources`);
  return { template, file };
}

function ofType(t: CloudFormationTemplate, type: string): [string, Record<string, unknown>][] {
  return Object.entries(t.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

function refOf(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return String(v['Fn::GetAtt'][0]);
  }
  return undefined;
}

/** Every logical id a (possibly nested) intrinsic refers to. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value && typeof value === 'object') {
    const own = refOf(value);
    return [...(own ? [own] : []), ...Object.values(value as Record<string, unknown>).flatMap(refsIn)];
  }
  return [];
}

/**
 * The template read once: its profile and everything it deploys; `at` sets the API replica count
 * (a point of the template's autoscaling range), the one input that varies by what is asked.
 */
export function awsInputsFromTemplate(template: CloudFormationTemplate, file: string): { profile: ResolvedProfile; at(replicas?: ReplicaPoint): AwsCostInputs } {
  const data = template.Metadata?.[PROFILE_METADATA_KEY];
  if (!data || typeof data !== 'object') throw new UserError(`${file} has no ${PROFILE_METADATA_KEY} metadata: it was not synthesized by apistack (apistack synth --target aws)`);
  const p = resolveProfileData(data as Record<string, unknown>, [file], file);
  const missing = (what: string) => new UserError(`${file} has no ${what}; is it an apistack stack?`);

  const taskDefs = new Map(ofType(template, 'AWS::ECS::TaskDefinition'));
  const scaling = ofType(template, 'AWS::ApplicationAutoScaling::ScalableTarget');
  const services = ofType(template, 'AWS::ECS::Service').map(([id, props]) => {
    const task = taskDefs.get(refOf(props.TaskDefinition) ?? '');
    if (!task) throw missing(`task definition for ECS service ${id}`);
    const containers = ((task.ContainerDefinitions as { Name: string }[] | undefined) ?? []).map((c) => c.Name);
    const platform = task.RuntimePlatform as { CpuArchitecture?: string } | undefined;
    const target = scaling.find(([, s]) => refsIn(s.ResourceId).includes(id))?.[1];
    const range = target ? { min: Number(target.MinCapacity), max: Number(target.MaxCapacity) } : undefined;
    return {
      id,
      containers,
      arm64: platform?.CpuArchitecture === 'ARM64',
      vcpu: Number(task.Cpu) / 1024,
      memoryMiB: Number(task.Memory),
      desired: props.DesiredCount === undefined ? undefined : Number(props.DesiredCount),
      range,
    };
  });
  const serviceWith = (container: string) => services.find((s) => s.containers.includes(container));
  const fixedCount = (s: (typeof services)[number]) => s.range?.min ?? s.desired ?? 1;
  const tasks = (name: string, s: (typeof services)[number], count: number): FargateTasks => ({ name, count, vcpu: s.vcpu, memoryMiB: s.memoryMiB });

  const api = serviceWith('api');
  if (!api?.range) throw missing('API service with an autoscaling range');
  const architecture: AwsCostInputs['architecture'] = api.arm64 ? 'arm64' : 'x86_64';

  const lbs = ofType(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
  if (lbs.length !== 1) throw missing('single load balancer');
  const loadBalancer = lbs[0]![1].Type === 'network' ? 'nlb' : 'alb';
  const lbProps = lbs[0]![1];
  const loadBalancerZones = ((lbProps.Subnets as unknown[] | undefined) ?? (lbProps.SubnetMappings as unknown[] | undefined) ?? []).length;
  const nginx = serviceWith('nginx');
  // Each request is evaluated against the listener's rules and then its default action.
  const albRulesPerRequest = loadBalancer === 'alb' ? 1 + ofType(template, 'AWS::ElasticLoadBalancingV2::ListenerRule').length : undefined;

  const [, db] = ofType(template, 'AWS::RDS::DBInstance')[0] ?? [];
  if (!db) throw missing('RDS instance');
  const [, rg] = ofType(template, 'AWS::ElastiCache::ReplicationGroup')[0] ?? [];
  if (!rg) throw missing('ElastiCache replication group');

  const monitoringTasks = (['prometheus', 'grafana'] as const).flatMap((c) => {
    const s = serviceWith(c);
    return s ? [tasks(c === 'prometheus' ? 'Prometheus' : 'Grafana', s, fixedCount(s))] : [];
  });
  const efs = ofType(template, 'AWS::EFS::FileSystem').length > 0;
  const interfaceEndpointAzs = ofType(template, 'AWS::EC2::VPCEndpoint')
    .filter(([, e]) => e.VpcEndpointType === 'Interface')
    .reduce((n, [, e]) => n + ((e.SubnetIds as unknown[] | undefined)?.length ?? 0), 0);

  const inputs: AwsCostInputs = {
    profile: p.name,
    region: p.region,
    architecture,
    api: tasks('API', api, api.range.min),
    loadBalancer,
    loadBalancerZones,
    ...(albRulesPerRequest !== undefined ? { albRulesPerRequest } : {}),
    ...(nginx ? { nginx: tasks('nginx', nginx, fixedCount(nginx)) } : {}),
    postgres: {
      instanceClass: String(db.DBInstanceClass),
      multiAz: db.MultiAZ === true || db.MultiAZ === 'true',
      storageType: String(db.StorageType ?? 'gp2'),
      storageGiB: Number(db.AllocatedStorage),
      ...(db.Iops !== undefined ? { iops: Number(db.Iops) } : {}),
      backupRetentionDays: Number(db.BackupRetentionPeriod ?? 1),
    },
    cache: { engine: rg.Engine === 'valkey' ? 'valkey' : 'redis', nodeType: String(rg.CacheNodeType), nodes: Number(rg.NumCacheClusters ?? 1) },
    managedMonitoring: ofType(template, 'AWS::APS::Workspace').length > 0,
    monitoringTasks,
    ...(efs ? { monitoringStorageGiB: p.monitoring.storageGiB } : {}),
    natGateways: ofType(template, 'AWS::EC2::NatGateway').length,
    interfaceEndpointAzs,
  };
  const range = api.range;
  return { profile: p, at: (replicas) => ({ ...inputs, api: { ...inputs.api, count: replicaCount(range, replicas, p.api.replicasExpected, file) } }) };
}

function replicaCount(range: { min: number; max: number }, point: ReplicaPoint | undefined, expected: number | undefined, file: string): number {
  if (point === 'min') return range.min;
  if (point === 'max') return range.max;
  if (typeof point === 'number') {
    if (point < range.min || point > range.max) throw new UserError(`--replicas ${point} is outside the template's autoscaling range ${range.min}-${range.max} (${file})`);
    return point;
  }
  if (point === 'expected' && expected === undefined) throw new UserError(`the profile in ${file} has no api.replicasExpected; use --replicas min, max or a number`);
  return expected ?? range.max;
}
