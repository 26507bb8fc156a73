/**
 * Can the cost model price a profile? The answer `apistack profile validate` gives at once,
 * instead of `apistack cost` failing later: usage figures outside the range the model prices,
 * a region the catalog has no prices for, and instance or node types it does not know.
 */
import { isUserError } from '../errors.ts';
import type { ResolvedProfile } from '../profile/load.ts';
import { Catalog, type PriceEntry } from './catalog.ts';
import { priceAwsProfile } from './readers/profile-aws.ts';
import { priceKubernetesProfile } from './readers/kubernetes.ts';
import { usageProblems } from './usage.ts';

/** The profile field an item of the catalog is priced for. */
function fieldOf(p: ResolvedProfile, item: string): { field: string; value: string; prefix: string } | undefined {
  if (item.startsWith('ec2.')) return { field: 'kubernetes.nodeInstanceType', value: p.kubernetes.nodeInstanceType, prefix: 'ec2.' };
  if (item.startsWith('elasticache.redis.')) return { field: 'redis.nodeType', value: p.redis.nodeType, prefix: 'elasticache.redis.' };
  if (item.startsWith('rds.postgres.')) return { field: 'postgres.instanceClass', value: p.postgres.instanceClass, prefix: 'rds.postgres.' };
  if (item.startsWith('rds.storage.') || item.startsWith('rds.iops.')) return { field: 'postgres.storageType', value: p.postgres.storageType, prefix: item.startsWith('rds.iops.') ? 'rds.iops.' : 'rds.storage.' };
  return undefined;
}

/** The families (or single items) the catalog prices in a region under an item prefix, e.g. "cache.t4g, cache.m7g". */
function known(catalog: Catalog, region: string, prefix: string): string {
  const names = new Set<string>();
  for (const f of catalog.familyEntries(region)) if (f.family.startsWith(prefix)) names.add(`${f.family.slice(prefix.length)}.*`);
  for (const e of catalog.storedEntries(region)) if (e.item.startsWith(prefix) && !catalog.familyOf(region, e.item)) names.add(e.item.slice(prefix.length));
  return [...names].sort().join(', ');
}

/** A catalog that answers every item: a missing one is recorded and priced at $0 with a shape large enough to pack any pod. */
class ProbeCatalog extends Catalog {
  readonly missing = new Set<string>();
  constructor(private readonly inner: Catalog) {
    super([]);
  }
  override regions(): string[] {
    return this.inner.regions();
  }
  override assertRegion(region: string): void {
    this.inner.assertRegion(region);
  }
  override has(region: string, item: string): boolean {
    return this.inner.has(region, item);
  }
  override get(region: string, item: string): PriceEntry {
    if (this.inner.has(region, item)) return this.inner.get(region, item);
    this.missing.add(item);
    return { item, unit: 'unit', usd: 0, region, source: 'missing', asOf: '0000-00-00', vcpu: 1024, memoryGiB: 65536, maxPods: 1000 };
  }
}

export interface PricingProblems {
  /** Wrong input: figures no stack has. `profile validate` refuses the profile. */
  readonly input: string[];
  /** What the catalog cannot price (a region or type it has no price for): the profile deploys, but `apistack cost` refuses it until --prices adds the figures. */
  readonly catalog: string[];
}

/** Everything that would stop `apistack cost` pricing the profile on either target, at once. */
export function pricingProblems(p: ResolvedProfile, catalog: Catalog): PricingProblems {
  const input = usageProblems(p);
  if (input.length > 0) return { input, catalog: [] };
  if (!catalog.regions().includes(p.region)) {
    return {
      input,
      catalog: [`region: "${p.region}" — the price catalog has no prices for it (it has ${catalog.regions().join(', ')}); use one of those, or add ${p.region}'s prices with --prices FILE (\`apistack prices import PRICE-LIST.json --region ${p.region} --out FILE\`)`],
    };
  }
  const probe = new ProbeCatalog(catalog);
  const other: string[] = [];
  for (const target of ['aws', 'k8s'] as const) {
    try {
      (target === 'aws' ? priceAwsProfile : priceKubernetesProfile)(p, probe, { hoursPerMonth: 730 });
    } catch (e) {
      if (!isUserError(e)) throw e;
      other.push(`${target === 'aws' ? 'AWS' : 'Kubernetes'}: ${e.message}`);
    }
  }
  const problems = [...probe.missing].sort().map((item) => {
    const f = fieldOf(p, item);
    const add = `add its price with --prices FILE`;
    if (!f) return `${item}: the catalog has no price for it in ${p.region}; ${add}`;
    const choices = known(catalog, p.region, f.prefix);
    return `${f.field}: "${f.value}" — the catalog has no price for ${item} in ${p.region}${choices ? ` (it prices ${choices})` : ''}; choose one of those, or ${add}`;
  });
  return { input, catalog: [...problems, ...other] };
}
