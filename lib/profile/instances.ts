/**
 * The instance families apistack knows, size by size: RDS for PostgreSQL classes, ElastiCache
 * node types and EC2 types for Kubernetes nodes. Sizes carry AWS's normalization factor
 * (large = 4, xlarge = 8, ...), which also scales memory and, within a family, the on-demand price.
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/apply_ri.html (normalization factors)
 */

/** Normalization factor of each size name. */
export const NORMALIZATION_FACTORS: Readonly<Record<string, number>> = Object.freeze({
  nano: 0.25,
  micro: 0.5,
  small: 1,
  medium: 2,
  large: 4,
  xlarge: 8,
  '2xlarge': 16,
  '4xlarge': 32,
  '8xlarge': 64,
  '12xlarge': 96,
  '16xlarge': 128,
  '24xlarge': 192,
  '32xlarge': 256,
  '48xlarge': 384,
});

const T_SIZES = ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'] as const;
const GRAVITON_SIZES = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'] as const;
const INTEL_5_SIZES = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'] as const;
const INTEL_6_SIZES = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge', '32xlarge'] as const;

/**
 * RDS for PostgreSQL classes by family, and GiB of memory per normalization unit (t and m: 2, r: 4).
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
 */
export const RDS_FAMILIES: Readonly<Record<string, { readonly sizes: readonly string[]; readonly memoryGiBPerUnit: number }>> = Object.freeze({
  'db.t3': { sizes: T_SIZES, memoryGiBPerUnit: 2 },
  'db.t4g': { sizes: T_SIZES, memoryGiBPerUnit: 2 },
  'db.m5': { sizes: INTEL_5_SIZES, memoryGiBPerUnit: 2 },
  'db.m6g': { sizes: GRAVITON_SIZES, memoryGiBPerUnit: 2 },
  'db.m6i': { sizes: INTEL_6_SIZES, memoryGiBPerUnit: 2 },
  'db.m7g': { sizes: GRAVITON_SIZES, memoryGiBPerUnit: 2 },
  'db.r5': { sizes: INTEL_5_SIZES, memoryGiBPerUnit: 4 },
  'db.r6g': { sizes: GRAVITON_SIZES, memoryGiBPerUnit: 4 },
  'db.r6i': { sizes: INTEL_6_SIZES, memoryGiBPerUnit: 4 },
  'db.r7g': { sizes: GRAVITON_SIZES, memoryGiBPerUnit: 4 },
});

/** ElastiCache node types (Redis OSS and Valkey) by family. @see https://aws.amazon.com/elasticache/pricing/ */
export const ELASTICACHE_FAMILIES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'cache.t3': ['micro', 'small', 'medium'],
  'cache.t4g': ['micro', 'small', 'medium'],
  'cache.m6g': GRAVITON_SIZES,
  'cache.m7g': GRAVITON_SIZES,
  'cache.r6g': GRAVITON_SIZES,
  'cache.r7g': GRAVITON_SIZES,
});

/**
 * EC2 families for Kubernetes nodes: sizes, CPU architecture (Graviton is arm64), and memory per
 * vCPU (t: by size, burstable; m: 4, c: 2, r: 8 GiB).
 * @see https://aws.amazon.com/ec2/instance-types/
 */
export const EC2_FAMILIES: Readonly<Record<string, { readonly sizes: readonly string[]; readonly architecture: 'x86_64' | 'arm64'; readonly memoryGiBPerVcpu?: number }>> = Object.freeze({
  t3: { sizes: ['nano', ...T_SIZES], architecture: 'x86_64' },
  t4g: { sizes: ['nano', ...T_SIZES], architecture: 'arm64' },
  m6i: { sizes: INTEL_6_SIZES, architecture: 'x86_64', memoryGiBPerVcpu: 4 },
  m7i: { sizes: [...INTEL_5_SIZES, '48xlarge'], architecture: 'x86_64', memoryGiBPerVcpu: 4 },
  m6g: { sizes: ['medium', ...GRAVITON_SIZES], architecture: 'arm64', memoryGiBPerVcpu: 4 },
  m7g: { sizes: ['medium', ...GRAVITON_SIZES], architecture: 'arm64', memoryGiBPerVcpu: 4 },
  c6i: { sizes: INTEL_6_SIZES, architecture: 'x86_64', memoryGiBPerVcpu: 2 },
  c7i: { sizes: [...INTEL_5_SIZES, '48xlarge'], architecture: 'x86_64', memoryGiBPerVcpu: 2 },
  c6g: { sizes: ['medium', ...GRAVITON_SIZES], architecture: 'arm64', memoryGiBPerVcpu: 2 },
  c7g: { sizes: ['medium', ...GRAVITON_SIZES], architecture: 'arm64', memoryGiBPerVcpu: 2 },
  r6i: { sizes: INTEL_6_SIZES, architecture: 'x86_64', memoryGiBPerVcpu: 8 },
  r7g: { sizes: ['medium', ...GRAVITON_SIZES], architecture: 'arm64', memoryGiBPerVcpu: 8 },
});

/** T-family vCPUs by size: every size below xlarge has 2 (they burst on credits). */
const T_VCPU: Readonly<Record<string, number>> = { nano: 2, micro: 2, small: 2, medium: 2, large: 2, xlarge: 4, '2xlarge': 8 };

/**
 * Pods EKS lets a node run with the VPC CNI (ENIs × (IPs per ENI − 1) + 2), by size.
 * @see https://github.com/awslabs/amazon-eks-ami/blob/main/templates/shared/runtime/eni-max-pods.txt
 */
const T_MAX_PODS: Readonly<Record<string, number>> = { nano: 4, micro: 4, small: 11, medium: 17, large: 35, xlarge: 58, '2xlarge': 58 };
const MAX_PODS: Readonly<Record<string, number>> = { medium: 8, large: 29, xlarge: 58, '2xlarge': 58, '4xlarge': 234, '8xlarge': 234, '12xlarge': 234, '16xlarge': 737, '24xlarge': 737, '32xlarge': 737, '48xlarge': 737 };

/** Splits "db.m6g.2xlarge" into family "db.m6g" and size "2xlarge". */
export function splitInstanceType(type: string): { family: string; size: string } | undefined {
  const i = type.lastIndexOf('.');
  if (i <= 0) return undefined;
  return { family: type.slice(0, i), size: type.slice(i + 1) };
}

/** Memory of an RDS class in GiB, or undefined when apistack does not know the class. */
export function rdsInstanceMemoryGiB(instanceClass: string): number | undefined {
  const parts = splitInstanceType(instanceClass);
  const family = parts && RDS_FAMILIES[parts.family];
  if (!parts || !family?.sizes.includes(parts.size)) return undefined;
  return NORMALIZATION_FACTORS[parts.size]! * family.memoryGiBPerUnit;
}

/** vCPUs, memory and EKS max pods of an EC2 type in EC2_FAMILIES, or undefined. */
export function ec2Shape(instanceType: string): { vcpu: number; memoryGiB: number; maxPods: number } | undefined {
  const parts = splitInstanceType(instanceType);
  const family = parts && EC2_FAMILIES[parts.family];
  if (!parts || !family?.sizes.includes(parts.size)) return undefined;
  const nf = NORMALIZATION_FACTORS[parts.size]!;
  if (family.memoryGiBPerVcpu === undefined) return { vcpu: T_VCPU[parts.size]!, memoryGiB: nf * 2, maxPods: T_MAX_PODS[parts.size]! };
  const vcpu = nf / 2;
  return { vcpu, memoryGiB: vcpu * family.memoryGiBPerVcpu, maxPods: MAX_PODS[parts.size]! };
}

/** Pods EKS lets a node run when its type does not say (the VPC CNI's figure for a large). */
export const DEFAULT_MAX_PODS = 29;

/**
 * What the kubelet leaves for pods, as EKS reserves it: CPU 6% of the first core, 1% of the
 * second, 0.5% of cores 3-4, 0.25% beyond; memory 255 MiB + 11 MiB per pod, plus the 100 MiB
 * eviction threshold. https://github.com/awslabs/amazon-eks-ami (bootstrap kube-reserved)
 */
export function nodeAllocatable(node: { readonly vcpu: number; readonly memoryGiB: number; readonly maxPods?: number }): { allocatableMillicores: number; allocatableMiB: number } {
  const cores = node.vcpu;
  let reserved = 60;
  if (cores > 1) reserved += 10;
  if (cores > 2) reserved += 5 * (Math.min(cores, 4) - 2);
  if (cores > 4) reserved += 2.5 * (cores - 4);
  const maxPods = node.maxPods ?? DEFAULT_MAX_PODS;
  return { allocatableMillicores: Math.floor(cores * 1000 - reserved), allocatableMiB: node.memoryGiB * 1024 - (255 + 11 * maxPods + 100) };
}

/**
 * ElastiCache engine versions apistack deploys, with the parameter group family each needs
 * (the family names are not a pattern: redis6.x, redis5.0, redis7, valkey7, valkey8).
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ParameterGroups.Engine.html
 */
export const ELASTICACHE_PARAMETER_FAMILIES: Readonly<Record<'redis' | 'valkey', Readonly<Record<string, string>>>> = Object.freeze({
  redis: { '5.0': 'redis5.0', '6.0': 'redis6.x', '6.2': 'redis6.x', '7.0': 'redis7', '7.1': 'redis7' },
  valkey: { '7.2': 'valkey7', '8.0': 'valkey8', '8.1': 'valkey8' },
});

export function elasticacheParameterFamily(engine: 'redis' | 'valkey', version: string): string | undefined {
  return ELASTICACHE_PARAMETER_FAMILIES[engine][version];
}

/**
 * Availability zone letters of each region apistack prices, as every account sees them (zone IDs
 * map to letters per account, but the letters a region offers are the same). A region not listed
 * takes its names from network.availabilityZoneNames.
 */
export const AVAILABILITY_ZONE_LETTERS: Readonly<Record<string, string>> = Object.freeze({
  'us-east-1': 'abcdef',
  'us-west-2': 'abcd',
  'eu-west-1': 'abc',
  'eu-central-1': 'abc',
});
