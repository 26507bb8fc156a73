/**
 * The price catalog: dated public prices with their sources, one file per region in
 * lib/cost/prices/. An instance family may be stored as one price per family and region: its
 * sizes are derived by normalization factor (lib/profile/instances.ts), and a size stored on its
 * own wins over the derived figure. `--prices FILE` overrides or extends it with entries of the
 * same schema.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { ec2Shape, NORMALIZATION_FACTORS, splitInstanceType } from '../profile/instances.ts';
import { describeIssues } from '../profile/load.ts';

/** No unit price the catalog holds comes near this; a larger figure is a typo (or 1e400 read as Infinity). */
export const MAX_UNIT_PRICE_USD = 100_000;
const unitPrice = z.number().nonnegative().max(MAX_UNIT_PRICE_USD);

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date like "2025-06-01"' });

/** One band of a tiered price: `usd` per unit up to `upTo` units a month (cumulative), the last band without `upTo`. */
export const tierSchema = z.strictObject({
  upTo: z.number().positive().max(1e15).optional(),
  usd: unitPrice,
});

/** Where a figure comes from: every price, single or per family, carries these. */
const provenance = {
  region: z.string().min(1),
  /** The public page or price list the figure comes from. */
  source: z.string().min(1),
  /** The date the figure was read, YYYY-MM-DD. */
  asOf: date,
  /** The figure could not be verified or varies: outputs flag lines built on it. */
  uncertain: z.boolean().optional(),
  note: z.string().optional(),
};

export const priceEntrySchema = z
  .strictObject({
    /** Stable key the model asks for, e.g. "rds.postgres.db.t4g.medium". */
    item: z.string().min(1),
    unit: z.string().min(1),
    /** The price per unit; for a tiered price, the first tier's. */
    usd: unitPrice,
    ...provenance,
    /** Instance shape, for node bin-packing. */
    vcpu: z.number().positive().max(1024).optional(),
    memoryGiB: z.number().positive().max(65536).optional(),
    /** Pods a node of this type may run (EKS: by its network interfaces). */
    maxPods: z.number().int().positive().optional(),
    /** Volume tiers a month, cheapest last; the model prices each quantity by its tiers. */
    tiers: z.array(tierSchema).min(2).optional(),
    /** A free allowance every account gets each month (shared by the whole account, so not applied; the outputs list it). */
    freeAllowance: z.strictObject({ quantity: z.number().positive().max(1e15), note: z.string().min(1) }).optional(),
  })
  .superRefine((e, ctx) => {
    if (!e.tiers) return;
    if (e.tiers[0]!.usd !== e.usd) ctx.addIssue({ code: 'custom', path: ['usd'], message: `must equal the first tier's price (${e.tiers[0]!.usd})` });
    e.tiers.forEach((t, i) => {
      const last = i === e.tiers!.length - 1;
      if (last !== (t.upTo === undefined)) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'upTo'], message: last ? 'must be omitted on the last tier' : 'is required on every tier but the last' });
      const prev = i > 0 ? e.tiers![i - 1]!.upTo : undefined;
      if (t.upTo !== undefined && prev !== undefined && t.upTo <= prev) ctx.addIssue({ code: 'custom', path: ['tiers', i, 'upTo'], message: `must be above the previous tier's upTo (${prev})` });
    });
  });

/** One price for a whole instance family in a region: the price of size `per`; other sizes scale by normalization factor. */
export const familyEntrySchema = z
  .strictObject({
    /** Item prefix, e.g. "ec2.m6i", "rds.postgres.db.m6g", "elasticache.redis.cache.r7g". */
    family: z.string().min(1),
    /** The size whose price `usd` is, e.g. "large". */
    per: z.string().min(1),
    /** Sizes the family has in this region. */
    sizes: z.array(z.string().min(1)).min(1),
    unit: z.string().min(1),
    usd: unitPrice,
    ...provenance,
  })
  .superRefine((f, ctx) => {
    for (const [i, size] of [f.per, ...f.sizes].entries()) {
      if (NORMALIZATION_FACTORS[size] === undefined) ctx.addIssue({ code: 'custom', path: i === 0 ? ['per'] : ['sizes', i - 1], message: `"${size}" has no normalization factor; use one of ${Object.keys(NORMALIZATION_FACTORS).join(', ')}` });
    }
  });

export const priceFileSchema = z.strictObject({
  currency: z.literal('USD').optional(),
  hoursPerMonth: z.number().positive().max(744).optional(),
  prices: z.array(priceEntrySchema),
  families: z.array(familyEntrySchema).optional(),
});

export type PriceEntry = z.infer<typeof priceEntrySchema>;
export type FamilyEntry = z.infer<typeof familyEntrySchema>;
export type PriceFile = z.infer<typeof priceFileSchema>;

/** One file per region: lib/cost/prices/<region>.json. */
export const BUILTIN_CATALOG_DIR = join(import.meta.dirname, 'prices');

export function builtinCatalogFiles(): string[] {
  return readdirSync(BUILTIN_CATALOG_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(BUILTIN_CATALOG_DIR, f));
}

export function parsePriceFile(text: string, label: string): PriceFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`price file ${label} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = priceFileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, data, priceFileSchema);
    throw new UserError(`price file ${label} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}\nEach entry needs item, unit, usd, region, source and asOf (see lib/cost/prices/us-east-1.json).`, problems);
  }
  return parsed.data;
}

export function readPriceFile(path: string): PriceFile {
  if (!existsSync(path)) throw new UserError(`price file not found: ${path}`);
  return parsePriceFile(readFileSync(path, 'utf8'), path);
}

export class Catalog {
  private readonly byKey = new Map<string, PriceEntry>();
  private readonly families = new Map<string, FamilyEntry>();
  private readonly derived = new Map<string, PriceEntry>();
  private readonly regionSet = new Set<string>();

  constructor(entries: readonly PriceEntry[], families: readonly FamilyEntry[] = []) {
    // Later entries win: an override file replaces built-in prices item by item.
    for (const entry of entries) {
      this.byKey.set(`${entry.region}/${entry.item}`, entry);
      this.regionSet.add(entry.region);
    }
    for (const f of families) {
      this.families.set(`${f.region}/${f.family}`, f);
      this.regionSet.add(f.region);
    }
  }

  /** The built-in catalog (every region), extended or overridden by `overridePaths` in order. */
  static load(overridePaths: readonly string[] = []): Catalog {
    const files = [...builtinCatalogFiles(), ...overridePaths].map(readPriceFile);
    return new Catalog(
      files.flatMap((f) => f.prices),
      files.flatMap((f) => f.families ?? []),
    );
  }

  /** Regions the catalog has any price for. */
  regions(): string[] {
    return [...this.regionSet].sort();
  }

  /** Stops early with a clear error when the catalog knows nothing of a region. */
  assertRegion(region: string): void {
    if (this.regionSet.has(region)) return;
    throw new UserError(
      `no prices for region "${region}": the catalog has ${this.regions().join(', ')}. ` +
        `Set the profile's region to one of them, or add ${region}'s prices with --prices FILE (\`apistack prices import PRICE-LIST.json --region ${region} --out FILE\` makes one from the AWS Price List)`,
    );
  }

  /** The family price an item's size is derived from, when the item is not stored on its own. */
  familyOf(region: string, item: string): FamilyEntry | undefined {
    const parts = splitInstanceType(item);
    const family = parts && this.families.get(`${region}/${parts.family}`);
    return family && family.sizes.includes(parts.size) ? family : undefined;
  }

  /** The family entries stored for a region. */
  familyEntries(region?: string): FamilyEntry[] {
    return [...this.families.values()].filter((f) => region === undefined || f.region === region);
  }

  /** The entries stored one by one (not derived). */
  storedEntries(region?: string): PriceEntry[] {
    return [...this.byKey.values()].filter((e) => region === undefined || e.region === region);
  }

  has(region: string, item: string): boolean {
    return this.byKey.has(`${region}/${item}`) || this.familyOf(region, item) !== undefined;
  }

  /** A size's price from its family's: family price × the size's normalization factor / the priced size's. */
  derive(family: FamilyEntry, size: string): PriceEntry {
    const item = `${family.family}.${size}`;
    const key = `${family.region}/${item}`;
    const cached = this.derived.get(key);
    if (cached) return cached;
    const ratio = NORMALIZATION_FACTORS[size]! / NORMALIZATION_FACTORS[family.per]!;
    const entry: PriceEntry = withShape({
      item,
      unit: family.unit,
      usd: Math.round(family.usd * ratio * 1e6) / 1e6,
      region: family.region,
      source: family.source,
      asOf: family.asOf,
      ...(family.uncertain ? { uncertain: true } : {}),
      note: `derived: ${family.family}.${family.per} at $${family.usd} × ${ratio} (normalization factor ${NORMALIZATION_FACTORS[size]} / ${NORMALIZATION_FACTORS[family.per]})`,
    });
    this.derived.set(key, entry);
    return entry;
  }

  /** The price of `item` in `region` (stored, else derived from its family), or an error saying how to add it. */
  get(region: string, item: string): PriceEntry {
    const stored = this.byKey.get(`${region}/${item}`);
    if (stored) return withShape(stored);
    const family = this.familyOf(region, item);
    if (family) return this.derive(family, splitInstanceType(item)!.size);
    this.assertRegion(region);
    throw new UserError(
      `no price for "${item}" in ${region}: the profile uses it but the catalog has no entry. ` +
        `Add it with --prices FILE, a JSON file like {"prices": [{"item": "${item}", "unit": "...", "usd": 0.0, "region": "${region}", "source": "https://...", "asOf": "YYYY-MM-DD"}]}, ` +
        `or import it from the AWS Price List with \`apistack prices import\``,
    );
  }

  /** The oldest date among the prices used, so a reader knows how fresh the whole answer is. */
  oldestAsOf(items: Iterable<PriceEntry>): string {
    let oldest = '';
    for (const e of items) if (!oldest || e.asOf < oldest) oldest = e.asOf;
    return oldest;
  }
}

const shaped = new WeakMap<PriceEntry, PriceEntry>();

/** EC2 entries get the shape of their type (vCPUs, memory, EKS max pods) where the entry does not give it. */
function withShape(entry: PriceEntry): PriceEntry {
  if (!entry.item.startsWith('ec2.')) return entry;
  const cached = shaped.get(entry);
  if (cached) return cached;
  const shape = ec2Shape(entry.item.slice('ec2.'.length));
  const full = shape ? { ...entry, vcpu: entry.vcpu ?? shape.vcpu, memoryGiB: entry.memoryGiB ?? shape.memoryGiB, maxPods: entry.maxPods ?? shape.maxPods } : entry;
  shaped.set(entry, full);
  return full;
}
