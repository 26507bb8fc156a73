import { UserError } from '../../profile/errors.ts';
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
export function assumptionFor(p: ResolvedProfile, field: UsageField): string | undefined {
  return p.derived.usageAssumed.includes(field) ? `default usage.${field} = ${p.derived.usage[field]}; set it in the profile` : undefined;
}

/** Usage lines both targets share: NAT, data transfer out and log ingestion. */
export function addNetworkAndLogs(p: ResolvedProfile, b: BreakdownBuilder, logsComponent: ComponentName, natGateways = p.network.natGateways): void {
  const u = p.derived.usage;
  const nat = natGateways;
  if (nat > 0) {
    b.hourly('Network', `NAT gateways (${nat})`, 'nat.hour', nat);
    b.usage('Network', 'NAT data processed', 'nat.data', u.natProcessedGBPerMonth, opt(assumptionFor(p, 'natProcessedGBPerMonth')));
  }
  b.usage('Network', 'Data transfer out to the internet', 'data-transfer.out', u.dataTransferOutGBPerMonth, opt(assumptionFor(p, 'dataTransferOutGBPerMonth')));
  b.usage(logsComponent, 'CloudWatch Logs ingestion', 'cloudwatch.logs.ingest', u.logIngestGBPerMonth, opt(assumptionFor(p, 'logIngestGBPerMonth')));
  // One month of logs kept at any time.
  b.usage(logsComponent, 'CloudWatch Logs storage (one month kept)', 'cloudwatch.logs.storage', u.logIngestGBPerMonth, opt(assumptionFor(p, 'logIngestGBPerMonth')));
}

export function opt(assumption: string | undefined): { assumption?: string } {
  return assumption ? { assumption } : {};
}
