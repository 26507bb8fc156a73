/**
 * Importing AWS Price List JSON into catalog entries, so users can refresh prices themselves.
 * Reads a bulk offer file ({products, terms}) or GetProducts output ({PriceList: [...]}) and
 * keeps the on-demand prices of the items the model uses: Linux/shared-tenancy EC2 types, RDS for
 * PostgreSQL Single-AZ classes and storage, ElastiCache Redis OSS nodes of any family, Fargate,
 * EKS, load balancers, NAT, EBS, EFS, public IPv4, endpoints, CloudWatch Logs and data transfer
 * out (with its volume tiers), in whichever regions the file holds.
 */
import { UserError } from '../errors.ts';
import type { PriceEntry } from './catalog.ts';

interface PriceDimension {
  unit?: string;
  pricePerUnit?: { USD?: string };
  beginRange?: string;
  endRange?: string;
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

/** Usage types (after the region prefix) of the flat-priced items the model uses, by service. */
const USAGE_ITEMS: readonly { service: RegExp; usage: RegExp; item: string }[] = [
  { service: /^AmazonECS$/, usage: /Fargate-ARM-vCPU-Hours:perCPU$/, item: 'fargate.arm64.vcpu' },
  { service: /^AmazonECS$/, usage: /Fargate-ARM-GB-Hours$/, item: 'fargate.arm64.memory' },
  { service: /^AmazonECS$/, usage: /Fargate-vCPU-Hours:perCPU$/, item: 'fargate.x86_64.vcpu' },
  { service: /^AmazonECS$/, usage: /Fargate-GB-Hours$/, item: 'fargate.x86_64.memory' },
  { service: /^AmazonEKS$/, usage: /AmazonEKS-Hours:perCluster$/, item: 'eks.cluster' },
  { service: /^AmazonRDS$/, usage: /RDS:GP2-Storage$/, item: 'rds.storage.gp2' },
  { service: /^AmazonRDS$/, usage: /RDS:GP3-Storage$/, item: 'rds.storage.gp3' },
  { service: /^AmazonRDS$/, usage: /RDS:PIOPS-Storage$/, item: 'rds.storage.io1' },
  { service: /^AmazonRDS$/, usage: /RDS:PIOPS$/, item: 'rds.iops.io1' },
  { service: /^AmazonRDS$/, usage: /RDS:PIOPS-Storage-IO2$/, item: 'rds.storage.io2' },
  { service: /^AmazonRDS$/, usage: /RDS:PIOPS-IO2$/, item: 'rds.iops.io2' },
  { service: /^AmazonRDS$/, usage: /RDS:ChargedBackupUsage$/, item: 'rds.backup' },
  { service: /^AmazonEC2$/, usage: /NatGateway-Hours$/, item: 'nat.hour' },
  { service: /^AmazonEC2$/, usage: /NatGateway-Bytes$/, item: 'nat.data' },
  { service: /^AmazonEC2$/, usage: /EBS:VolumeUsage\.gp3$/, item: 'ebs.gp3' },
  { service: /^AmazonEC2$/, usage: /EBS:VolumeUsage\.gp2$/, item: 'ebs.gp2' },
  { service: /^AmazonVPC$/, usage: /PublicIPv4:InUseAddress$/, item: 'public-ipv4.hour' },
  { service: /^AmazonVPC$/, usage: /VpcEndpoint-Hours$/, item: 'vpc.endpoint.interface' },
  { service: /^AmazonEFS$/, usage: /TimedStorage-ByteHrs$/, item: 'efs.standard' },
  { service: /^AmazonCloudWatch$/, usage: /DataProcessing-Bytes$/, item: 'cloudwatch.logs.ingest' },
  { service: /^AmazonCloudWatch$/, usage: /TimedStorage-ByteHrs$/, item: 'cloudwatch.logs.storage' },
];

/** The catalog item a product prices, or undefined when the model does not use it. */
export function catalogItemFor(product: Product, serviceCode?: string): { item: string; vcpu?: number; memoryGiB?: number } | undefined {
  const a = product.attributes ?? {};
  const service = a.servicecode ?? serviceCode ?? '';
  if (a.instanceType && a.operatingSystem === 'Linux' && a.tenancy === 'Shared' && (a.preInstalledSw ?? 'NA') === 'NA' && (a.capacitystatus ?? 'Used') === 'Used') {
    const memoryGiB = a.memory ? parseFloat(a.memory.replace(/,/g, '')) : undefined;
    return { item: `ec2.${a.instanceType}`, ...(a.vcpu ? { vcpu: Number(a.vcpu) } : {}), ...(memoryGiB ? { memoryGiB } : {}) };
  }
  if (a.instanceType?.startsWith('db.') && a.databaseEngine === 'PostgreSQL' && a.deploymentOption === 'Single-AZ') return { item: `rds.postgres.${a.instanceType}` };
  if (a.instanceType?.startsWith('cache.') && a.cacheEngine === 'Redis') return { item: `elasticache.redis.${a.instanceType}` };
  const usage = a.usagetype ?? '';
  if (service === 'AWSELB') {
    const lb = product.productFamily === 'Load Balancer-Application' ? 'alb' : product.productFamily === 'Load Balancer-Network' ? 'nlb' : undefined;
    if (lb && /LoadBalancerUsage$/.test(usage)) return { item: `${lb}.hour` };
    if (lb && /LCUUsage$/.test(usage)) return { item: lb === 'alb' ? 'alb.lcu' : 'nlb.nlcu' };
    return undefined;
  }
  if (product.productFamily === 'Data Transfer' && a.transferType === 'AWS Outbound' && a.toLocation === 'External') return { item: 'data-transfer.out' };
  return USAGE_ITEMS.find((u) => u.service.test(service) && u.usage.test(usage));
}

const UNIT_NAMES: Record<string, string> = { Hrs: 'hour', hours: 'hour', 'vCPU-Hours': 'vCPU-hour', 'GB-Hours': 'GB-hour', 'GB-Mo': 'GB-month', 'IOPS-Mo': 'IOPS-month', 'LCU-Hrs': 'LCU-hour', 'NLCU-Hrs': 'NLCU-hour', IPAddress: 'IP-hour' };

export interface ImportResult {
  readonly entries: PriceEntry[];
  readonly skipped: number;
}

const rangeNumber = (v: string | undefined) => (v === undefined || v === 'Inf' ? undefined : Number(v));

/**
 * A product's on-demand price: one dimension, or volume tiers when the price list has several
 * ranges. A leading free range (0 to N at $0) is kept as the free allowance it is, not a tier.
 */
function priceOf(onDemand: Term[]): { usd: number; unit: string; tiers?: PriceEntry['tiers']; free?: number } | undefined {
  const dims = onDemand
    .flatMap((t) => Object.values(t.priceDimensions ?? {}))
    .filter((d) => d.pricePerUnit?.USD !== undefined)
    .sort((x, y) => Number(x.beginRange ?? 0) - Number(y.beginRange ?? 0));
  if (dims.length === 0) return undefined;
  const unit = UNIT_NAMES[dims[0]!.unit ?? ''] ?? dims[0]!.unit ?? 'unit';
  let free: number | undefined;
  if (dims.length > 1 && Number(dims[0]!.pricePerUnit!.USD) === 0) free = rangeNumber(dims.shift()!.endRange);
  if (dims.length === 1) return { usd: Number(dims[0]!.pricePerUnit!.USD), unit, ...(free ? { free } : {}) };
  const tiers = dims.map((d) => {
    const upTo = rangeNumber(d.endRange);
    return { ...(upTo !== undefined ? { upTo } : {}), usd: Number(d.pricePerUnit!.USD) };
  });
  return { usd: tiers[0]!.usd, unit, tiers, ...(free ? { free } : {}) };
}

export function importPriceList(data: unknown, label: string, opts: { region?: string; today?: string } = {}): ImportResult {
  const entries: PriceEntry[] = [];
  let skipped = 0;
  for (const { product, onDemand, publicationDate, serviceCode } of readPriceList(data, label)) {
    const mapped = catalogItemFor(product, serviceCode);
    const region = product.attributes?.regionCode ?? product.attributes?.fromRegionCode;
    const price = priceOf(onDemand);
    if (!mapped || !region || (opts.region && region !== opts.region) || !price) {
      skipped++;
      continue;
    }
    entries.push({
      item: mapped.item,
      unit: price.unit,
      usd: price.usd,
      region,
      source: `AWS Price List${serviceCode ? ` ${serviceCode}` : ''}, SKU ${product.sku ?? 'unknown'}`,
      asOf: (publicationDate ?? opts.today ?? new Date().toISOString()).slice(0, 10),
      ...(mapped.vcpu !== undefined ? { vcpu: mapped.vcpu } : {}),
      ...(mapped.memoryGiB !== undefined ? { memoryGiB: mapped.memoryGiB } : {}),
      ...(price.tiers ? { tiers: price.tiers } : {}),
      ...(price.free ? { freeAllowance: { quantity: price.free, note: `the first ${price.free} ${price.unit} a month are free (AWS Price List)` } } : {}),
    });
  }
  return { entries, skipped };
}
