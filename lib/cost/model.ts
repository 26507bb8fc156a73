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
  /** The price itself is uncertain (flagged in the catalog). */
  readonly uncertain?: boolean;
  /** The catalog item the price came from. */
  readonly priceItem: string;
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
}

/** Cents are what bills show; keep sums exact to the cent. */
export function roundCents(usd: number): number {
  return Math.round(usd * 100) / 100;
}

/** Collects lines per component, remembering which prices it used. */
export class BreakdownBuilder {
  private readonly lines = new Map<ComponentName, CostLine[]>();
  readonly used = new Set<PriceEntry>();

  constructor(
    readonly catalog: Catalog,
    readonly region: string,
    readonly hoursPerMonth: number,
  ) {}

  price(item: string): PriceEntry {
    const entry = this.catalog.get(this.region, item);
    this.used.add(entry);
    return entry;
  }

  add(component: ComponentName, line: Omit<CostLine, 'monthly'> & { monthly?: number }): void {
    const monthly = roundCents(line.monthly ?? line.quantity * line.unitPrice);
    const list = this.lines.get(component) ?? [];
    list.push({ ...line, monthly });
    this.lines.set(component, list);
  }

  /** A per-hour price running `count` units all month. */
  hourly(component: ComponentName, name: string, item: string, count: number, opts: { multiplier?: number; discount?: number; assumption?: string } = {}): void {
    const entry = this.price(item);
    const unitPrice = entry.usd * (opts.multiplier ?? 1) * (1 - (opts.discount ?? 0));
    this.add(component, {
      name,
      quantity: count * this.hoursPerMonth,
      unit: entry.unit,
      unitPrice: round6(unitPrice),
      period: 'hourly',
      priceItem: entry.item,
      ...(opts.assumption ? { assumption: opts.assumption } : {}),
      ...(entry.uncertain ? { uncertain: true } : {}),
    });
  }

  /** A monthly or per-usage price for `quantity` units. */
  usage(component: ComponentName, name: string, item: string, quantity: number, opts: { multiplier?: number; assumption?: string; unitDivisor?: number } = {}): void {
    const entry = this.price(item);
    this.add(component, {
      name,
      quantity,
      unit: entry.unit,
      unitPrice: round6(entry.usd * (opts.multiplier ?? 1)),
      period: 'monthly',
      priceItem: entry.item,
      ...(opts.assumption ? { assumption: opts.assumption } : {}),
      ...(entry.uncertain ? { uncertain: true } : {}),
    });
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
    };
  }
}

export function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
