/** The range of monthly usage the cost model prices: a figure outside it is a typo, refused with the field named. */
import { UserError } from '../errors.ts';
import type { UsageField } from '../profile/derive.ts';
import type { ResolvedProfile } from '../profile/load.ts';

/** The largest monthly usage the model prices: far above any stack of this shape, low enough that a typo (1e300) is caught. */
export const USAGE_LIMITS: Readonly<Record<UsageField, { max: number; unit: string; note: string }>> = Object.freeze({
  requestsPerMonth: { max: 1e13, unit: 'requests', note: 'about 3.8 million requests a second all month' },
  dataTransferOutGBPerMonth: { max: 1e8, unit: 'GB', note: '100 PB' },
  logIngestGBPerMonth: { max: 1e8, unit: 'GB', note: '100 PB' },
  metricSamplesPerMonth: { max: 1e15, unit: 'samples', note: 'about 380 million samples a second' },
  natProcessedGBPerMonth: { max: 1e8, unit: 'GB', note: '100 PB' },
});

const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** Usage figures outside 0 to USAGE_LIMITS, each as "field: value — range". */
export function usageProblems(p: ResolvedProfile): string[] {
  return (Object.keys(USAGE_LIMITS) as UsageField[]).flatMap((field) => {
    const value = p.derived.usage[field];
    const { max, unit, note } = USAGE_LIMITS[field];
    if (Number.isFinite(value) && value >= 0 && value <= max) return [];
    return [`usage.${field}: ${value} — the cost model prices 0 to ${n(max)} ${unit} a month (${note}); check the figure`];
  });
}

/** Stops pricing with one error listing every usage figure out of range. */
export function assertUsageInRange(p: ResolvedProfile): void {
  const problems = usageProblems(p);
  if (problems.length > 0) throw new UserError(`profile ${p.name} cannot be priced (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((x) => `  - ${x}`).join('\n')}`, problems);
}

