/**
 * The cost model's last mile: free allowances AWS applies, what each target ships, checked
 * inputs and the summary. Expected figures are written out by hand from the catalog prices.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsInputsFromProfile, Catalog, compare, priceAws, priceProfile, renderComparison, type Breakdown } from '../../lib/cost/index.ts';
import { loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { tempDir } from '../helpers/servers.ts';

const catalog = Catalog.load();
const H = 730;
const repoRoot = join(import.meta.dirname, '..', '..');
const apistack = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), ...args], { encoding: 'utf8', cwd: repoRoot });
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

describe('savings output: first-year and 3-year ROI, assumptions grouped per profile', () => {
  const c = compare(priceProfile(loadProfile('baseline'), 'aws', catalog), priceProfile(loadProfile('optimized'), 'aws', catalog), 15000);
  const text = renderComparison(c, 'table');
  /** The lines of a section of the text output, from its title to the next blank line. */
  const section = (title: string) => {
    const lines = text.split('\n');
    const start = lines.indexOf(title);
    if (start < 0) return undefined;
    const end = lines.indexOf('', start);
    return lines.slice(start + 1, end < 0 ? undefined : end);
  };

  it('labels the 12-month figure first-year ROI and gives the 3-year one', () => {
    const monthly = c.total.savings;
    const firstYear = Math.round(((Math.round(monthly * 12 * 100) / 100 - 15000) / 15000) * 1000) / 10;
    const threeYears = Math.round(((Math.round(monthly * 36 * 100) / 100 - 15000) / 15000) * 1000) / 10;
    expect(text).toContain(`first-year ROI ${firstYear}%; 3-year ROI ${threeYears}%`);
    expect(text).not.toMatch(/; ROI /);
    expect(c.roi).toMatchObject({ roiPct: firstYear, threeYearRoiPct: threeYears, threeYearSavings: Math.round(monthly * 36 * 100) / 100 });
  });

  it('lists what both profiles assume once, then the assumptions of each profile under its name', () => {
    const both = section('Assumptions, both profiles:')!;
    const baseline = section('Assumptions, baseline only:')!;
    const optimized = section('Assumptions, optimized only:')!;
    // The public-IPv4 assumption differs in its NAT count: once on each side, never twice in a list.
    expect(baseline.filter((l) => l.includes('public IPv4'))).toEqual([expect.stringContaining('plus one per NAT gateway (2)')]);
    expect(optimized.filter((l) => l.includes('public IPv4'))).toEqual([expect.stringContaining('plus one per NAT gateway (1)')]);
    expect(both.some((l) => l.includes('public IPv4'))).toBe(false);
    expect(both).toContain(`  - ${c.current.assumptions.find((a) => a.field === 'postgres.backupRetentionDays')!.text} (set by postgres.backupRetentionDays)`);
    expect(optimized.some((l) => l.includes('Compute Savings Plan'))).toBe(true);
    expect(baseline.some((l) => l.includes('Compute Savings Plan'))).toBe(false);
    // Every assumption of each side is shown, none twice.
    for (const b of [c.current, c.optimized]) for (const a of b.assumptions) expect(text.split(a.text).length - 1).toBe(1);
  });
});
