/**
 * The cost model's last mile: free allowances AWS applies, what each target ships, checked
 * inputs and the summary. Expected figures are written out by hand from the catalog prices.
 */
import { describe, expect, it } from 'vitest';
import { awsInputsFromProfile, Catalog, priceAws, priceProfile, type Breakdown } from '../../lib/cost/index.ts';
import { resolveProfileLayer } from '../../lib/profile/index.ts';

const catalog = Catalog.load();
const H = 730;
const line = (b: Breakdown, name: string | RegExp) => b.components.flatMap((c) => c.lines).find((l) => (typeof name === 'string' ? l.name === name : name.test(l.name)));

describe('ALB rule evaluations: the first 10 rules of each request are free', () => {
  const albHeavy = resolveProfileLayer({ extends: 'baseline', usage: { requestsPerMonth: 10e9, dataTransferOutGBPerMonth: 500 } });

  it('10 billion requests and 500 GB through the one-rule listener bill 500 LCU-hours ($4.00), not 2,777.78 ($22.22)', () => {
    const lcu = line(priceProfile(albHeavy, 'aws', catalog), 'ALB capacity units')!;
    expect(lcu.quantity).toBe(500);
    expect(lcu.monthly).toBe(4);
  });

  it('rules beyond the tenth are billed: 15 rules a request at 10 billion requests is 5 × 10e9 / 3,600,000 LCU-hours', () => {
    const inputs = { ...awsInputsFromProfile(albHeavy), albRulesPerRequest: 15 };
    const lcu = line(priceAws(inputs, albHeavy, catalog, { hoursPerMonth: H }), 'ALB capacity units')!;
    expect(lcu.quantity).toBeCloseTo((5 * 10e9) / 3.6e6, 4);
    expect(lcu.monthly).toBe(Math.round(((5 * 10e9) / 3.6e6) * 0.008 * 100) / 100);
  });
});
