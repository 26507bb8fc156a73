/** The cost model: profile (or plain resource inputs) in, priced breakdowns and savings out. */
import type { ResolvedProfile } from '../profile/load.ts';
import { Catalog } from './catalog.ts';
import type { Breakdown } from './model.ts';
import type { ReplicaPoint } from './readers/common.ts';
import { awsInputsFromTemplate, readTemplate } from './readers/cloudformation.ts';
import { priceAws, priceAwsProfile } from './readers/profile-aws.ts';
import { priceKubernetesProfile } from './readers/kubernetes.ts';
import type { AutoscalingTotals } from './render.ts';

export * from './catalog.ts';
export * from './model.ts';
export * from './savings.ts';
export * from './usage.ts';
export { pricingProblems, type PricingProblems } from './check.ts';
export * from './render.ts';
export { awsInputsFromProfile, priceAws, priceAwsProfile, type AwsCostInputs } from './readers/profile-aws.ts';
export { awsInputsFromTemplate, readTemplate, type CloudFormationTemplate } from './readers/cloudformation.ts';
export { binPack, kubernetesInputsFromProfile, nodeShape, priceKubernetes, priceKubernetesProfile, type KubernetesCostInputs } from './readers/kubernetes.ts';
export type { ReplicaPoint } from './readers/common.ts';

export type Target = 'aws' | 'k8s';
export const DEFAULT_HOURS_PER_MONTH = 730;

export function priceProfile(p: ResolvedProfile, target: Target, catalog: Catalog, opts: { hoursPerMonth?: number; replicas?: ReplicaPoint } = {}): Breakdown {
  const o = { hoursPerMonth: opts.hoursPerMonth ?? DEFAULT_HOURS_PER_MONTH, ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}) };
  return target === 'aws' ? priceAwsProfile(p, catalog, o) : priceKubernetesProfile(p, catalog, o);
}

/** Totals at the ends of the autoscaling range, and at the expected average when the profile gives one. */
export function autoscalingTotals(p: ResolvedProfile, target: Target, catalog: Catalog, hoursPerMonth?: number): AutoscalingTotals {
  const at = (replicas: ReplicaPoint) => priceProfile(p, target, catalog, { ...(hoursPerMonth ? { hoursPerMonth } : {}), replicas }).total;
  return { min: at('min'), max: at('max'), ...(p.api.replicasExpected !== undefined ? { expected: at('expected') } : {}) };
}

/** Price a synthesized AWS stack (a cloud assembly directory or its template file), as deployed. */
export function priceTemplate(path: string, catalog: Catalog, opts: { hoursPerMonth?: number; replicas?: ReplicaPoint } = {}): { breakdown: Breakdown; totals: AutoscalingTotals; profile: ResolvedProfile } {
  const hoursPerMonth = opts.hoursPerMonth ?? DEFAULT_HOURS_PER_MONTH;
  const { template, file } = readTemplate(path);
  const { profile, at } = awsInputsFromTemplate(template, file);
  const price = (replicas: ReplicaPoint | undefined) => priceAws(at(replicas), profile, catalog, { hoursPerMonth });
  const totals: AutoscalingTotals = { min: price('min').total, max: price('max').total, ...(profile.api.replicasExpected !== undefined ? { expected: price('expected').total } : {}) };
  return { breakdown: price(opts.replicas), totals, profile };
}
