/**
 * The cost model's vocabulary: a resource becomes cost lines (quantity × unit price), lines
 * group into the components users read. Knows nothing of how resources were described.
 */
import type { Catalog, PriceEntry } from './catalog.ts';

export type ComponentName =
  | 'Application Servers'
  | 'Load Balancer'
  | 'Database'
  | 'Cache'
  | 'Storage'
  | 'Monitoring'
  | 'Network'
  | 'Control Plane'
  | 'Idle Capacity';

/** Display order of components. */
export const COMPONENT_ORDER: readonly ComponentName[] = [
  'Application Servers',
  'Load Balancer',
  'Database',
  'Cache',
  'Storage',
  'Monitoring',
  'Network',
  'Control Plane',
  'Idle Capacity',
];

export interface CostLine {
  readonly name: string;
  /** Monthly quantity in `unit` (hours already multiplied in for hourly prices). */
  readonly quantity: number;
  readonly unit: string;
  readonly unitPrice: number;
  /** Whether the catalog price is per hour (quantity counts hours) or per month/usage. */
  readonly period: 'hourly' | 'monthly';
  readonly monthly: number;
  /** Why the quantity is an assumption (a default usage figure), if it is. */
  readonly assumption?: string;
  /** The profile field that would replace the assumption. */
  readonly assumptionField?: string;
  /** The price itself is uncertain (flagged in the catalog, or a commitment discount that is). */
  readonly uncertain?: boolean;
  /** The catalog item the price came from. */
  readonly priceItem: string;
  /** Where the price comes from, and the date it was read. */
  readonly source: string;
  readonly asOf: string;
}

/** Something the figures rest on, and the profile field that sets (or would replace) it. */
export interface Assumption {
  readonly text: string;
  readonly field: string;
}

/** A monthly free allowance every account gets, which the breakdown does not deduct. */
export interface FreeAllowanceNotApplied {
  readonly line: string;
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  /** What it would take off the line if the whole allowance went to this stack. */
  readonly worth: number;
  readonly note: string;
}

export interface Component {
  readonly name: ComponentName;
  readonly monthly: number;
  readonly lines: readonly CostLine[];
}

export interface Breakdown {
  readonly profile: string;
  readonly target: 'aws' | 'k8s';
  readonly region: string;
  readonly hoursPerMonth: number;
  readonly pricesAsOf: string;
  /** Which API replica count the breakdown is for. */
  readonly apiReplicas: number;
  readonly total: number;
  readonly components: readonly Component[];
  /** Assumptions behind the figures, each with the profile field that sets it. */
  readonly assumptions: readonly Assumption[];
  /** Costs the stack incurs that no line prices. */
  readonly notIncluded: readonly string[];
  /** Free allowances not deducted (they are per account, shared with everything else in it). */
  readonly freeAllowancesNotApplied: readonly FreeAllowanceNotApplied[];
}

/** Cents are what bills show; keep sums exact to the cent. */
export function roundCents(usd: number): number {
  return Math.round(usd * 100) / 100;
}

type LineOptions = { multiplier?: number; assumption?: { text: string; field: string }; uncertain?: boolean };

/** Collects lines per component, remembering which prices it used. */
export class BreakdownBuilder {
  private readonly lines = new Map<ComponentName, CostLine[]>();
  private readonly assumed = new Map<string, Assumption>();
  private readonly excluded: string[] = [];
  private readonly allowances: FreeAllowanceNotApplied[] = [];
  readonly used = new Set<PriceEntry>();

  constructor(
    readonly catalog: Catalog,
    readonly region: string,
    readonly hoursPerMonth: number,
  ) {
    catalog.assertRegion(region);
  }

  price(item: string): PriceEntry {
    const entry = this.catalog.get(this.region, item);
    this.used.add(entry);
    return entry;
  }

  /** States an assumption the figures rest on, and the profile field that sets it. */
  assume(text: string, field: string): void {
    this.assumed.set(text, { text, field });
  }

  /** Names a cost the stack incurs that no line prices. */
  notIncluded(text: string): void {
    if (!this.excluded.includes(text)) this.excluded.push(text);
  }

  add(component: ComponentName, line: Omit<CostLine, 'monthly'> & { monthly?: number }): void {
    const monthly = roundCents(line.monthly ?? line.quantity * line.unitPrice);
    const list = this.lines.get(component) ?? [];
    list.push({ ...line, monthly });
    this.lines.set(component, list);
    if (line.assumption && line.assumptionField) this.assume(line.assumption, line.assumptionField);
  }

  private fields(entry: PriceEntry, opts: LineOptions) {
    return {
      priceItem: entry.item,
      source: entry.source,
      asOf: entry.asOf,
      ...(opts.assumption ? { assumption: opts.assumption.text, assumptionField: opts.assumption.field } : {}),
      ...(entry.uncertain || opts.uncertain ? { uncertain: true } : {}),
    };
  }

  /** A per-hour price running `count` units all month. */
  hourly(component: ComponentName, name: string, item: string, count: number, opts: LineOptions & { discount?: number } = {}): void {
    const entry = this.price(item);
    const unitPrice = entry.usd * (opts.multiplier ?? 1) * (1 - (opts.discount ?? 0));
    this.add(component, { name, quantity: count * this.hoursPerMonth, unit: entry.unit, unitPrice: round6(unitPrice), period: 'hourly', ...this.fields(entry, opts) });
  }

  /**
   * A monthly or per-usage price for `quantity` units: one line per volume tier the quantity
   * reaches when the price is tiered. A free allowance on the price is listed, not deducted.
   */
  usage(component: ComponentName, name: string, item: string, quantity: number, opts: LineOptions = {}): void {
    const entry = this.price(item);
    const m = opts.multiplier ?? 1;
    if (entry.freeAllowance && quantity > 0) {
      const free = Math.min(quantity, entry.freeAllowance.quantity);
      this.allowances.push({ line: name, item: entry.item, quantity: entry.freeAllowance.quantity, unit: entry.unit, worth: roundCents(free * entry.usd * m), note: entry.freeAllowance.note });
    }
    const bands = tierBands(entry, quantity);
    for (const band of bands) {
      this.add(component, {
        name: bands.length > 1 ? `${name} (${band.label})` : name,
        quantity: band.quantity,
        unit: entry.unit,
        unitPrice: round6(band.usd * m),
        period: 'monthly',
        ...this.fields(entry, opts),
      });
    }
  }

  build(meta: { profile: string; target: 'aws' | 'k8s'; apiReplicas: number }): Breakdown {
    const components: Component[] = COMPONENT_ORDER.filter((name) => this.lines.has(name)).map((name) => {
      const lines = this.lines.get(name)!;
      return { name, monthly: roundCents(lines.reduce((s, l) => s + l.monthly, 0)), lines };
    });
    return {
      ...meta,
      region: this.region,
      hoursPerMonth: this.hoursPerMonth,
      pricesAsOf: this.catalog.oldestAsOf(this.used),
      total: roundCents(components.reduce((s, c) => s + c.monthly, 0)),
      components,
      assumptions: [...this.assumed.values()],
      notIncluded: [...this.excluded],
      freeAllowancesNotApplied: [...this.allowances],
    };
  }
}

/** How a quantity splits over a price's volume tiers: one band per tier it reaches (one band when untiered). */
export function tierBands(entry: PriceEntry, quantity: number): { quantity: number; usd: number; label: string }[] {
  if (!entry.tiers) return [{ quantity, usd: entry.usd, label: '' }];
  const bands: { quantity: number; usd: number; label: string }[] = [];
  const unit = /^\d/.test(entry.unit) ? ` × ${entry.unit}` : ` ${entry.unit}`;
  const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
  let from = 0;
  for (const [i, tier] of entry.tiers.entries()) {
    const upTo = tier.upTo ?? Number.POSITIVE_INFINITY;
    const inTier = Math.min(quantity, upTo) - from;
    if (inTier <= 0 && i > 0) break;
    const label = tier.upTo === undefined ? `over ${n(from)}${unit}` : i === 0 ? `first ${n(upTo)}${unit}` : `next ${n(upTo - from)}${unit}`;
    bands.push({ quantity: Math.round(Math.max(0, inTier) * 1e6) / 1e6, usd: tier.usd, label });
    from = upTo;
  }
  return bands;
}

export function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
