/**
 * Commitments: a Compute Savings Plan covers Fargate and EC2; reserved instances/nodes cover
 * EC2, RDS and ElastiCache (there are none for Fargate). The catalog's discount is the effective
 * rate; an upfront payment is shown as its own line, amortized over the term, never as $0.
 */
import type { ResolvedProfile } from '../profile/load.ts';
import type { BreakdownBuilder, ComponentName } from './model.ts';

export type CommitmentService = 'fargate' | 'ec2' | 'rds' | 'elasticache';

const UPFRONT_SHARE = { 'no-upfront': 0, 'partial-upfront': 0.5, 'all-upfront': 1 } as const;

export interface AppliedCommitment {
  readonly discount: number;
  readonly label: string;
  readonly upfrontShare: number;
  readonly termMonths: number;
  readonly item: string;
  /** The catalog flags the discount as uncertain: every line it touches is marked. */
  readonly uncertain: boolean;
}

const SERVICE_NAMES: Record<CommitmentService, string> = { fargate: 'Fargate', ec2: 'EC2 node', rds: 'RDS instance', elasticache: 'ElastiCache node' };

export function commitmentFor(p: ResolvedProfile, b: BreakdownBuilder, service: CommitmentService): AppliedCommitment | undefined {
  const { option, termYears, payment } = p.purchase;
  if (option === 'on-demand' || termYears === undefined || payment === undefined) return undefined;
  const covers = option === 'savings-plan' ? service === 'fargate' || service === 'ec2' : service !== 'fargate';
  if (!covers) return undefined;
  const item = option === 'savings-plan' ? `commitment.savings-plan.compute.${termYears}y.${payment}` : `commitment.reserved.${termYears}y.${payment}`;
  const entry = b.price(item);
  if (option === 'savings-plan') {
    b.assume(`the Compute Savings Plan discount is applied to every ${SERVICE_NAMES[service]} hour priced, even at maximum replicas; a plan sized for the expected average leaves the hours above it at on-demand prices`, 'purchase.option');
  } else {
    b.assume(`reserved capacity is bought for every ${SERVICE_NAMES[service]} priced, all month`, 'purchase.option');
  }
  return {
    discount: entry.usd,
    label: `${option === 'savings-plan' ? 'Compute Savings Plan' : 'reserved'} ${termYears}y ${payment}, -${Math.round(entry.usd * 100)}%`,
    upfrontShare: UPFRONT_SHARE[payment],
    termMonths: termYears * 12,
    item,
    uncertain: entry.uncertain === true,
  };
}

/** An hourly resource under an optional commitment: recurring part, plus the amortized upfront part. */
export function committedHourly(
  b: BreakdownBuilder,
  component: ComponentName,
  name: string,
  item: string,
  count: number,
  commitment: AppliedCommitment | undefined,
  opts: { multiplier?: number } = {},
): void {
  if (!commitment) return b.hourly(component, name, item, count, opts);
  const effective = 1 - commitment.discount;
  const recurring = effective * (1 - commitment.upfrontShare);
  const uncertain = commitment.uncertain;
  if (recurring > 0) b.hourly(component, `${name} (${commitment.label})`, item, count, { multiplier: (opts.multiplier ?? 1) * recurring, uncertain });
  if (commitment.upfrontShare > 0) {
    b.hourly(component, `${name} (${commitment.label}: upfront amortized over ${commitment.termMonths} months)`, item, count, {
      multiplier: (opts.multiplier ?? 1) * effective * commitment.upfrontShare,
      uncertain,
    });
  }
}
