import { UserError } from '../../errors.ts';
import type { UsageField } from '../../profile/derive.ts';
import type { ResolvedProfile } from '../../profile/load.ts';
import type { BreakdownBuilder, ComponentName } from '../model.ts';

/** Which API replica count to price: a named point of the autoscaling range or a number. */
export type ReplicaPoint = 'min' | 'max' | 'expected' | number;

export function apiReplicasAt(p: ResolvedProfile, point: ReplicaPoint | undefined): number {
  if (point === undefined) return p.api.replicasExpected ?? p.api.replicasMax;
  if (point === 'min') return p.api.replicasMin;
  if (point === 'max') return p.api.replicasMax;
  if (point === 'expected') {
    if (p.api.replicasExpected === undefined) throw new UserError(`profile ${p.name} has no api.replicasExpected; use --replicas min, max or a number`);
    return p.api.replicasExpected;
  }
  if (!Number.isInteger(point) || point < p.api.replicasMin || point > p.api.replicasMax) {
    throw new UserError(`--replicas ${point} is outside profile ${p.name}'s range ${p.api.replicasMin}-${p.api.replicasMax}`);
  }
  return point;
}

/** The assumption note for a line built on a usage figure the profile did not give. */
export function assumptionFor(p: ResolvedProfile, field: UsageField): { text: string; field: string } | undefined {
  return p.derived.usageAssumed.includes(field) ? { text: `usage.${field} is not given: the default ${p.derived.usage[field]} is used`, field: `usage.${field}` } : undefined;
}

/** CloudWatch Logs bills storage on compressed bytes: the AWS Pricing Calculator assumes they are 15% of those ingested. */
export const CLOUDWATCH_LOGS_COMPRESSION = 0.15;

/** Costs every AWS-hosted stack of apistack incurs that no line prices. */
export const CROSS_AZ_NOT_INCLUDED = 'cross-AZ traffic between the tiers (balancer → API → Postgres and Redis in other zones): $0.01/GB in each direction; the profile has no figure for it';

/**
 * Usage lines both targets share: NAT, public IPv4 addresses, data transfer out and CloudWatch
 * Logs. `loadBalancerZones` is how many zones the internet-facing balancer has a node (and a
 * public IPv4 address) in.
 */
export function addNetworkAndLogs(p: ResolvedProfile, b: BreakdownBuilder, logsComponent: ComponentName, natGateways: number, loadBalancerZones: number, opts: { cloudWatchLogs: boolean } = { cloudWatchLogs: true }): void {
  const u = p.derived.usage;
  const nat = natGateways;
  if (nat > 0) {
    b.hourly('Network', `NAT gateways (${nat})`, 'nat.hour', nat);
    b.usage('Network', 'NAT data processed', 'nat.data', u.natProcessedGBPerMonth, opt(assumptionFor(p, 'natProcessedGBPerMonth')));
  }
  const ips = loadBalancerZones + nat;
  if (ips > 0) {
    b.hourly('Network', `Public IPv4 addresses (${ips}: load balancer in ${loadBalancerZones} zone${loadBalancerZones === 1 ? '' : 's'}, ${nat} NAT gateway${nat === 1 ? '' : 's'})`, 'public-ipv4.hour', ips);
    b.assume(`one public IPv4 address per zone the internet-facing load balancer is in (${loadBalancerZones}), plus one per NAT gateway (${nat}); an ALB under heavy load may add nodes`, 'network.availabilityZones');
  }
  b.usage('Network', 'Data transfer out to the internet', 'data-transfer.out', u.dataTransferOutGBPerMonth, opt(assumptionFor(p, 'dataTransferOutGBPerMonth')));
  b.notIncluded(CROSS_AZ_NOT_INCLUDED);
  if (!opts.cloudWatchLogs) {
    const price = (item: string) => b.catalog.get(b.region, item).usd;
    b.notIncluded(
      `CloudWatch Logs: the charts ship no logs off the cluster (containers log to their node, where the kubelet rotates the files), so none is priced; ` +
        `shipping usage.logIngestGBPerMonth (${u.logIngestGBPerMonth} GB a month) with Fluent Bit would add $${price('cloudwatch.logs.ingest')}/GB ingested and $${price('cloudwatch.logs.storage')}/GB-month stored`,
    );
    return;
  }
  b.usage(logsComponent, 'CloudWatch Logs ingestion', 'cloudwatch.logs.ingest', u.logIngestGBPerMonth, opt(assumptionFor(p, 'logIngestGBPerMonth')));
  // At steady state a log group holds the last `retention` days of what it ingests, billed compressed.
  const days = p.derived.monitoring.logRetentionDays;
  const daysPerMonth = b.hoursPerMonth / 24;
  const uncompressed = (u.logIngestGBPerMonth * days) / daysPerMonth;
  const stored = Math.round(uncompressed * CLOUDWATCH_LOGS_COMPRESSION * 1e4) / 1e4;
  const storagePrice = b.price('cloudwatch.logs.storage').usd;
  b.usage(logsComponent, `CloudWatch Logs storage (${days} days kept, compressed)`, 'cloudwatch.logs.storage', stored, opt(assumptionFor(p, 'logIngestGBPerMonth')));
  b.assume(
    `CloudWatch Logs storage holds ${days} days of ingestion (${u.logIngestGBPerMonth} GB a month × ${days} / ${Math.round(daysPerMonth * 100) / 100} days = ${Math.round(uncompressed * 1e4) / 1e4} GB), ` +
      `billed compressed: ${Math.round(CLOUDWATCH_LOGS_COMPRESSION * 100)}% of the ingested bytes, the AWS Pricing Calculator's storage compression factor; uncompressed, the bound, it would bill $${(Math.round(uncompressed * storagePrice * 100) / 100).toFixed(2)} a month`,
    'monitoring.logRetentionDays',
  );
}

export function opt(assumption: { text: string; field: string } | undefined): { assumption?: { text: string; field: string } } {
  return assumption ? { assumption } : {};
}
