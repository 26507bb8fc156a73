/**
 * The price catalog: dated public prices with their sources. `--prices FILE` overrides or
 * extends it with entries of the same schema.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../profile/errors.ts';
import { describeIssues } from '../profile/load.ts';

export const priceEntrySchema = z.strictObject({
  /** Stable key the model asks for, e.g. "rds.postgres.db.t4g.medium". */
  item: z.string().min(1),
  unit: z.string().min(1),
  usd: z.number().nonnegative(),
  region: z.string().min(1),
  /** The public page or price list the figure comes from. */
  source: z.string().min(1),
  /** The date the figure was read, YYYY-MM-DD. */
  asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date like "2025-06-01"' }),
  /** The figure could not be verified or varies: outputs flag lines built on it. */
  uncertain: z.boolean().optional(),
  note: z.string().optional(),
  /** Instance shape, for node bin-packing. */
  vcpu: z.number().positive().optional(),
  memoryGiB: z.number().positive().optional(),
  /** Pods a node of this type may run (EKS: by its network interfaces). */
  maxPods: z.number().int().positive().optional(),
});

export const priceFileSchema = z.strictObject({
  currency: z.literal('USD').optional(),
  hoursPerMonth: z.number().positive().optional(),
  prices: z.array(priceEntrySchema),
});

export type PriceEntry = z.infer<typeof priceEntrySchema>;
export type PriceFile = z.infer<typeof priceFileSchema>;

export const BUILTIN_CATALOG_FILE = join(import.meta.dirname, 'prices.us-east-1.json');

export function parsePriceFile(text: string, label: string): PriceFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`price file ${label} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = priceFileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, data);
    throw new UserError(`price file ${label} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}\nEach entry needs item, unit, usd, region, source and asOf (see lib/cost/prices.us-east-1.json).`, problems);
  }
  return parsed.data;
}

export function readPriceFile(path: string): PriceFile {
  if (!existsSync(path)) throw new UserError(`price file not found: ${path}`);
  return parsePriceFile(readFileSync(path, 'utf8'), path);
}

export class Catalog {
  private readonly byKey = new Map<string, PriceEntry>();

  constructor(entries: readonly PriceEntry[]) {
    // Later entries win: an override file replaces built-in prices item by item.
    for (const entry of entries) this.byKey.set(`${entry.region}/${entry.item}`, entry);
  }

  /** The built-in catalog, extended or overridden by `overridePaths` in order. */
  static load(overridePaths: readonly string[] = []): Catalog {
    const entries = [...readPriceFile(BUILTIN_CATALOG_FILE).prices];
    for (const path of overridePaths) entries.push(...readPriceFile(path).prices);
    return new Catalog(entries);
  }

  has(region: string, item: string): boolean {
    return this.byKey.has(`${region}/${item}`);
  }

  /** The price of `item` in `region`, or an error saying how to add it. */
  get(region: string, item: string): PriceEntry {
    const entry = this.byKey.get(`${region}/${item}`);
    if (!entry) {
      throw new UserError(
        `no price for "${item}" in ${region}: the profile uses it but the catalog has no entry. ` +
          `Add it with --prices FILE, a JSON file like {"prices": [{"item": "${item}", "unit": "...", "usd": 0.0, "region": "${region}", "source": "https://...", "asOf": "YYYY-MM-DD"}]}, ` +
          `or import it from the AWS Price List with \`apistack prices import\``,
      );
    }
    return entry;
  }

  /** The oldest date among the prices used, so a reader knows how fresh the whole answer is. */
  oldestAsOf(items: Iterable<PriceEntry>): string {
    let oldest = '';
    for (const e of items) if (!oldest || e.asOf < oldest) oldest = e.asOf;
    return oldest;
  }
}
