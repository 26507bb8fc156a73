/** Savings tables (current vs optimized, per component) and ROI, computed from two breakdowns. */
import { COMPONENT_ORDER, roundCents, type Breakdown } from './model.ts';

export interface SavingsRow {
  readonly component: string;
  readonly current: number;
  readonly optimized: number;
  readonly savings: number;
  /** Percent of the current cost; null when the current cost is 0. */
  readonly savingsPct: number | null;
}

export interface Roi {
  readonly implementationCost: number;
  readonly annualSavings: number;
  /** First-year ROI: (12 months of savings − implementation) / implementation, percent; null when the implementation is free. */
  readonly roiPct: number | null;
  readonly threeYearSavings: number;
  /** The same over 36 months of savings. */
  readonly threeYearRoiPct: number | null;
  /** Months until savings repay the implementation; null when there are no savings. */
  readonly paybackMonths: number | null;
}

export interface Comparison {
  readonly current: Breakdown;
  readonly optimized: Breakdown;
  readonly rows: readonly SavingsRow[];
  readonly total: SavingsRow;
  readonly roi?: Roi;
}

function row(component: string, current: number, optimized: number): SavingsRow {
  const savings = roundCents(current - optimized);
  return { component, current, optimized, savings, savingsPct: current === 0 ? null : Math.round((savings / current) * 1000) / 10 };
}

export function compare(current: Breakdown, optimized: Breakdown, implementationCost?: number): Comparison {
  const names = COMPONENT_ORDER.filter((n) => current.components.some((c) => c.name === n) || optimized.components.some((c) => c.name === n));
  const monthlyOf = (b: Breakdown, n: string) => b.components.find((c) => c.name === n)?.monthly ?? 0;
  const rows = names.map((n) => row(n, monthlyOf(current, n), monthlyOf(optimized, n)));
  const total = row('Total', current.total, optimized.total);
  const comparison: Comparison = { current, optimized, rows, total };
  if (implementationCost === undefined) return comparison;
  const annualSavings = roundCents(total.savings * 12);
  const threeYearSavings = roundCents(total.savings * 36);
  const roiOver = (savings: number) => (implementationCost === 0 ? null : Math.round(((savings - implementationCost) / implementationCost) * 1000) / 10);
  return {
    ...comparison,
    roi: {
      implementationCost,
      annualSavings,
      roiPct: roiOver(annualSavings),
      threeYearSavings,
      threeYearRoiPct: roiOver(threeYearSavings),
      paybackMonths: total.savings <= 0 ? null : Math.round((implementationCost / total.savings) * 10) / 10,
    },
  };
}
