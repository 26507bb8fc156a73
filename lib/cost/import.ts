/**
 * Importing AWS Price List JSON into catalog entries, so users can refresh prices themselves.
 * Reads a bulk offer file ({products, terms}) or GetProducts output ({PriceList: [...]}) and
 * keeps the on-demand Linux/shared-tenancy prices of the items the model uses.
 */
import { UserError } from '../profile/errors.ts';
import type { PriceEntry } from './catalog.ts';

interface PriceDimension {
  unit?: string;
  pricePerUnit?: { USD?: string };
  beginRange?: string;
}
interface Term {
  priceDimensions?: Record<string, PriceDimension>;
  effectiveDate?: string;
}
interface Product {
  sku?: string;
  productFamily?: string;
  attributes?: Record<string, string>;
}
interface ProductWithTerms {
  product: Product;
  onDemand: Term[];
  publicationDate?: string;
  serviceCode?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Normalize both Price List shapes into products with their on-demand terms. */
export function readPriceList(data: unknown, label: string): ProductWithTerms[] {
  if (!isObject(data)) throw new UserError(`${label} is not an AWS Price List document: expected a JSON object`);
  if (Array.isArray(data.PriceList)) {
    return data.PriceList.map((raw, i) => {
      let item: unknown = raw;
      if (typeof raw === 'string') {
        try {
          item = JSON.parse(raw);
        } catch {
          throw new UserError(`${label}: PriceList[${i}] is a string that is not JSON`);
        }
      }
      if (!isObject(item) || !isObject(item.product)) throw new UserError(`${label}: PriceList[${i}] has no "product" object`);
      const terms = isObject(item.terms) && isObject(item.terms.OnDemand) ? Object.values(item.terms.OnDemand as Record<string, Term>) : [];
      return { product: item.product as Product, onDemand: terms, publicationDate: item.publicationDate as string | undefined, serviceCode: item.serviceCode as string | undefined };
    });
  }
  if (isObject(data.products)) {
    const onDemand = isObject(data.terms) && isObject(data.terms.OnDemand) ? (data.terms.OnDemand as Record<string, Record<string, Term>>) : {};
    return Object.entries(data.products as Record<string, Product>).map(([sku, product]) => ({
      product,
      onDemand: Object.values(onDemand[sku] ?? {}),
      publicationDate: data.publicationDate as string | undefined,
      serviceCode: data.offerCode as string | undefined,
    }));
  }
  throw new UserError(`${label} is not an AWS Price List document: expected "products" and "terms" (bulk offer file) or "PriceList" (GetProducts output)`);
}

/** The catalog item a product prices, or undefined when the model does not use it. */
export function catalogItemFor(product: Product): { item: string; vcpu?: number; memoryGiB?: number } | undefined {
  const a = product.attributes ?? {};
  if (a.instanceType && a.operatingSystem === 'Linux' && a.tenancy === 'Shared' && (a.preInstalledSw ?? 'NA') === 'NA' && (a.capacitystatus ?? 'Used') === 'Used') {
    const memoryGiB = a.memory ? parseFloat(a.memory.replace(/,/g, '')) : undefined;
    return { item: `ec2.${a.instanceType}`, ...(a.vcpu ? { vcpu: Number(a.vcpu) } : {}), ...(memoryGiB ? { memoryGiB } : {}) };
  }
  if (a.instanceType?.startsWith('db.') && a.databaseEngine === 'PostgreSQL' && a.deploymentOption === 'Single-AZ') return { item: `rds.postgres.${a.instanceType}` };
  if (a.instanceType?.startsWith('cache.') && a.cacheEngine === 'Redis') return { item: `elasticache.redis.${a.instanceType}` };
  const usage = a.usagetype ?? '';
  if (/Fargate-ARM-vCPU-Hours:perCPU$/.test(usage)) return { item: 'fargate.arm64.vcpu' };
  if (/Fargate-ARM-GB-Hours$/.test(usage)) return { item: 'fargate.arm64.memory' };
  if (/Fargate-vCPU-Hours:perCPU$/.test(usage)) return { item: 'fargate.x86_64.vcpu' };
  if (/Fargate-GB-Hours$/.test(usage)) return { item: 'fargate.x86_64.memory' };
  return undefined;
}

const UNIT_NAMES: Record<string, string> = { Hrs: 'hour', hours: 'hour', 'vCPU-Hours': 'vCPU-hour', 'GB-Hours': 'GB-hour' };

export interface ImportResult {
  readonly entries: PriceEntry[];
  readonly skipped: number;
}

export function importPriceList(data: unknown, label: string, opts: { region?: string; today?: string } = {}): ImportResult {
  const entries: PriceEntry[] = [];
  let skipped = 0;
  for (const { product, onDemand, publicationDate, serviceCode } of readPriceList(data, label)) {
    const mapped = catalogItemFor(product);
    const region = product.attributes?.regionCode;
    const dimension = onDemand.flatMap((t) => Object.values(t.priceDimensions ?? {})).find((d) => (d.beginRange ?? '0') === '0');
    const usd = dimension?.pricePerUnit?.USD;
    if (!mapped || !region || (opts.region && region !== opts.region) || usd === undefined) {
      skipped++;
      continue;
    }
    entries.push({
      item: mapped.item,
      unit: UNIT_NAMES[dimension!.unit ?? ''] ?? (dimension!.unit ?? 'unit'),
      usd: Number(usd),
      region,
      source: `AWS Price List${serviceCode ? ` ${serviceCode}` : ''}, SKU ${product.sku ?? 'unknown'}`,
      asOf: (publicationDate ?? opts.today ?? new Date().toISOString()).slice(0, 10),
      ...(mapped.vcpu !== undefined ? { vcpu: mapped.vcpu } : {}),
      ...(mapped.memoryGiB !== undefined ? { memoryGiB: mapped.memoryGiB } : {}),
    });
  }
  return { entries, skipped };
}
