/**
 * Capacity planning from measured runs: throughput per API worker at a latency threshold, then
 * the cheapest variant (replicas × workers × task size, and on Kubernetes the node type) that
 * serves a target rate under it.
 *
 * Pure: reports come in as data, and pricing is a function the caller passes (lib/cost), so this
 * module needs nothing but the profile.
 */
import { UserError } from '../errors.ts';
import type { LoadTestReport } from './report.ts';
import {
  EC2_FAMILIES,
  ec2Shape,
  FARGATE_VCPU,
  fargateMemoryRangeMiB,
  nodeAllocatable,
  resolveProfileLayer,
  type ResolvedProfile,
} from '../profile/index.ts';

/**
 * The fields of a load-test report (the JSON contract) that planning reads. `environment` is what
 * served the run when the runner recorded it; `rate` is set when the scenario drove a fixed
 * arrival rate.
 */
export type MeasuredRun = Pick<LoadTestReport, 'scenario' | 'profile' | 'successRate' | 'environment' | 'connections' | 'rate'> & Partial<Pick<LoadTestReport, 'generator'>> & {
  readonly requests: Pick<LoadTestReport['requests'], 'total' | 'perSecond'>;
  readonly latencyMs: Pick<LoadTestReport['latencyMs'], 'p95'>;
};

export interface PlanRequest {
  /** Requests per second the variant must serve. */
  readonly requestsPerSecond: number;
  /** p95 latency it must stay under, ms. */
  readonly p95Ms: number;
  readonly target: 'aws' | 'k8s';
  /** The scenario whose runs measure capacity. @default - the one scenario the runs share */
  readonly scenario?: string;
  /** Largest replica count considered. @default 100 */
  readonly maxReplicas?: number;
  /**
   * Capacity kept above the rate, in percent. @default what the profile's CPU autoscaling target
   * leaves (70% → 43%): the fleet then serves the rate at the utilization it is meant to run at.
   */
  readonly minHeadroomPercent?: number;
}

export interface WorkerCapacity {
  /** Requests per second one worker served within the threshold (the fastest qualifying run). */
  readonly perWorker: number;
  /** vCPU each worker had in that run. */
  readonly vcpuPerWorker: number;
  readonly run: {
    readonly scenario: string;
    readonly connections: number;
    readonly perSecond: number;
    readonly p95Ms: number;
    readonly replicas: number;
    readonly workersPerReplica: number;
    /** recorded: the report's environment; assumed: the report has none, see `assumption`. */
    readonly environment: 'recorded' | 'assumed';
  };
  /** What was assumed about the run used, when its report recorded no environment. */
  readonly assumption?: string;
  /**
   * A run at more connections missed the threshold, so the one used is the most the workers serve
   * within it as far as these runs tell. False: the workers may serve more; the plan errs toward
   * more capacity than needed.
   */
  readonly limitFound: boolean;
  /** Runs not used, and why. */
  readonly rejected: readonly string[];
}

export interface Variant {
  readonly replicas: number;
  readonly workersPerReplica: number;
  readonly vcpuPerReplica: number;
  readonly memoryMiBPerReplica: number;
  /** Kubernetes only: the node type the fleet runs on. */
  readonly nodeInstanceType?: string;
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
  /** Variants that would meet the rate but the profile's checks for the target refuse (connection budget, sizes). */
  readonly refused: readonly string[];
}

/** Only runs with no failed request count: a run that shed load measured its errors, not its capacity. */
const MIN_SUCCESS_RATE = 0.999;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The runs of one scenario: the one asked for, or the only one there is. */
function oneScenario(runs: readonly MeasuredRun[], scenario: string | undefined): string {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.scenario, (counts.get(r.scenario) ?? 0) + 1);
  const listed = [...counts].map(([name, n]) => `${name} (${plural(n, 'run')})`).join(', ');
  if (scenario !== undefined) {
    if (!counts.has(scenario)) throw new UserError(`no run of scenario "${scenario}": the reports are of ${listed}; pass --scenario with one of them`);
    return scenario;
  }
  if (counts.size > 1) {
    // A status request costs the workers a fraction of a write: pooled, the cheapest scenario wins and the plan is too small.
    throw new UserError(`the runs are of different scenarios: ${listed}; each serves a different rate per worker, so plan from one: pass --scenario ${[...counts.keys()].join(' or --scenario ')} (the one whose mix is like your traffic)`);
  }
  return runs[0]!.scenario;
}

/**
 * Throughput per worker at the threshold: the highest a run of the scenario served with p95 at or
 * under it and no failures. Runs at increasing connections find it; a run that missed the
 * threshold at more connections than the one used shows the limit lies between.
 */
export function workerCapacity(runs: readonly MeasuredRun[], profile: ResolvedProfile, p95Ms: number, scenario?: string): WorkerCapacity {
  if (runs.length === 0) throw new UserError('give at least one measured run');
  const chosen = oneScenario(runs, scenario);
  const rejected: string[] = [];
  const qualifying: { label: string; perWorker: number; vcpuPerWorker: number; run: WorkerCapacity['run']; assumption?: string }[] = [];
  const missed: number[] = [];
  let fixedRate = 0;
  let saturated = 0;
  for (const [i, r] of runs.entries()) {
    const label = `run ${i + 1} (${r.scenario}, ${plural(r.connections, 'connection')}, ${Math.round(r.requests.perSecond)} req/s, p95 ${r.latencyMs.p95} ms)`;
    if (r.scenario !== chosen) {
      rejected.push(`${label}: scenario ${r.scenario}, not ${chosen}`);
      continue;
    }
    // A fixed arrival rate measures the rate that was asked for, not the most the stack serves, so
    // it is no capacity figure. Not even a lower bound worth planning from: a soak at 500 req/s
    // that met the threshold would size a fleet for 500 req/s per measured fleet, far too large.
    if (r.rate !== undefined) {
      fixedRate++;
      rejected.push(`${label}: drove a fixed rate of ${r.rate} req/s, which measures that rate, not the most the stack serves`);
      continue;
    }
    // A saturated generator measured itself: every worker looks slower than it is, and the plan would buy too many replicas.
    if (typeof r.generator === 'object' && r.generator.saturated) {
      saturated++;
      rejected.push(`${label}: the load generator was saturated (${Math.round(r.generator.cpuPercent)}% of a core), so its throughput is a lower bound of the stack's, not its capacity`);
      continue;
    }
    if (r.latencyMs.p95 > p95Ms) {
      rejected.push(`${label}: p95 above ${p95Ms} ms`);
      missed.push(r.connections);
      continue;
    }
    if (r.successRate < MIN_SUCCESS_RATE) {
      rejected.push(`${label}: success rate ${(r.successRate * 100).toFixed(2)}% is below ${MIN_SUCCESS_RATE * 100}%`);
      missed.push(r.connections);
      continue;
    }
    const env = r.environment;
    // No environment (a remote target, where the autoscaler may have added replicas during the
    // run): assume the most replicas the profile allows. Per-worker throughput is then never
    // overstated, so the plan can only err toward more capacity, and the answer says so.
    const replicas = env?.apiReplicas ?? profile.api.replicasMax;
    const workers = env?.workersPerReplica ?? profile.derived.api.workersPerReplica;
    const vcpu = env?.vcpuPerReplica ?? profile.api.vcpuPerReplica;
    qualifying.push({
      label,
      perWorker: r.requests.perSecond / (replicas * workers),
      vcpuPerWorker: vcpu / workers,
      run: { scenario: r.scenario, connections: r.connections, perSecond: r.requests.perSecond, p95Ms: r.latencyMs.p95, replicas, workersPerReplica: workers, environment: env ? 'recorded' : 'assumed' },
      ...(env
        ? {}
        : {
            assumption: `run ${i + 1} recorded no environment (a remote target): assumed profile ${profile.name}'s most replicas, ${replicas} × ${plural(workers, 'worker')} of ${vcpu} vCPU, so throughput per worker is not overstated; a run that records its environment (apistack loadtest --local) gives the exact figure`,
          }),
    });
  }
  qualifying.sort((a, b) => b.perWorker - a.perWorker);
  const [best, ...slower] = qualifying;
  if (!best) {
    const scenarioRuns = runs.filter((r) => r.scenario === chosen).length;
    const how =
      fixedRate === scenarioRuns
        ? `measure capacity with a scenario that drives no fixed rate (e.g. read or mixed), at increasing --connections`
        : saturated > 0 && saturated + fixedRate === scenarioRuns
          ? 'measure again with a generator that keeps up: a faster engine (--engine wrk), more runners, or a generator on another machine than the stack'
          : `measure at fewer connections so the threshold holds`;
    throw new UserError(`no run of scenario ${chosen} meets p95 < ${p95Ms} ms with at least ${MIN_SUCCESS_RATE * 100}% success: ${rejected.join('; ')}; ${how}`);
  }
  for (const s of slower) rejected.push(`${s.label}: a faster run met the threshold`);
  return {
    perWorker: best.perWorker,
    vcpuPerWorker: best.vcpuPerWorker,
    run: best.run,
    ...(best.assumption ? { assumption: best.assumption } : {}),
    limitFound: missed.some((c) => c > best.run.connections),
    rejected,
  };
}

interface Size {
  readonly vcpu: number;
  readonly memoryMiB: number;
  readonly workers: number;
}

/**
 * Task (or pod) sizes tried: every vCPU size a profile accepts (Fargate's steps) from one worker's
 * share up, memory scaled like the profile's.
 */
function sizes(profile: ResolvedProfile, vcpuPerWorker: number): Size[] {
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

/** Node types tried per family: the smallest that holds an API pod, and the next (more pods per node, less reserved per pod). */
const NODE_SIZES_PER_FAMILY = 2;

/**
 * Kubernetes node types for an API pod of `size`: the profile's own, and from each non-burstable
 * family of the profile's CPU architecture (the image is built for it) the smallest sizes whose
 * allocatable CPU and memory hold one pod. Burstable t families are left out: a fleet sized to run
 * at its CPU target runs past their baseline and pays for surplus credits the catalog does not price.
 */
export function nodeTypesFor(profile: ResolvedProfile, size: Pick<Size, 'vcpu' | 'memoryMiB'>): string[] {
  const holds = (type: string) => {
    const shape = ec2Shape(type);
    if (!shape) return true; // a type apistack has no shape for: its price entry decides
    const a = nodeAllocatable(shape);
    return a.allocatableMillicores >= size.vcpu * 1000 && a.allocatableMiB >= size.memoryMiB;
  };
  const own = profile.kubernetes.nodeInstanceType;
  const types = holds(own) ? [own] : [];
  for (const [family, f] of Object.entries(EC2_FAMILIES)) {
    if (f.memoryGiBPerVcpu === undefined || f.architecture !== profile.api.cpuArchitecture) continue;
    types.push(...f.sizes.map((s) => `${family}.${s}`).filter(holds).slice(0, NODE_SIZES_PER_FAMILY));
  }
  return [...new Set(types)];
}

/**
 * Every variant that serves the rate, priced, cheapest first. `price` returns a profile's monthly
 * cost on the target; a variant the profile's checks for that target refuse is listed with the
 * reason (the other target's checks do not apply: a plan for AWS is not held to the Kubernetes
 * Postgres's connection budget).
 */
export function plan(runs: readonly MeasuredRun[], profile: ResolvedProfile, request: PlanRequest, price: (p: ResolvedProfile) => number): PlanAnswer {
  if (!(request.requestsPerSecond > 0)) throw new UserError(`--rps must be a positive number of requests per second, got ${request.requestsPerSecond}`);
  if (!(request.p95Ms > 0)) throw new UserError(`--p95 must be a positive number of milliseconds, got ${request.p95Ms}`);
  const capacity = workerCapacity(runs, profile, request.p95Ms, request.scenario);
  const maxReplicas = request.maxReplicas ?? 100;
  const minHeadroomPercent = request.minHeadroomPercent ?? Math.round((100 / profile.api.autoscalingCpuTargetPercent - 1) * 100);
  const needed = request.requestsPerSecond * (1 + minHeadroomPercent / 100);
  const variants: Variant[] = [];
  // Refusals by fleet and reason: one line names every node type refused for the same reason.
  const refusals = new Map<string, { fleet: string; reason: string; nodes: string[] }>();
  const refuse = (fleet: string, nodeInstanceType: string | undefined, reason: string) => {
    const key = `${fleet}\n${reason}`;
    const entry = refusals.get(key) ?? refusals.set(key, { fleet, reason, nodes: [] }).get(key)!;
    if (nodeInstanceType) entry.nodes.push(nodeInstanceType);
  };
  const candidates: { size: Size; nodeInstanceType?: string }[] = sizes(profile, capacity.vcpuPerWorker).flatMap((size) =>
    request.target === 'k8s' ? nodeTypesFor(profile, size).map((nodeInstanceType) => ({ size, nodeInstanceType })) : [{ size }],
  );
  if (request.target === 'k8s' && candidates.length === 0) {
    throw new UserError(`no node type holds an API pod of profile ${profile.name} (${capacity.vcpuPerWorker} vCPU per worker or more); set kubernetes.nodeInstanceType to a larger type`);
  }
  for (const { size, nodeInstanceType } of candidates) {
    const perReplica = capacity.perWorker * size.workers;
    // Never fewer replicas than the profile keeps for availability (a replica may be replaced or its AZ down).
    const replicas = Math.max(profile.api.replicasMin, Math.ceil(needed / perReplica - 1e-9));
    const fleet = `${replicas} × ${size.workers} workers × ${size.vcpu} vCPU/${size.memoryMiB} MiB`;
    if (replicas > maxReplicas) {
      refuse(fleet, nodeInstanceType, `more than ${maxReplicas} replicas`);
      continue;
    }
    let variantProfile: ResolvedProfile;
    try {
      variantProfile = resolveProfileLayer(
        {
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
          ...(nodeInstanceType ? { kubernetes: { nodeInstanceType } } : {}),
        },
        undefined,
        { target: request.target },
      );
    } catch (e) {
      // A profile error lists its problems one per line ("  - field: ..."): keep them, on one line.
      const problems = (e as Error).message.split('\n').slice(1).map((l) => l.trim().replace(/^- /, ''));
      refuse(fleet, nodeInstanceType, problems.join('; ') || (e as Error).message);
      continue;
    }
    let monthly: number;
    try {
      monthly = price(variantProfile);
    } catch (e) {
      refuse(fleet, nodeInstanceType, (e as Error).message);
      continue;
    }
    const served = replicas * perReplica;
    variants.push({
      replicas,
      workersPerReplica: size.workers,
      vcpuPerReplica: size.vcpu,
      memoryMiBPerReplica: size.memoryMiB,
      ...(nodeInstanceType ? { nodeInstanceType } : {}),
      capacity: Math.round(served),
      headroomPercent: Math.round((served / request.requestsPerSecond - 1) * 1000) / 10,
      monthly,
    });
  }
  const refused = [...refusals.values()].map((r) => `${r.fleet}${r.nodes.length ? ` on ${r.nodes.join(', ')}` : ''}: ${r.reason}`);
  // Equal cost: more replicas first (a lost one takes less capacity with it).
  variants.sort((a, b) => a.monthly - b.monthly || b.replicas - a.replicas || b.headroomPercent - a.headroomPercent);
  if (variants.length === 0) throw new UserError(`no variant of profile ${profile.name} serves ${request.requestsPerSecond} req/s: ${refused.join('; ')}`);
  return { request, profile: profile.name, capacity, minHeadroomPercent, variants, refused };
}

const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** Rows the table shows; the JSON holds every variant and every refusal. */
const TABLE_ROWS = 10;

export function renderPlan(a: PlanAnswer, format: 'table' | 'json'): string {
  if (format === 'json') return JSON.stringify(a, null, 2);
  const c = a.capacity;
  const k8s = a.request.target === 'k8s';
  const shown = a.variants.slice(0, TABLE_ROWS);
  const rows = [
    ['', 'replicas', 'workers', 'vCPU', 'memory MiB', ...(k8s ? ['node'] : []), 'capacity req/s', 'headroom', 'monthly'],
    ...shown.map((v, i) => [
      i === 0 ? 'cheapest' : '',
      String(v.replicas),
      String(v.workersPerReplica),
      String(v.vcpuPerReplica),
      String(v.memoryMiBPerReplica),
      ...(k8s ? [v.nodeInstanceType ?? ''] : []),
      v.capacity.toLocaleString('en-US'),
      `${v.headroomPercent}%`,
      usd(v.monthly),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
  const more = (n: number, what: string) => (n > 0 ? [`  ... ${n} more ${what} in --format json`] : []);
  return [
    `${a.request.requestsPerSecond.toLocaleString('en-US')} req/s at p95 < ${a.request.p95Ms} ms on ${k8s ? 'Kubernetes (EKS)' : 'AWS'}, from profile ${a.profile}`,
    `sized for at least ${a.minHeadroomPercent}% headroom above the rate`,
    `measured: ${Math.round(c.perWorker).toLocaleString('en-US')} req/s per worker (${c.run.scenario} at ${c.run.connections} connections: ${Math.round(c.run.perSecond).toLocaleString('en-US')} req/s on ${c.run.replicas} × ${c.run.workersPerReplica} workers${c.run.environment === 'assumed' ? ' (assumed)' : ''}, p95 ${c.run.p95Ms} ms)`,
    ...(c.assumption ? [`assumed: ${c.assumption}`] : []),
    ...(c.limitFound
      ? []
      : [`not at the limit: no run at more connections missed p95 < ${a.request.p95Ms} ms, so the workers may serve more within it and this plan errs toward more capacity; measure at more connections to find the limit`]),
    '',
    ...lines,
    ...more(a.variants.length - shown.length, 'variants'),
    ...(c.rejected.length ? ['', 'runs not used:', ...c.rejected.map((r) => `  ${r}`)] : []),
    ...(a.refused.length ? ['', 'not possible:', ...a.refused.slice(0, TABLE_ROWS).map((r) => `  ${r}`), ...more(a.refused.length - TABLE_ROWS, 'refusals')] : []),
  ].join('\n');
}
