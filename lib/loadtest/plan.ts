/**
 * Capacity planning from measured runs: throughput per API worker at a latency threshold, then
 * the cheapest variant (replicas × workers × task size) that serves a target rate under it.
 *
 * Pure: reports come in as data, and pricing is a function the caller passes (lib/cost), so this
 * module needs nothing but the profile.
 */
import { UserError } from '../profile/errors.ts';
import type { LoadTestReport } from './report.ts';
import { FARGATE_VCPU, fargateMemoryRangeMiB, resolveProfileLayer, type ResolvedProfile } from '../profile/index.ts';

/**
 * The fields of a load-test report (the JSON contract) that planning reads. `environment` is what
 * served the run when the runner recorded it; else the profile's minimum replicas and its workers.
 */
export type MeasuredRun = Pick<LoadTestReport, 'scenario' | 'profile' | 'successRate' | 'environment'> & {
  readonly requests: Pick<LoadTestReport['requests'], 'total' | 'perSecond'>;
  readonly latencyMs: Pick<LoadTestReport['latencyMs'], 'p95'>;
};

export interface PlanRequest {
  /** Requests per second the variant must serve. */
  readonly requestsPerSecond: number;
  /** p95 latency it must stay under, ms. */
  readonly p95Ms: number;
  readonly target: 'aws' | 'k8s';
  /** Largest replica count considered. */
  readonly maxReplicas?: number;
  /**
   * Capacity kept above the rate, in percent. @default what the profile's CPU autoscaling target
   * leaves (70% → 43%): the fleet then serves the rate at the utilization it is meant to run at.
   */
  readonly minHeadroomPercent?: number;
}

export interface WorkerCapacity {
  /** Requests per second one worker served within the threshold (best qualifying run). */
  readonly perWorker: number;
  /** vCPU each worker had in that run. */
  readonly vcpuPerWorker: number;
  readonly run: { readonly scenario: string; readonly perSecond: number; readonly p95Ms: number; readonly replicas: number; readonly workersPerReplica: number };
  /** Runs not used, and why. */
  readonly rejected: readonly string[];
}

export interface Variant {
  readonly replicas: number;
  readonly workersPerReplica: number;
  readonly vcpuPerReplica: number;
  readonly memoryMiBPerReplica: number;
  /** Requests/s the variant serves within the threshold. */
  readonly capacity: number;
  /** capacity / requested − 1, in percent. */
  readonly headroomPercent: number;
  readonly monthly: number;
}

export interface PlanAnswer {
  readonly request: PlanRequest;
  readonly profile: string;
  readonly capacity: WorkerCapacity;
  readonly minHeadroomPercent: number;
  /** The cheapest variant first; every variant that meets the request, by cost. */
  readonly variants: readonly Variant[];
  /** Variants that would meet the rate but the profile's checks refuse (connection budget, sizes). */
  readonly refused: readonly string[];
}

/** Only runs with no failed request count: a run that shed load measured its errors, not its capacity. */
const MIN_SUCCESS_RATE = 0.999;

export function workerCapacity(runs: readonly MeasuredRun[], profile: ResolvedProfile, p95Ms: number): WorkerCapacity {
  const rejected: string[] = [];
  const qualifying: { label: string; perWorker: number; vcpuPerWorker: number; run: WorkerCapacity['run'] }[] = [];
  for (const [i, r] of runs.entries()) {
    const label = `run ${i + 1} (${r.scenario}, ${Math.round(r.requests.perSecond)} req/s, p95 ${r.latencyMs.p95} ms)`;
    if (r.latencyMs.p95 > p95Ms) {
      rejected.push(`${label}: p95 above ${p95Ms} ms`);
      continue;
    }
    if (r.successRate < MIN_SUCCESS_RATE) {
      rejected.push(`${label}: success rate ${(r.successRate * 100).toFixed(2)}% is below ${MIN_SUCCESS_RATE * 100}%`);
      continue;
    }
    const replicas = r.environment?.apiReplicas ?? profile.api.replicasMin;
    const workers = r.environment?.workersPerReplica ?? profile.derived.api.workersPerReplica;
    const vcpu = r.environment?.vcpuPerReplica ?? profile.api.vcpuPerReplica;
    qualifying.push({
      label,
      perWorker: r.requests.perSecond / (replicas * workers),
      vcpuPerWorker: vcpu / workers,
      run: { scenario: r.scenario, perSecond: r.requests.perSecond, p95Ms: r.latencyMs.p95, replicas, workersPerReplica: workers },
    });
  }
  // The fastest run that still met the threshold is the closest measure of a worker's capacity.
  qualifying.sort((a, b) => b.perWorker - a.perWorker);
  const [best, ...slower] = qualifying;
  if (!best) {
    throw new UserError(`no run meets p95 < ${p95Ms} ms with at least ${MIN_SUCCESS_RATE * 100}% success: ${rejected.join('; ')}; measure at fewer connections (or a lower --rate) so the threshold holds`);
  }
  for (const s of slower) rejected.push(`${s.label}: a faster run met the threshold`);
  return { perWorker: best.perWorker, vcpuPerWorker: best.vcpuPerWorker, run: best.run, rejected };
}

/** Task sizes tried: every Fargate vCPU size from one worker's share up, memory scaled like the profile's. */
function sizes(profile: ResolvedProfile, vcpuPerWorker: number): { vcpu: number; memoryMiB: number; workers: number }[] {
  const mibPerVcpu = profile.api.memoryMiBPerReplica / profile.api.vcpuPerReplica;
  return FARGATE_VCPU.filter((v) => v >= vcpuPerWorker).flatMap((vcpu) => {
    const range = fargateMemoryRangeMiB(vcpu)!;
    const wanted = vcpu * mibPerVcpu;
    const options = range.fixed ?? Array.from({ length: (range.max - range.min) / range.stepMiB + 1 }, (_, i) => range.min + i * range.stepMiB);
    const memoryMiB = options.find((m) => m >= wanted) ?? options[options.length - 1]!;
    // As many workers as the measured share of a vCPU allows: the per-worker rate holds at that share.
    const workers = Math.max(1, Math.floor(vcpu / vcpuPerWorker + 1e-9));
    return workers <= 256 ? [{ vcpu, memoryMiB, workers }] : [];
  });
}

/**
 * Every variant that serves the rate, priced, cheapest first. `price` returns a profile's monthly
 * cost on the target; a variant the profile's checks refuse is listed with the reason.
 */
export function plan(runs: readonly MeasuredRun[], profile: ResolvedProfile, request: PlanRequest, price: (p: ResolvedProfile) => number): PlanAnswer {
  if (!(request.requestsPerSecond > 0)) throw new UserError(`--rps must be a positive number of requests per second, got ${request.requestsPerSecond}`);
  if (!(request.p95Ms > 0)) throw new UserError(`--p95 must be a positive number of milliseconds, got ${request.p95Ms}`);
  const capacity = workerCapacity(runs, profile, request.p95Ms);
  const maxReplicas = request.maxReplicas ?? 100;
  const minHeadroomPercent = request.minHeadroomPercent ?? Math.round((100 / profile.api.autoscalingCpuTargetPercent - 1) * 100);
  const needed = request.requestsPerSecond * (1 + minHeadroomPercent / 100);
  const variants: Variant[] = [];
  const refused: string[] = [];
  for (const size of sizes(profile, capacity.vcpuPerWorker)) {
    const perReplica = capacity.perWorker * size.workers;
    // Never fewer replicas than the profile keeps for availability (a replica may be replaced or its AZ down).
    const replicas = Math.max(profile.api.replicasMin, Math.ceil(needed / perReplica - 1e-9));
    const label = `${replicas} × ${size.workers} workers × ${size.vcpu} vCPU/${size.memoryMiB} MiB`;
    if (replicas > maxReplicas) {
      refused.push(`${label}: more than ${maxReplicas} replicas`);
      continue;
    }
    let variantProfile: ResolvedProfile;
    try {
      variantProfile = resolveProfileLayer({
        extends: profile.name,
        name: `${profile.name}-plan`,
        api: {
          // A fixed fleet: min, expected and max are the planned count, so the price is the planned one.
          replicasMin: replicas,
          replicasMax: replicas,
          replicasExpected: replicas,
          workersPerReplica: size.workers,
          vcpuPerReplica: size.vcpu,
          memoryMiBPerReplica: size.memoryMiB,
          scheduledScaling: null,
        },
      });
    } catch (e) {
      // A profile error lists its problems one per line ("  - field: ..."): keep them, on one line.
      const problems = (e as Error).message.split('\n').slice(1).map((l) => l.trim().replace(/^- /, ''));
      refused.push(`${label}: ${problems.join('; ') || (e as Error).message}`);
      continue;
    }
    let monthly: number;
    try {
      monthly = price(variantProfile);
    } catch (e) {
      refused.push(`${label}: ${(e as Error).message}`);
      continue;
    }
    const served = replicas * perReplica;
    variants.push({
      replicas,
      workersPerReplica: size.workers,
      vcpuPerReplica: size.vcpu,
      memoryMiBPerReplica: size.memoryMiB,
      capacity: Math.round(served),
      headroomPercent: Math.round((served / request.requestsPerSecond - 1) * 1000) / 10,
      monthly,
    });
  }
  // Equal cost: more replicas first (a lost one takes less capacity with it).
  variants.sort((a, b) => a.monthly - b.monthly || b.replicas - a.replicas || b.headroomPercent - a.headroomPercent);
  if (variants.length === 0) throw new UserError(`no variant of profile ${profile.name} serves ${request.requestsPerSecond} req/s: ${refused.join('; ')}`);
  return { request, profile: profile.name, capacity, minHeadroomPercent, variants, refused };
}

const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function renderPlan(a: PlanAnswer, format: 'table' | 'json'): string {
  if (format === 'json') return JSON.stringify(a, null, 2);
  const c = a.capacity;
  const rows = [
    ['', 'replicas', 'workers', 'vCPU', 'memory MiB', 'capacity req/s', 'headroom', 'monthly'],
    ...a.variants.map((v, i) => [i === 0 ? 'cheapest' : '', String(v.replicas), String(v.workersPerReplica), String(v.vcpuPerReplica), String(v.memoryMiBPerReplica), v.capacity.toLocaleString('en-US'), `${v.headroomPercent}%`, usd(v.monthly)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
  return [
    `${a.request.requestsPerSecond.toLocaleString('en-US')} req/s at p95 < ${a.request.p95Ms} ms on ${a.request.target === 'aws' ? 'AWS' : 'Kubernetes (EKS)'}, from profile ${a.profile}`,
    `sized for at least ${a.minHeadroomPercent}% headroom above the rate`,
    `measured: ${Math.round(c.perWorker).toLocaleString('en-US')} req/s per worker (${c.run.scenario}: ${Math.round(c.run.perSecond).toLocaleString('en-US')} req/s on ${c.run.replicas} × ${c.run.workersPerReplica} workers, p95 ${c.run.p95Ms} ms)`,
    '',
    ...lines,
    ...(a.refused.length ? ['', 'not possible:', ...a.refused.map((r) => `  ${r}`)] : []),
  ].join('\n');
}
