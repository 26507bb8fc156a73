/**
 * The load-test report: one JSON shape every output format is rendered from, and the contract
 * other tools read (`apistack plan`, `apistack loadtest compare`, dashboards):
 *
 *   {scenario, target, profile?, startedAt, durationSeconds, connections,
 *    requests: {total, perSecond}, latencyMs: {p10, p25, p50, p75, p90, p95, p99, max, mean},
 *    histogram: [{fromMs, toMs, count}], statusCodes: {"200": n}, errors: {kind: n}, successRate,
 *    thresholds: [{name, limit, actual, passed}], cost?: {perHour, perMillionRequests}}
 *
 * plus fields that only add to it (timeline, mix, setup, warmup, ...), and
 *   generator: {engine, cpuPercent, eventLoopDelayP99Ms, runQueuePercent?, saturated}
 * (reports before it named the engine alone, as a string: readers accept both). Fields are never
 * removed; a new one is optional for readers. Totals, percentiles and thresholds are of the
 * measured part: a warm-up is on the timeline only (points with warmup: true).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { describeIssues } from '../profile/load.ts';
import { generatorSaturated } from './generator.ts';
import { isSuccess } from './recorder.ts';
import type { RunResult, TimelinePoint } from './runner.ts';
import type { Scenario, Thresholds } from './scenario.ts';

export const REPORT_VERSION = 1;

const count = z.number().int().min(0);
const ms = z.number().min(0);

const latencySchema = z.object({ p10: ms, p25: ms, p50: ms, p75: ms, p90: ms, p95: ms, p99: ms, max: ms, mean: ms });

export const thresholdResultSchema = z.object({
  /** The scenario's threshold key: p50Ms, p95Ms, p99Ms, errorRatePercent or minRequestsPerSecond. */
  name: z.string(),
  limit: z.number(),
  actual: z.number(),
  passed: z.boolean(),
  /** How actual is held against limit: `<=` for latency and errors, `>=` for throughput. */
  comparison: z.enum(['<=', '>=']).optional(),
});
export type ThresholdResult = z.infer<typeof thresholdResultSchema>;

const timelinePointSchema = z.object({
  t: z.number().min(0),
  seconds: z.number().min(0),
  requests: count,
  failed: count,
  requestsPerSecond: z.number().min(0),
  connections: count,
  latencyMs: z.object({ p50: ms, p95: ms, p99: ms, max: ms, mean: ms }),
  /** Within the warm-up: shown on the charts, in no total. */
  warmup: z.boolean().optional(),
});

/** The load generator and what the run cost it; saturated: it was the limit, the throughput a lower bound. */
export const generatorSchema = z.object({
  /** Which engine drove the load, with its version. */
  engine: z.string(),
  /** The generator's CPU over the run, in % of one core. */
  cpuPercent: z.number().min(0),
  /** p99 of its event loop's delay, ms (0 for an engine without one). */
  eventLoopDelayP99Ms: z.number().min(0),
  /** Time it waited for a core (run queue), in % of the run, where the system tells. */
  runQueuePercent: z.number().min(0).optional(),
  saturated: z.boolean(),
});
export type GeneratorReport = z.infer<typeof generatorSchema>;

/** Loose on purpose where extra fields may appear: readers accept reports from newer writers. */
export const reportSchema = z.object({
  version: z.number().int().optional(),
  scenario: z.string(),
  description: z.string().optional(),
  target: z.string(),
  /** The profile the target ran under, when known (cost and capacity planning need it). */
  profile: z.string().optional(),
  /** The API sizing that ran, when this run started the environment (--local). */
  environment: z.object({ apiReplicas: count, workersPerReplica: count, vcpuPerReplica: z.number().positive().optional() }).optional(),
  startedAt: z.string(),
  durationSeconds: z.number().min(0),
  /** The most connections held at once. */
  connections: count,
  /** The fixed arrival rate asked for, if any (requests/s). */
  rate: z.number().optional(),
  stages: z.array(z.object({ durationSeconds: z.number(), connections: count })).optional(),
  mix: z.array(z.object({ kind: z.string(), weight: z.number() })).optional(),
  /** The engine and its own load (reports before that field named the engine alone, as a string). */
  generator: z.union([generatorSchema, z.string()]).optional(),
  /** Load before the measured part (JIT, caches): its length and requests, in no total, percentile or threshold. */
  warmup: z.object({ seconds: z.number().min(0), requests: count }).optional(),
  /** Requests finished (answered with any status, or failed without an answer). */
  requests: z.object({
    total: count,
    perSecond: z.number().min(0),
    /** Answered requests by kind of the mix (status, read, write). */
    byKind: z.record(z.string(), count).optional(),
  }),
  /** Over every answered request, whatever its status. */
  latencyMs: latencySchema,
  histogram: z.array(z.object({ fromMs: ms, toMs: ms, count })),
  statusCodes: z.record(z.string(), count),
  /** Failed requests by kind: non-2xx, timeout, connection-reset, connection-refused, socket-<code>. */
  errors: z.record(z.string(), count),
  /** 2xx answers ÷ requests.total, from 0 to 1. */
  successRate: z.number().min(0).max(1),
  thresholds: z.array(thresholdResultSchema),
  /**
   * What the environment costs under its profile (lib/cost), and per million requests at the
   * measured throughput (null when nothing was answered).
   */
  cost: z
    .object({
      perHour: z.number().min(0),
      perMillionRequests: z.number().min(0).nullable(),
      target: z.string().optional(),
      apiReplicas: count.optional(),
      pricesAsOf: z.string().optional(),
    })
    .optional(),
  setup: z.object({ users: count, apiKeys: count, seconds: z.number().min(0) }).optional(),
  /** Per second of the run: throughput, failures and latency, for the plots. */
  timeline: z.array(timelinePointSchema).optional(),
  /** Stopped (Ctrl-C) before the scenario's end. */
  interrupted: z.boolean().optional(),
});
export type LoadTestReport = z.infer<typeof reportSchema> & { readonly timeline?: readonly TimelinePoint[] };

export interface ReportContext {
  readonly scenario: Scenario;
  readonly target: string;
  readonly profile?: string;
  readonly environment?: { readonly apiReplicas: number; readonly workersPerReplica: number; readonly vcpuPerReplica?: number };
  /** The environment's cost per hour, from lib/cost; per million requests is derived here. */
  readonly cost?: { readonly perHour: number; readonly target?: string; readonly apiReplicas?: number; readonly pricesAsOf?: string };
  readonly setup?: { readonly users: number; readonly apiKeys: number; readonly seconds: number };
  /** The engine that drove the load, with its version. */
  readonly generator?: string;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/** The failure rate of a report, in percent. */
export function errorRatePercent(r: Pick<LoadTestReport, 'successRate' | 'requests'>): number {
  return r.requests.total === 0 ? 0 : round((1 - r.successRate) * 100, 4);
}

const THRESHOLD_KINDS: Record<keyof Thresholds, { comparison: '<=' | '>='; actual: (r: LoadTestReport) => number }> = {
  p50Ms: { comparison: '<=', actual: (r) => r.latencyMs.p50 },
  p95Ms: { comparison: '<=', actual: (r) => r.latencyMs.p95 },
  p99Ms: { comparison: '<=', actual: (r) => r.latencyMs.p99 },
  errorRatePercent: { comparison: '<=', actual: (r) => errorRatePercent(r) },
  minRequestsPerSecond: { comparison: '>=', actual: (r) => r.requests.perSecond },
};

/**
 * Every threshold of the scenario against the measured run. A run with no request at all fails
 * every threshold: there is nothing that meets them.
 */
export function evaluateThresholds(thresholds: Thresholds, r: LoadTestReport): ThresholdResult[] {
  return (Object.keys(THRESHOLD_KINDS) as (keyof Thresholds)[])
    .filter((name) => thresholds[name] !== undefined)
    .map((name) => {
      const kind = THRESHOLD_KINDS[name];
      const limit = thresholds[name]!;
      const actual = kind.actual(r);
      const passed = r.requests.total > 0 && (kind.comparison === '<=' ? actual <= limit : actual >= limit);
      return { name, limit, actual, passed, comparison: kind.comparison };
    });
}

/** The environment's cost, and per million requests at the measured throughput. */
export function reportCost(cost: NonNullable<ReportContext['cost']>, perSecond: number): NonNullable<LoadTestReport['cost']> {
  return {
    perHour: round(cost.perHour, 4),
    perMillionRequests: perSecond > 0 ? round((cost.perHour / (perSecond * 3600)) * 1e6, 4) : null,
    ...(cost.target ? { target: cost.target } : {}),
    ...(cost.apiReplicas !== undefined ? { apiReplicas: cost.apiReplicas } : {}),
    ...(cost.pricesAsOf ? { pricesAsOf: cost.pricesAsOf } : {}),
  };
}

export function buildReport(run: RunResult, ctx: ReportContext): LoadTestReport {
  const total = run.responses + run.socketErrors;
  const ok = Object.entries(run.statusCodes).reduce((sum, [code, n]) => sum + (isSuccess(code) ? n : 0), 0);
  const perSecond = round(total / run.durationSeconds, 2);
  const h = run.latency;
  const s = ctx.scenario;
  const base: LoadTestReport = {
    version: REPORT_VERSION,
    scenario: s.name,
    description: s.description,
    target: ctx.target,
    ...(ctx.profile !== undefined ? { profile: ctx.profile } : {}),
    ...(ctx.environment ? { environment: { ...ctx.environment } } : {}),
    startedAt: run.startedAt.toISOString(),
    durationSeconds: round(run.durationSeconds),
    connections: run.connections,
    ...(s.rate !== undefined ? { rate: s.rate } : {}),
    ...(run.stages ? { stages: run.stages.map((st) => ({ ...st })) } : {}),
    mix: s.mix.map((m) => ({ ...m })),
    generator: {
      engine: ctx.generator ?? 'apistack loadtest',
      cpuPercent: run.generator.cpuPercent,
      eventLoopDelayP99Ms: run.generator.eventLoopDelayP99Ms,
      ...(run.generator.runQueuePercent !== undefined ? { runQueuePercent: run.generator.runQueuePercent } : {}),
      saturated: generatorSaturated(run.generator),
    },
    ...(run.warmup.seconds > 0 ? { warmup: { seconds: round(run.warmup.seconds), requests: run.warmup.requests } } : {}),
    requests: { total, perSecond, byKind: { ...run.requestsByKind } as Record<string, number> },
    latencyMs: {
      p10: round(h.percentile(10)),
      p25: round(h.percentile(25)),
      p50: round(h.percentile(50)),
      p75: round(h.percentile(75)),
      p90: round(h.percentile(90)),
      p95: round(h.percentile(95)),
      p99: round(h.percentile(99)),
      max: round(h.max),
      mean: round(h.mean),
    },
    histogram: h.displayBuckets(),
    statusCodes: { ...run.statusCodes },
    errors: { ...run.errors },
    successRate: total === 0 ? 0 : round(ok / total, 6),
    thresholds: [],
    ...(ctx.cost ? { cost: reportCost(ctx.cost, perSecond) } : {}),
    ...(ctx.setup ? { setup: { users: ctx.setup.users, apiKeys: ctx.setup.apiKeys, seconds: round(ctx.setup.seconds, 2) } } : {}),
    timeline: run.timeline.map((p) => ({
      ...p,
      requestsPerSecond: round(p.requestsPerSecond, 1),
      latencyMs: { p50: round(p.latencyMs.p50), p95: round(p.latencyMs.p95), p99: round(p.latencyMs.p99), max: round(p.latencyMs.max), mean: round(p.latencyMs.mean) },
    })),
    ...(run.interrupted ? { interrupted: true } : {}),
  };
  return { ...base, thresholds: evaluateThresholds(s.thresholds, base) };
}

export function thresholdsPassed(r: Pick<LoadTestReport, 'thresholds'>): boolean {
  return r.thresholds.every((t) => t.passed);
}

/** A report written by `apistack loadtest --format json`, validated; clear errors otherwise. */
export function readReport(file: string): LoadTestReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `report not found: ${file}` : `cannot read report ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file} is not JSON (${(e as Error).message}); write reports with \`apistack loadtest --format json --out FILE\``);
  }
  const parsed = reportSchema.safeParse(data);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, data, reportSchema);
    throw new UserError(`${file} is not a load-test report (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return parsed.data;
}
