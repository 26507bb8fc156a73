/** The AWS target's resources for a profile, priced: Fargate, NLB/ALB, RDS, ElastiCache, NAT, monitoring. */
import type { ResolvedProfile } from '../../profile/load.ts';
import type { Catalog } from '../catalog.ts';
import { commitmentFor, committedHourly } from '../commitment.ts';
import { fargateTaskSize } from '../fargate.ts';
import { BreakdownBuilder, type Breakdown } from '../model.ts';
import { addNetworkAndLogs, apiReplicasAt, assumptionFor, opt, type ReplicaPoint } from './common.ts';

/** Daily snapshot churn assumed for RDS backups beyond the free allowance. */
export const RDS_DAILY_CHANGE_RATIO = 0.05;

export function priceAwsProfile(p: ResolvedProfile, catalog: Catalog, opts: { hoursPerMonth: number; replicas?: ReplicaPoint }): Breakdown {
  const b = new BreakdownBuilder(catalog, p.region, opts.hoursPerMonth);
  const replicas = apiReplicasAt(p, opts.replicas);
  const arch = p.api.cpuArchitecture;
  const fargate = commitmentFor(p, b, 'fargate');

  const memGB = p.api.memoryMiBPerReplica / 1024;
  committedHourly(b, 'Application Servers', `API tasks vCPU (${replicas} × ${p.api.vcpuPerReplica} vCPU, ${arch})`, `fargate.${arch}.vcpu`, replicas * p.api.vcpuPerReplica, fargate);
  committedHourly(b, 'Application Servers', `API tasks memory (${replicas} × ${memGB} GB)`, `fargate.${arch}.memory`, replicas * memGB, fargate);

  const u = p.derived.usage;
  if (p.network.loadBalancer === 'nlb') {
    // nginx tasks behind an NLB; Fargate rounds the container size up to a task size.
    const size = fargateTaskSize(p.nginx.cpuMillicores, p.nginx.memoryMiB);
    const n = p.nginx.replicasMin;
    committedHourly(b, 'Load Balancer', `nginx tasks vCPU (${n} × ${size.vcpu} vCPU, ${arch})`, `fargate.${arch}.vcpu`, n * size.vcpu, fargate);
    committedHourly(b, 'Load Balancer', `nginx tasks memory (${n} × ${size.memoryMiB / 1024} GB)`, `fargate.${arch}.memory`, (n * size.memoryMiB) / 1024, fargate);
    b.hourly('Load Balancer', 'Network Load Balancer', 'nlb.hour', 1);
    // For TCP, one NLCU is 1 GB processed per hour: processed bytes dominate at this scale.
    b.usage('Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 'nlb.nlcu', u.dataTransferOutGBPerMonth, opt(assumptionFor(p, 'dataTransferOutGBPerMonth')));
  } else {
    b.hourly('Load Balancer', 'Application Load Balancer', 'alb.hour', 1);
    // One LCU covers 1 GB/hour processed or 1,000 rule evaluations/s; take the larger dimension.
    const gbLcuHours = u.dataTransferOutGBPerMonth;
    const ruleLcuHours = u.requestsPerMonth / 3600 / 1000;
    const field = gbLcuHours >= ruleLcuHours ? 'dataTransferOutGBPerMonth' : 'requestsPerMonth';
    b.usage('Load Balancer', 'ALB capacity units', 'alb.lcu', Math.max(gbLcuHours, ruleLcuHours), opt(assumptionFor(p, field)));
  }

  const rds = commitmentFor(p, b, 'rds');
  const az = p.postgres.multiAz ? 2 : 1;
  committedHourly(b, 'Database', `RDS PostgreSQL ${p.postgres.instanceClass}${p.postgres.multiAz ? ' Multi-AZ' : ''}`, `rds.postgres.${p.postgres.instanceClass}`, az, rds);
  b.usage('Storage', `RDS ${p.postgres.storageType} storage${p.postgres.multiAz ? ' (Multi-AZ, billed twice)' : ''}`, `rds.storage.${p.postgres.storageType}`, p.postgres.storageGiB * az);
  if (p.postgres.backupRetentionDays > 0) {
    const billable = p.postgres.storageGiB * RDS_DAILY_CHANGE_RATIO * p.postgres.backupRetentionDays;
    b.usage('Storage', `RDS backups beyond the free allowance (${p.postgres.backupRetentionDays} days)`, 'rds.backup', billable, {
      assumption: `${RDS_DAILY_CHANGE_RATIO * 100}% of the database changes per day, kept ${p.postgres.backupRetentionDays} days`,
    });
  }

  const cache = commitmentFor(p, b, 'elasticache');
  const nodes = 1 + p.redis.replicas;
  const valkey = p.redis.engine === 'valkey' ? 1 - b.price('elasticache.valkey.discount').usd : 1;
  committedHourly(b, 'Cache', `ElastiCache ${p.redis.engine} ${p.redis.nodeType} (${nodes} node${nodes > 1 ? 's' : ''})`, `elasticache.redis.${p.redis.nodeType}`, nodes, cache, { multiplier: valkey });

  const m = p.monitoring;
  if (m.mode === 'managed') {
    b.usage('Monitoring', 'Amazon Managed Prometheus samples ingested', 'amp.ingest', u.metricSamplesPerMonth / 1e7, opt(assumptionFor(p, 'metricSamplesPerMonth')));
    // Alert rules and dashboards read each sample about once more: an assumption, flagged.
    b.usage('Monitoring', 'Amazon Managed Prometheus query samples', 'amp.query', u.metricSamplesPerMonth / 1e9, { assumption: 'query samples = samples ingested (rules and dashboards read each sample about once)' });
    if (m.grafanaEditors > 0) b.usage('Monitoring', `Amazon Managed Grafana editors (${m.grafanaEditors})`, 'amg.editor', m.grafanaEditors);
    if (m.grafanaViewers > 0) b.usage('Monitoring', `Amazon Managed Grafana viewers (${m.grafanaViewers})`, 'amg.viewer', m.grafanaViewers);
  } else {
    // Prometheus and Grafana share one Fargate task with an EBS volume for the TSDB.
    const size = fargateTaskSize(m.prometheusCpuMillicores + m.grafanaCpuMillicores, m.prometheusMemoryMiB + m.grafanaMemoryMiB);
    committedHourly(b, 'Monitoring', `Prometheus + Grafana task vCPU (${size.vcpu} vCPU)`, `fargate.${arch}.vcpu`, size.vcpu, fargate);
    committedHourly(b, 'Monitoring', `Prometheus + Grafana task memory (${size.memoryMiB / 1024} GB)`, `fargate.${arch}.memory`, size.memoryMiB / 1024, fargate);
    b.usage('Storage', `Prometheus EBS gp3 volume`, 'ebs.gp3', m.storageGiB);
  }
  addNetworkAndLogs(p, b, 'Monitoring');
  return b.build({ profile: p.name, target: 'aws', apiReplicas: replicas });
}
