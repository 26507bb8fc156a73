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
}

export function commitmentFor(p: ResolvedProfile, b: BreakdownBuilder, service: CommitmentService): AppliedCommitment | undefined {
  const { option, termYears, payment } = p.purchase;
  if (option === 'on-demand' || termYears === undefined || payment === undefined) return undefined;
  const covers = option === 'savings-plan' ? service === 'fargate' || service === 'ec2' : service !== 'fargate';
  if (!covers) return undefined;
  const item = option === 'savings-plan' ? `commitment.savings-plan.compute.${termYears}y.${payment}` : `commitment.reserved.${termYears}y.${payment}`;
  const entry = b.price(item);
  return {
    discount: entry.usd,
    label: `${option === 'savings-plan' ? 'Compute Savings Plan' : 'reserved'} ${termYears}y ${payment}, -${Math.round(entry.usd * 100)}%`,
    upfrontShare: UPFRONT_SHARE[payment],
    termMonths: termYears * 12,
    item,
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
  if (recurring > 0) b.hourly(component, `${name} (${commitment.label})`, item, count, { multiplier: (opts.multiplier ?? 1) * recurring });
  if (commitment.upfrontShare > 0) {
    b.hourly(component, `${name} (${commitment.label}: upfront amortized over ${commitment.termMonths} months)`, item, count, {
      multiplier: (opts.multiplier ?? 1) * effective * commitment.upfrontShare,
    });
  }
}
