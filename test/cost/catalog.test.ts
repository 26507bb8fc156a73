/**
 * The catalog's breadth: instance families in every region, sizes derived by normalization
 * factor (checked against the sizes stored as published), tiered prices priced by tier, free
 * allowances listed, and imported Price List files overriding the built-in figures.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinCatalogFiles, Catalog, compare, parsePriceFile, priceProfile, readPriceFile, renderBreakdown, renderComparison, tierBands, type Breakdown } from '../../lib/cost/index.ts';
import { EC2_FAMILIES, ELASTICACHE_FAMILIES, loadProfile, NORMALIZATION_FACTORS, RDS_FAMILIES, resolveProfileLayer, type ProfileLayer } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { tempDir } from '../helpers/servers.ts';

const catalog = Catalog.load();
const repoRoot = join(import.meta.dirname, '..', '..');
const REGIONS = ['eu-central-1', 'eu-west-1', 'us-east-1', 'us-west-2'];
const cents = (n: number) => Math.round(n * 100) / 100;
const lineOf = (b: Breakdown, name: string) => b.components.flatMap((c) => c.lines).find((l) => l.name === name);
const linesStarting = (b: Breakdown, prefix: string) => b.components.flatMap((c) => c.lines).filter((l) => l.name.startsWith(prefix));

/**
 * Sizes whose published price is not their family price × normalization factor: AWS rounds the
 * burstable RDS and ElastiCache classes to a tenth of a cent (README: the cost model). Each is
 * stored on its own, so the published figure is the one priced.
 */
const NOT_LINEAR = [
  'rds.postgres.db.t3.micro',
  'rds.postgres.db.t3.small',
  'rds.postgres.db.t3.medium',
  'rds.postgres.db.t3.2xlarge',
  'rds.postgres.db.t4g.micro',
  'rds.postgres.db.t4g.small',
  'rds.postgres.db.t4g.medium',
  'rds.postgres.db.t4g.2xlarge',
  'elasticache.redis.cache.t4g.micro',
  'elasticache.redis.cache.t4g.small',
];

describe('catalog breadth', () => {
  it('has the four regions, each file holding only its own', () => {
    expect(catalog.regions()).toEqual(REGIONS);
    for (const file of builtinCatalogFiles()) {
      const region = file.replace(/^.*\/([a-z0-9-]+)\.json$/, '$1');
      const f = readPriceFile(file);
      expect(new Set([...f.prices, ...(f.families ?? [])].map((e) => e.region))).toEqual(new Set([region]));
    }
  });

  it('every region has a price for every family and size people choose, smallest to at least 4xlarge', () => {
    const wanted = [
      ...Object.entries(RDS_FAMILIES).map(([f, { sizes }]) => [`rds.postgres.${f}`, sizes] as const),
      ...Object.entries(ELASTICACHE_FAMILIES).map(([f, sizes]) => [`elasticache.redis.${f}`, sizes] as const),
      ...Object.entries(EC2_FAMILIES).map(([f, { sizes }]) => [`ec2.${f}`, sizes] as const),
    ];
    expect(wanted.map(([f]) => f)).toEqual([
      ...['t3', 't4g', 'm5', 'm6g', 'm6i', 'm7g', 'r5', 'r6g', 'r6i', 'r7g'].map((f) => `rds.postgres.db.${f}`),
      ...['t3', 't4g', 'm6g', 'm7g', 'r6g', 'r7g'].map((f) => `elasticache.redis.cache.${f}`),
      ...['t3', 't4g', 'm6i', 'm7i', 'm6g', 'm7g', 'c6i', 'c7i', 'c6g', 'c7g', 'r6i', 'r7g'].map((f) => `ec2.${f}`),
    ]);
    for (const [family, sizes] of wanted) {
      // Burstable families stop below 4xlarge (AWS has none bigger); every other one reaches it.
      if (!/\.t\d/.test(family) && !/^ec2\.t/.test(family)) expect(sizes, family).toContain('4xlarge');
      for (const region of REGIONS) {
        for (const size of sizes) {
          const e = catalog.get(region, `${family}.${size}`);
          expect(e.usd, `${region} ${family}.${size}`).toBeGreaterThan(0);
          expect(e.source).toMatch(/^https:\/\/aws\.amazon\.com\//);
          expect(e.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        }
      }
    }
    // A new user's first picks, in every region.
    for (const region of REGIONS) {
      for (const item of ['rds.postgres.db.m6g.large', 'rds.postgres.db.r6g.xlarge', 'elasticache.redis.cache.r7g.large', 'ec2.m6i.2xlarge']) expect(catalog.has(region, item), `${region} ${item}`).toBe(true);
    }
  });

  it('derives a size from its family price by normalization factor, and the stored published sizes agree', () => {
    expect(NORMALIZATION_FACTORS).toMatchObject({ large: 4, xlarge: 8, '2xlarge': 16, '4xlarge': 32 });
    const m6i = catalog.get('us-east-1', 'ec2.m6i.8xlarge');
    expect(m6i).toMatchObject({ usd: 0.096 * 16, vcpu: 32, memoryGiB: 128, maxPods: 234, source: 'https://aws.amazon.com/ec2/pricing/on-demand/' });
    expect(m6i.note).toMatch(/^derived: ec2\.m6i\.large at \$0\.096 × 16/);
    let checked = 0;
    const mismatched: string[] = [];
    for (const region of REGIONS) {
      for (const stored of catalog.storedEntries(region)) {
        const family = catalog.familyOf(region, stored.item);
        if (!family) continue;
        const derived = catalog.derive(family, stored.item.slice(family.family.length + 1));
        checked++;
        if (Math.abs(derived.usd - stored.usd) > 1e-9) {
          mismatched.push(stored.item);
          // Only by AWS's rounding of the published figure, and the published one is what prices.
          expect(Math.abs(derived.usd - stored.usd), stored.item).toBeLessThanOrEqual(0.003);
          expect(catalog.get(region, stored.item)).toBe(stored);
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(80);
    // us-east-1 and us-west-2 store the same published sizes; eu-west-1 stores db.t4g.micro as billed ($0.017, not $0.017375).
    expect(mismatched.sort()).toEqual([...NOT_LINEAR, ...NOT_LINEAR, 'rds.postgres.db.t4g.micro'].sort());
  });

  it('every price has item, unit, amount, region, source and date; tiers are well formed', () => {
    for (const region of REGIONS) {
      for (const e of [...catalog.storedEntries(region), ...catalog.familyEntries(region)]) {
        expect(e.unit.length).toBeGreaterThan(0);
        expect(e.source).toMatch(/^https:\/\/aws\.amazon\.com\//);
        expect(e.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
    }
    expect(() => parsePriceFile(JSON.stringify({ prices: [{ item: 'x', unit: 'GB', usd: 0.1, region: 'us-east-1', source: 's', asOf: '2025-01-01', tiers: [{ upTo: 10, usd: 0.2 }, { upTo: 5, usd: 0.1 }] }] }), 'bad.json')).toThrow(
      /prices\.0\.usd: .*must equal the first tier's price \(0\.2\)[\s\S]*prices\.0\.tiers\.1\.upTo: .*must be omitted on the last tier/,
    );
  });

  it('an unknown region is a clear error naming the regions there are', () => {
    // Zones named, as AWS needs for a region whose zone letters apistack does not know.
    const p = resolveProfileLayer({ extends: 'optimized', region: 'ap-south-1', network: { availabilityZoneNames: ['ap-south-1a', 'ap-south-1b'] } });
    expect(() => priceProfile(p, 'aws', catalog)).toThrow(UserError);
    expect(() => priceProfile(p, 'aws', catalog)).toThrow(
      'no prices for region "ap-south-1": the catalog has eu-central-1, eu-west-1, us-east-1, us-west-2. Set the profile\'s region to one of them, or add ap-south-1\'s prices with --prices FILE',
    );
  });

  it("the profile's region selects the prices, on both targets, for every built-in profile", () => {
    for (const name of ['baseline', 'optimized', 'loadtest', 'production-ha']) {
      for (const target of ['aws', 'k8s'] as const) {
        const items = (region: string) => {
          const b = priceProfile(resolveProfileLayer({ extends: name, region }), target, catalog);
          expect(b.region).toBe(region);
          return b.components.flatMap((c) => c.lines.map((l) => l.priceItem)).sort();
        };
        const east = items('us-east-1');
        for (const region of REGIONS) expect(items(region), `${name} ${target} ${region}`).toEqual(east);
      }
    }
    const eu = priceProfile(resolveProfileLayer({ extends: 'optimized', region: 'eu-central-1' }), 'aws', catalog);
    expect(lineOf(eu, 'NAT gateways (1)')!.unitPrice).toBe(0.052);
    // Prices not confirmed for a region are flagged, so every line built on them is marked.
    expect(lineOf(eu, 'NAT gateways (1)')!.uncertain).toBe(true);
  });
});

describe('tiered prices', () => {
  const tiered = (usage: ProfileLayer['usage']) => priceProfile(resolveProfileLayer({ extends: 'baseline', usage }), 'aws', catalog);

  it('5 billion AMP samples: 2B × $0.90/10M + 3B × $0.35/10M = $285', () => {
    const b = tiered({ metricSamplesPerMonth: 5e9 });
    const lines = linesStarting(b, 'Amazon Managed Prometheus samples ingested');
    expect(lines.map((l) => [l.name, l.quantity, l.unitPrice, l.monthly])).toEqual([
      ['Amazon Managed Prometheus samples ingested (first 200 × 10M samples)', 200, 0.9, 180],
      ['Amazon Managed Prometheus samples ingested (next 25,000 × 10M samples)', 300, 0.35, 105],
    ]);
    expect(cents(lines.reduce((s, l) => s + l.monthly, 0))).toBe(285);
  });

  it('20,000 GB out: 10,240 GB × $0.09 + 9,760 GB × $0.085 = $1,751.20', () => {
    const b = tiered({ dataTransferOutGBPerMonth: 20000 });
    const lines = linesStarting(b, 'Data transfer out to the internet');
    expect(lines.map((l) => [l.name, l.quantity, l.unitPrice, l.monthly])).toEqual([
      ['Data transfer out to the internet (first 10,240 GB)', 10240, 0.09, 921.6],
      ['Data transfer out to the internet (next 40,960 GB)', 9760, 0.085, 829.6],
    ]);
    expect(cents(lines.reduce((s, l) => s + l.monthly, 0))).toBe(1751.2);
  });

  it('splits any quantity over every tier it reaches', () => {
    const dto = catalog.get('us-east-1', 'data-transfer.out');
    expect(tierBands(dto, 200000).map((b) => [b.quantity, b.usd])).toEqual([[10240, 0.09], [40960, 0.085], [102400, 0.07], [46400, 0.05]]);
    expect(tierBands(dto, 500).map((b) => [b.quantity, b.usd])).toEqual([[500, 0.09]]);
  });

  it('the first free 100 GB out is listed as not applied, with what it would be worth', () => {
    const b = tiered({ dataTransferOutGBPerMonth: 500 });
    expect(b.freeAllowancesNotApplied).toContainEqual({
      line: 'Data transfer out to the internet',
      item: 'data-transfer.out',
      quantity: 100,
      unit: 'GB',
      worth: 9,
      note: 'the first 100 GB a month out to the internet are free, per account, across every AWS service and region',
    });
    expect(lineOf(b, 'Data transfer out to the internet')!.monthly).toBe(45);
  });
});

describe('what every format says besides the lines', () => {
  const baseline = () => priceProfile(loadProfile('baseline'), 'aws', catalog);

  it('commitment lines carry † and uncertain in JSON, as the README says', () => {
    const b = priceProfile(loadProfile('optimized'), 'aws', catalog);
    const api = lineOf(b, 'API tasks vCPU (3 × 2 vCPU, arm64) (Compute Savings Plan 1y no-upfront, -20%)')!;
    expect(api.uncertain).toBe(true);
    expect(renderBreakdown(b, 'table')).toMatch(/API tasks vCPU \(3 × 2 vCPU, arm64\) \(Compute Savings Plan 1y no-upfront, -20%\) †/);
    const json = JSON.parse(renderBreakdown(b, 'json'));
    expect(json.components[0].lines[0]).toMatchObject({ uncertain: true, source: 'https://aws.amazon.com/fargate/pricing/', asOf: '2025-06-01' });
    // Kubernetes node lines under a commitment too.
    const k8s = priceProfile(loadProfile('optimized'), 'k8s', catalog);
    expect(k8s.components.flatMap((c) => c.lines).filter((l) => l.priceItem === 'ec2.m7g.xlarge').every((l) => l.uncertain)).toBe(true);
    // On-demand lines on confirmed prices carry no flag.
    expect(lineOf(baseline(), 'RDS PostgreSQL db.m7g.large Multi-AZ')!.uncertain).toBeUndefined();
  });

  it('costs not modelled are listed as not included in table, md, csv, json and html', () => {
    const b = baseline();
    const notIncluded = ['cross-AZ traffic between the tiers', 'Amazon Managed Prometheus storage', 'Secrets Manager secrets'];
    for (const format of ['table', 'md', 'csv', 'json', 'html'] as const) {
      const out = renderBreakdown(b, format);
      for (const text of notIncluded) expect(out, `${format}: ${text}`).toContain(text);
    }
    expect(JSON.parse(renderBreakdown(b, 'json')).notIncluded).toEqual(b.notIncluded);
    // Public IPv4 addresses are modelled: the NLB's node in each zone and each NAT gateway.
    expect(lineOf(b, 'Public IPv4 addresses (4: load balancer in 2 zones, 2 NAT gateways)')!.monthly).toBe(cents(4 * 730 * 0.005));
    // The managed-mode collector is inside the API task's size, and says so.
    expect(b.assumptions.map((a) => a.text)).toContain('the metrics collector runs as a sidecar inside each API task, within its Fargate size, so its cost is already in the API task lines');
  });

  it('states each assumption with the profile field that sets it, one per line in text and markdown', () => {
    const team = priceProfile(loadProfile(join(import.meta.dirname, 'fixtures', 'team.yaml')), 'aws', catalog);
    const fields = Object.fromEntries(team.assumptions.map((a) => [a.field, a.text]));
    expect(fields['monitoring.logRetentionDays']).toMatch(/^CloudWatch Logs storage holds 7 days of ingestion .*billed compressed: 15% of the ingested bytes/);
    expect(fields['usage.requestsPerMonth']).toMatch(/^ALB capacity units: .*new connections .* are not counted/);
    const opt = priceProfile(loadProfile('optimized'), 'aws', catalog);
    expect(opt.assumptions.find((a) => a.field === 'purchase.option')!.text).toMatch(/Savings Plan discount is applied to every Fargate hour priced, even at maximum replicas/);
    for (const [format, bullet] of [['table', '  - '], ['md', '- ']] as const) {
      const lines = renderBreakdown(team, format).split('\n');
      for (const a of team.assumptions) expect(lines, format).toContain(`${bullet}${a.text} (set by ${a.field})`);
    }
  });

  it('prices provisioned IOPS for io1 and io2 (twice for Multi-AZ)', () => {
    const b = priceProfile(resolveProfileLayer({ extends: 'baseline', postgres: { storageType: 'io1', storageGiB: 200, iops: 4000 } }), 'aws', catalog);
    const iops = lineOf(b, 'RDS io1 provisioned IOPS (4000, Multi-AZ, billed twice)')!;
    expect([iops.quantity, iops.unit, iops.unitPrice, iops.monthly]).toEqual([8000, 'IOPS-month', 0.1, 800]);
    expect(lineOf(b, 'RDS io1 storage (Multi-AZ, billed twice)')!.monthly).toBe(cents(400 * 0.125));
  });

  it('the comparison JSON carries each side\'s range, assumptions and exclusions', () => {
    const c = compare(baseline(), priceProfile(loadProfile('optimized'), 'aws', catalog));
    const j = JSON.parse(renderComparison(c, 'json', { current: { min: 1, max: 3, expected: 2 }, optimized: { min: 1, max: 2 } }));
    expect(j.current.autoscaling).toEqual({ min: 1, max: 3, expected: 2 });
    expect(Object.keys(j.optimized)).toEqual(['profile', 'apiReplicas', 'total', 'components', 'autoscaling', 'assumptions', 'notIncluded', 'freeAllowancesNotApplied']);
  });
});

describe('apistack prices import refreshes families and regions', () => {
  const fixture = join(import.meta.dirname, 'fixtures', 'price-list-eu-west-1.json');

  it('an imported file overrides the catalog: instance sizes, tiers and the free allowance', () => {
    const out = join(tempDir(), 'eu.json');
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), 'prices', 'import', fixture, '--region', 'eu-west-1', '--out', out], { encoding: 'utf8', cwd: repoRoot });
    expect(r.stderr).toBe(`wrote 5 prices to ${out} (2 products skipped)\n`);
    expect(r.status).toBe(0);
    const imported = JSON.parse(readFileSync(out, 'utf8')).prices;
    expect(imported.find((e: { item: string }) => e.item === 'data-transfer.out')).toEqual({
      item: 'data-transfer.out',
      unit: 'GB',
      usd: 0.091,
      region: 'eu-west-1',
      source: 'AWS Price List AWSDataTransfer, SKU SKUDTOEU',
      asOf: '2026-10-01',
      tiers: [{ upTo: 10240, usd: 0.091 }, { upTo: 51200, usd: 0.086 }, { upTo: 153600, usd: 0.071 }, { usd: 0.051 }],
      freeAllowance: { quantity: 100, note: 'the first 100 GB a month are free (AWS Price List)' },
    });

    const before = catalog.get('eu-west-1', 'rds.postgres.db.m6g.large');
    const refreshed = Catalog.load([out]);
    expect(before.note).toMatch(/^derived: /);
    expect(refreshed.get('eu-west-1', 'rds.postgres.db.m6g.large')).toMatchObject({ usd: 0.173, asOf: '2026-10-01', source: 'AWS Price List AmazonRDS, SKU SKURDSEU' });
    // An imported EC2 type keeps the shape the price list gives and gets EKS's pod limit from the family table.
    expect(refreshed.get('eu-west-1', 'ec2.m6i.2xlarge')).toMatchObject({ usd: 0.43, vcpu: 8, memoryGiB: 32, maxPods: 58 });
    // Sizes not in the file still come from the built-in family price.
    expect(refreshed.get('eu-west-1', 'rds.postgres.db.m6g.xlarge')).toEqual(catalog.get('eu-west-1', 'rds.postgres.db.m6g.xlarge'));

    const layer = { extends: 'baseline', region: 'eu-west-1', postgres: { instanceClass: 'db.m6g.large' }, usage: { dataTransferOutGBPerMonth: 20000 } } as const;
    const priced = priceProfile(resolveProfileLayer(layer), 'aws', refreshed);
    expect(lineOf(priced, 'RDS PostgreSQL db.m6g.large Multi-AZ')).toMatchObject({ unitPrice: 0.173, monthly: cents(2 * 730 * 0.173), source: 'AWS Price List AmazonRDS, SKU SKURDSEU' });
    expect(linesStarting(priced, 'Data transfer out to the internet').map((l) => l.monthly)).toEqual([cents(10240 * 0.091), cents(9760 * 0.086)]);
    expect(lineOf(priced, 'NAT gateways (2)')!.unitPrice).toBe(0.05);

    // The file is a valid --prices file for the CLI.
    const profileFile = join(tempDir(), 'eu.yaml');
    writeFileSync(profileFile, 'extends: baseline\nname: eu\nregion: eu-west-1\npostgres: { instanceClass: db.m6g.large }\n');
    const cost = spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), 'cost', '--profile', profileFile, '--prices', out, '--format', 'json'], { encoding: 'utf8', cwd: repoRoot });
    expect(cost.stderr).toBe('');
    expect(JSON.parse(cost.stdout).components.find((c: { name: string }) => c.name === 'Database').lines[0].unitPrice).toBe(0.173);
  });
});
