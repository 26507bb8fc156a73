/**
 * The AWS target priced: Fargate tasks, NLB/ALB, RDS, ElastiCache, NAT and endpoints, monitoring.
 * What runs is plain data (AwsCostInputs), read from a profile here or from a synthesized
 * CloudFormation template (cloudformation.ts), and priced by one function.
 */
import type { ResolvedProfile } from '../../profile/load.ts';
import { fargateTaskSize } from '../../profile/derive.ts';
import { AWS_INTERFACE_ENDPOINTS } from '../../profile/workloads.ts';
import type { Catalog } from '../catalog.ts';
import { commitmentFor, committedHourly } from '../commitment.ts';
import { BreakdownBuilder, type Breakdown, type ComponentName } from '../model.ts';
import { assertUsageInRange } from '../usage.ts';
import { addNetworkAndLogs, apiReplicasAt, assumptionFor, opt, type ReplicaPoint } from './common.ts';

/** Daily snapshot churn assumed for RDS backups beyond the free allowance. */
export const RDS_DAILY_CHANGE_RATIO = 0.05;

/** Bytes a sample takes in the Prometheus TSDB: its documentation gives 1-2 on average; the upper end is priced. */
export const PROMETHEUS_BYTES_PER_SAMPLE = 2;

/** Rule evaluations AWS does not bill: the first 10 rules processed for each request. */
export const ALB_FREE_RULES_PER_REQUEST = 10;

export interface FargateTasks {
  readonly name: string;
  readonly count: number;
  readonly vcpu: number;
  readonly memoryMiB: number;
}

/** What the AWS target runs, as plain data. */
export interface AwsCostInputs {
  readonly profile: string;
  readonly region: string;
  readonly architecture: 'x86_64' | 'arm64';
  readonly api: FargateTasks;
  readonly loadBalancer: 'nlb' | 'alb';
  /** nginx tasks behind the NLB. */
  readonly nginx?: FargateTasks;
  /** Zones the internet-facing load balancer has a node (and a public IPv4 address) in. */
  readonly loadBalancerZones: number;
  /** Rules an ALB evaluates per request: its listener's default action plus any listener rules. */
  readonly albRulesPerRequest?: number;
  readonly postgres: { readonly instanceClass: string; readonly multiAz: boolean; readonly storageType: string; readonly storageGiB: number; readonly iops?: number; readonly backupRetentionDays: number };
  readonly cache: { readonly engine: 'redis' | 'valkey'; readonly nodeType: string; readonly nodes: number };
  /** Self-hosted monitoring tasks (Prometheus, Grafana); empty when managed. */
  readonly monitoringTasks: readonly FargateTasks[];
  readonly managedMonitoring: boolean;
  /** EFS storage for self-hosted monitoring, GiB. */
  readonly monitoringStorageGiB?: number;
  readonly natGateways: number;
  /** Interface endpoints × the AZs each is in. */
  readonly interfaceEndpointAzs: number;
}

export function awsInputsFromProfile(p: ResolvedProfile, replicas?: ReplicaPoint): AwsCostInputs {
  const m = p.monitoring;
  const task = (name: string, count: number, cpuMillicores: number, memoryMiB: number): FargateTasks => ({ name, count, ...fargateTaskSize(cpuMillicores, memoryMiB) });
  return {
    profile: p.name,
    region: p.region,
    architecture: p.api.cpuArchitecture,
    api: { name: 'API', count: apiReplicasAt(p, replicas), vcpu: p.api.vcpuPerReplica, memoryMiB: p.api.memoryMiBPerReplica },
    loadBalancer: p.network.loadBalancer,
    ...(p.network.loadBalancer === 'nlb' ? { nginx: task('nginx', p.nginx.replicasMin, p.nginx.cpuMillicores, p.nginx.memoryMiB) } : {}),
    loadBalancerZones: p.network.availabilityZones,
    // The stack's ALB listener has one default action and no listener rules.
    ...(p.network.loadBalancer === 'alb' ? { albRulesPerRequest: 1 } : {}),
    postgres: {
      instanceClass: p.postgres.instanceClass,
      multiAz: p.postgres.multiAz,
      storageType: p.postgres.storageType,
      storageGiB: p.postgres.storageGiB,
      ...(p.postgres.iops !== undefined ? { iops: p.postgres.iops } : {}),
      backupRetentionDays: p.postgres.backupRetentionDays,
    },
    cache: { engine: p.redis.engine, nodeType: p.redis.nodeType, nodes: 1 + p.redis.replicas },
    managedMonitoring: m.mode === 'managed',
    monitoringTasks: m.mode === 'managed' ? [] : [task('Prometheus', 1, m.prometheusCpuMillicores, m.prometheusMemoryMiB), task('Grafana', 1, m.grafanaCpuMillicores, m.grafanaMemoryMiB)],
    ...(m.mode === 'managed' ? {} : { monitoringStorageGiB: m.storageGiB }),
    natGateways: p.network.natGateways,
    interfaceEndpointAzs: p.network.interfaceEndpoints ? Object.keys(AWS_INTERFACE_ENDPOINTS).length * p.network.availabilityZones : 0,
  };
}

/** Prices what runs; usage figures, the purchase option and Grafana users come from the profile. */
export function priceAws(inputs: AwsCostInputs, p: ResolvedProfile, catalog: Catalog, opts: { hoursPerMonth: number }): Breakdown {
  assertUsageInRange(p);
  const builder = new BreakdownBuilder(catalog, inputs.region, opts.hoursPerMonth);
  const arch = inputs.architecture;
  const fargate = commitmentFor(p, builder, 'fargate');
  const tasks = (component: ComponentName, t: FargateTasks, plural: string) => {
    const memGB = t.memoryMiB / 1024;
    committedHourly(builder, component, `${t.name} ${plural} vCPU (${t.count} × ${t.vcpu} vCPU, ${arch})`, `fargate.${arch}.vcpu`, t.count * t.vcpu, fargate);
    committedHourly(builder, component, `${t.name} ${plural} memory (${t.count} × ${memGB} GB)`, `fargate.${arch}.memory`, t.count * memGB, fargate);
  };
  tasks('Application Servers', inputs.api, 'tasks');

  const u = p.derived.usage;
  if (inputs.loadBalancer === 'nlb') {
    if (inputs.nginx) tasks('Load Balancer', inputs.nginx, 'tasks');
    builder.hourly('Load Balancer', 'Network Load Balancer', 'nlb.hour', 1);
    // For TCP, one NLCU is 1 GB processed per hour: processed bytes dominate at this scale.
    builder.usage('Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 'nlb.nlcu', u.dataTransferOutGBPerMonth, opt(assumptionFor(p, 'dataTransferOutGBPerMonth')));
    builder.assume('NLB capacity units from processed bytes (1 NLCU-hour per GB, traffic spread evenly over the month); TCP flows (800 new a second, 100,000 active per NLCU) are not counted', 'usage.dataTransferOutGBPerMonth');
  } else {
    builder.hourly('Load Balancer', 'Application Load Balancer', 'alb.hour', 1);
    // One LCU covers 1 GB/hour processed or 1,000 rule evaluations/s; take the larger dimension.
    // AWS bills rule evaluations as request rate × (rules processed − 10): the first 10 rules of each request are free.
    const rules = inputs.albRulesPerRequest ?? 1;
    const billableRules = Math.max(0, rules - ALB_FREE_RULES_PER_REQUEST);
    const gbLcuHours = u.dataTransferOutGBPerMonth;
    const ruleLcuHours = (u.requestsPerMonth * billableRules) / 3600 / 1000;
    const field = gbLcuHours >= ruleLcuHours ? 'dataTransferOutGBPerMonth' : 'requestsPerMonth';
    builder.usage('Load Balancer', 'ALB capacity units', 'alb.lcu', Math.max(gbLcuHours, ruleLcuHours), opt(assumptionFor(p, field)));
    builder.assume(
      `ALB capacity units: the larger of processed bytes (1 LCU-hour per GB) and billable rule evaluations (1,000 a second per LCU; the first ${ALB_FREE_RULES_PER_REQUEST} rules of each request are free and the listener has ${rules}, so ${billableRules === 0 ? 'none is billed' : `${billableRules} a request is billed`}), traffic spread evenly over the month; new connections (25 a second per LCU) and active connections (3,000 a minute) are not counted, as clients keep connections alive`,
      'usage.requestsPerMonth',
    );
  }

  const pg = inputs.postgres;
  const rds = commitmentFor(p, builder, 'rds');
  const az = pg.multiAz ? 2 : 1;
  committedHourly(builder, 'Database', `RDS PostgreSQL ${pg.instanceClass}${pg.multiAz ? ' Multi-AZ' : ''}`, `rds.postgres.${pg.instanceClass}`, az, rds);
  builder.usage('Storage', `RDS ${pg.storageType} storage${pg.multiAz ? ' (Multi-AZ, billed twice)' : ''}`, `rds.storage.${pg.storageType}`, pg.storageGiB * az);
  if (pg.iops !== undefined) builder.usage('Storage', `RDS ${pg.storageType} provisioned IOPS (${pg.iops}${pg.multiAz ? ', Multi-AZ, billed twice' : ''})`, `rds.iops.${pg.storageType}`, pg.iops * az);
  if (pg.backupRetentionDays > 0) {
    const billable = pg.storageGiB * RDS_DAILY_CHANGE_RATIO * pg.backupRetentionDays;
    builder.usage('Storage', `RDS backups beyond the free allowance (${pg.backupRetentionDays} days)`, 'rds.backup', billable, {
      assumption: { text: `${RDS_DAILY_CHANGE_RATIO * 100}% of the database changes per day, kept ${pg.backupRetentionDays} days`, field: 'postgres.backupRetentionDays' },
    });
  }

  const c = inputs.cache;
  const cache = commitmentFor(p, builder, 'elasticache');
  const valkey = c.engine === 'valkey' ? 1 - builder.price('elasticache.valkey.discount').usd : 1;
  committedHourly(builder, 'Cache', `ElastiCache ${c.engine} ${c.nodeType} (${c.nodes} node${c.nodes > 1 ? 's' : ''})`, `elasticache.redis.${c.nodeType}`, c.nodes, cache, { multiplier: valkey });

  const m = p.monitoring;
  if (inputs.managedMonitoring) {
    builder.usage('Monitoring', 'Amazon Managed Prometheus samples ingested', 'amp.ingest', u.metricSamplesPerMonth / 1e7, opt(assumptionFor(p, 'metricSamplesPerMonth')));
    // Alert rules and dashboards read each sample about once more: an assumption, flagged.
    builder.usage('Monitoring', 'Amazon Managed Prometheus query samples', 'amp.query', u.metricSamplesPerMonth / 1e9, { assumption: { text: 'query samples = samples ingested (rules and dashboards read each sample about once)', field: 'usage.metricSamplesPerMonth' } });
    if (m.grafanaEditors > 0) builder.usage('Monitoring', `Amazon Managed Grafana editors (${m.grafanaEditors})`, 'amg.editor', m.grafanaEditors);
    if (m.grafanaViewers > 0) builder.usage('Monitoring', `Amazon Managed Grafana viewers (${m.grafanaViewers})`, 'amg.viewer', m.grafanaViewers);
    builder.notIncluded(`Amazon Managed Prometheus storage (billed per GB-month of the samples kept, ${m.retentionDays} days here; the catalog has no price for it)`);
    builder.assume('the metrics collector runs as a sidecar inside each API task, within its Fargate size, so its cost is already in the API task lines', 'monitoring.mode');
  }
  for (const t of inputs.monitoringTasks) tasks('Monitoring', t, 'task');
  if (inputs.monitoringStorageGiB !== undefined) {
    // EFS bills what is stored: the TSDB holds its retention's samples, up to its size cap (the bound).
    const cap = inputs.monitoringStorageGiB;
    const daysPerMonth = builder.hoursPerMonth / 24;
    const held = (u.metricSamplesPerMonth * PROMETHEUS_BYTES_PER_SAMPLE * m.retentionDays) / daysPerMonth / 1e9;
    const expected = Math.round(Math.min(cap, held) * 1e4) / 1e4;
    const efs = builder.price('efs.standard');
    builder.usage('Storage', `Prometheus and Grafana EFS storage (expected; the TSDB's cap is ${cap} GiB)`, 'efs.standard', expected, {
      assumption: {
        text:
          `EFS bills what is stored: the TSDB holds ${m.retentionDays} days of samples, usage.metricSamplesPerMonth (${u.metricSamplesPerMonth.toLocaleString('en-US')}) × ${PROMETHEUS_BYTES_PER_SAMPLE} bytes a sample ` +
          `(the upper end of the 1-2 bytes Prometheus documents) × ${m.retentionDays} / ${Math.round(daysPerMonth * 100) / 100} days = ${Math.round(held * 1e4) / 1e4} GB${held > cap ? `, held to its cap` : ''}; ` +
          `Grafana's database and the write-ahead log add little. At its size cap (monitoring.storageGiB = ${cap}), the bound, it would bill $${(Math.round(cap * efs.usd * 100) / 100).toFixed(2)} a month`,
        field: 'usage.metricSamplesPerMonth',
      },
    });
  }
  if (inputs.interfaceEndpointAzs > 0) {
    builder.hourly('Network', `VPC interface endpoints (${inputs.interfaceEndpointAzs} endpoint-AZs)`, 'vpc.endpoint.interface', inputs.interfaceEndpointAzs);
  }
  addNetworkAndLogs(p, builder, 'Monitoring', inputs.natGateways, inputs.loadBalancerZones);
  builder.notIncluded('Secrets Manager secrets ($0.40 each a month: three or four)');
  builder.notIncluded('CloudWatch alarms ($0.10 each a month: six or seven) and Container Insights metrics');
  builder.notIncluded('VPC flow logs (rejected traffic only)');
  if (inputs.interfaceEndpointAzs > 0) builder.notIncluded('interface endpoint data processing ($0.01/GB)');
  // What the stack creates that no line prices, at us-east-1 list prices: small, and mostly driven by use the profile has no figure for.
  const days = p.derived.monitoring.logRetentionDays;
  builder.notIncluded(`the S3 bucket of load-balancer access logs: S3 Standard $0.023/GB-month for the ${days} days kept, and $0.005 per 1,000 PUT requests (a log file per balancer node every 5 minutes)`);
  builder.notIncluded('the KMS key that encrypts the paging topic: $1 a month, and $0.03 per 10,000 requests beyond the 20,000 free each month');
  if (inputs.monitoringStorageGiB !== undefined) builder.notIncluded('EFS Elastic throughput for Prometheus and Grafana: $0.03/GB read and $0.06/GB written (Prometheus rewrites its blocks as it compacts them)');
  builder.notIncluded('the Cloud Map private DNS namespace the services find each other in: a Route 53 private hosted zone ($0.50 a month) and its DNS queries ($0.40 per million)');
  builder.notIncluded('ECR storage of the images the stack builds (the CDK asset repository): $0.10/GB-month; pulls inside the region are free');
  return builder.build({ profile: inputs.profile, target: 'aws', apiReplicas: inputs.api.count });
}

export function priceAwsProfile(p: ResolvedProfile, catalog: Catalog, opts: { hoursPerMonth: number; replicas?: ReplicaPoint }): Breakdown {
  return priceAws(awsInputsFromProfile(p, opts.replicas), p, catalog, opts);
}
