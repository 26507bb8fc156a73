/**
 * Load-test scenarios, defined once as data: every runner (the local Node generator, the k6
 * script for clusters and AWS) reads the same scenario. Built-ins below; users add their own as
 * JSON or YAML files, validated like profiles (every problem listed, unknown keys refused).
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { describeIssues } from '../profile/load.ts';

/** What one request does; each runner turns these into real requests the same way. */
export const requestKindSchema = z.enum([
  /** GET /api/status: no database, no cache. */
  'status',
  /** GET /api/users/:id over the seeded key space: the two-layer cache, Postgres on a miss. */
  'read',
  /** POST /api/events with a seeded API key and a unique Idempotency-Key: a committed write. */
  'write',
]);
export type RequestKind = z.infer<typeof requestKindSchema>;

const stageSchema = z.strictObject({
  /** How long this stage lasts. */
  durationSeconds: z.number().positive().max(86_400),
  /** Open connections (virtual users) during the stage. */
  connections: z.number().int().min(1).max(10_000),
});

export const thresholdsSchema = z.strictObject({
  p50Ms: z.number().positive().optional(),
  p95Ms: z.number().positive().optional(),
  p99Ms: z.number().positive().optional(),
  /** Share of requests that fail (non-2xx or a socket error), in percent. */
  errorRatePercent: z.number().min(0).max(100).optional(),
  /** Throughput at least this, over the whole run. */
  minRequestsPerSecond: z.number().positive().optional(),
});
export type Thresholds = z.infer<typeof thresholdsSchema>;

export const scenarioSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be lowercase letters, digits and dashes' }),
    description: z.string(),
    /** Run this long (or give `requests`, or `stages`). */
    durationSeconds: z.number().positive().max(86_400).optional(),
    /** Stop after this many requests. */
    requests: z.number().int().positive().optional(),
    /** Connections held open for the whole run (when there are no stages). */
    connections: z.number().int().min(1).max(10_000),
    /** A fixed arrival rate in requests/s over all connections; absent: as fast as the target answers. */
    rate: z.number().positive().optional(),
    /** Ramp: connections change stage by stage (the run lasts their sum). */
    stages: z.array(stageSchema).min(1).max(50).optional(),
    /**
     * Seconds of load before the measured run (JIT and caches warming): sent and shown on the
     * timeline, left out of totals, percentiles and thresholds. Default: DEFAULT_WARMUP_SECONDS
     * for a closed-loop run bounded by time, 0 for a request count or a fixed rate.
     */
    warmupSeconds: z.number().min(0).max(3600).optional(),
    /** The request mix: weights are relative. */
    mix: z.array(z.strictObject({ kind: requestKindSchema, weight: z.number().positive() })).min(1),
    /** Done once per run, before any runner starts: users to read, API keys to write with. */
    setup: z
      .strictObject({
        users: z.number().int().min(0).max(1_000_000).optional(),
        apiKeys: z.number().int().min(0).max(10_000).optional(),
      })
      .optional(),
    /** Runners in a cluster (k6 Job parallelism, ECS tasks); the local runner is one. */
    parallelism: z.number().int().min(1).max(100).optional(),
    thresholds: thresholdsSchema,
  })
  .superRefine((s, ctx) => {
    const lengths = [s.durationSeconds !== undefined, s.requests !== undefined, s.stages !== undefined].filter(Boolean).length;
    if (lengths !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of durationSeconds, requests or stages (how long the run lasts)' });
    const kinds = new Set(s.mix.map((m) => m.kind));
    if (kinds.has('read') && !s.setup?.users) ctx.addIssue({ code: 'custom', path: ['setup', 'users'], message: 'a mix with "read" needs setup.users (the key space to read)' });
    if (kinds.has('write') && !s.setup?.apiKeys) ctx.addIssue({ code: 'custom', path: ['setup', 'apiKeys'], message: 'a mix with "write" needs setup.apiKeys (events are written with an API key)' });
  });

export type Scenario = z.output<typeof scenarioSchema>;

const STANDARD_THRESHOLDS = { p95Ms: 50, errorRatePercent: 0.1 } as const;

/** A read-heavy API: 80% cached reads, 15% status, 5% writes, with what they need seeded. */
const TYPICAL_MIX = {
  mix: [
    { kind: 'read', weight: 80 },
    { kind: 'status', weight: 15 },
    { kind: 'write', weight: 5 },
  ],
  setup: { users: 10_000, apiKeys: 200 },
} satisfies Pick<Scenario, 'mix' | 'setup'>;

export const BUILTIN_SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
  status: {
    name: 'status',
    description: 'GET /api/status: the request path alone (nginx, a worker, no database).',
    durationSeconds: 10,
    connections: 50,
    mix: [{ kind: 'status', weight: 1 }],
    thresholds: STANDARD_THRESHOLDS,
  },
  read: {
    name: 'read',
    description: 'Cached user reads over 10,000 seeded users: the two-layer cache, Postgres on a miss.',
    durationSeconds: 10,
    connections: 50,
    mix: [{ kind: 'read', weight: 1 }],
    setup: { users: 10_000 },
    thresholds: STANDARD_THRESHOLDS,
  },
  write: {
    name: 'write',
    description: 'POST /api/events with valid API keys and unique idempotency keys: committed writes.',
    durationSeconds: 10,
    connections: 50,
    mix: [{ kind: 'write', weight: 1 }],
    // Writes are spread over keys so the per-key rate limit (api.rateLimitPerMinute) is not what is measured.
    setup: { apiKeys: 200 },
    thresholds: { p95Ms: 100, errorRatePercent: 0.1 },
  },
  mixed: {
    name: 'mixed',
    description: 'A typical read-heavy API: 80% cached reads, 15% status, 5% writes.',
    durationSeconds: 20,
    connections: 50,
    ...TYPICAL_MIX,
    thresholds: STANDARD_THRESHOLDS,
  },
  spike: {
    name: 'spike',
    description: 'From 20 to 100 connections and back: what a sudden burst does to latency and errors.',
    connections: 20,
    stages: [
      { durationSeconds: 5, connections: 20 },
      { durationSeconds: 10, connections: 100 },
      { durationSeconds: 5, connections: 20 },
    ],
    mix: [
      { kind: 'read', weight: 90 },
      { kind: 'status', weight: 10 },
    ],
    setup: { users: 10_000 },
    thresholds: { p95Ms: 200, errorRatePercent: 0.1 },
  },
  soak: {
    name: 'soak',
    description: 'Thirty minutes at a steady, moderate rate: leaks show as latency or memory creeping up.',
    durationSeconds: 1800,
    connections: 20,
    rate: 500,
    ...TYPICAL_MIX,
    thresholds: STANDARD_THRESHOLDS,
  },
});

export function builtinScenarioNames(): string[] {
  return Object.keys(BUILTIN_SCENARIOS);
}

/** A built-in scenario by name, or a JSON/YAML scenario file; every problem in one clear error. */
export function loadScenario(ref: string, cwd: string = process.cwd()): Scenario {
  const builtin = BUILTIN_SCENARIOS[ref];
  if (builtin) return builtin;
  const ext = extname(ref).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    throw new UserError(`unknown scenario "${ref}"; built-in scenarios are ${builtinScenarioNames().join(', ')}, or pass a path to a .json/.yaml file`);
  }
  const path = resolve(cwd, ref);
  if (!existsSync(path)) throw new UserError(`scenario file not found: ${ref}`);
  let data: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    data = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UserError(`scenario ${ref} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return parseScenario(data, ref);
}

export function parseScenario(data: unknown, label: string): Scenario {
  const parsed = scenarioSchema.safeParse(data);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, data, scenarioSchema);
    throw new UserError(`scenario ${label} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return parsed.data;
}

/** How long a scenario runs, if it is bounded by time. */
export function scenarioDurationSeconds(s: Scenario): number | undefined {
  if (s.stages) return s.stages.reduce((sum, st) => sum + st.durationSeconds, 0);
  return s.durationSeconds;
}

/** The warm-up a closed-loop run bounded by time gets unless it says otherwise. */
export const DEFAULT_WARMUP_SECONDS = 3;

/** The scenario's warm-up: its own, or the default for its kind of run (none for a request count or a fixed rate). */
export function warmupSecondsOf(s: Scenario): number {
  if (s.warmupSeconds !== undefined) return s.warmupSeconds;
  return s.requests === undefined && s.rate === undefined ? DEFAULT_WARMUP_SECONDS : 0;
}

/** What the command line may change in a scenario for one run. */
export interface ScenarioOverrides {
  /** Run this long instead; a ramp keeps its shape, each stage scaled to fit. */
  readonly durationSeconds?: number;
  /** Stop after this many requests instead. */
  readonly requests?: number;
  /** Hold this many connections; a ramp keeps its shape, scaled from its first stage. */
  readonly connections?: number;
  readonly rate?: number;
  /** Seconds of warm-up before the measured run (0: none). */
  readonly warmupSeconds?: number;
}

/** The scenario with the overrides applied, validated again (a UserError if the result is not a valid scenario). */
export function withOverrides(s: Scenario, o: ScenarioOverrides): Scenario {
  if (o.durationSeconds !== undefined && o.requests !== undefined) throw new UserError('give --duration or --requests, not both');
  let next: Record<string, unknown> = { ...s };
  if (o.connections !== undefined) {
    const factor = o.connections / (s.stages?.[0]?.connections ?? s.connections);
    next.connections = o.connections;
    if (s.stages) next.stages = s.stages.map((st) => ({ ...st, connections: Math.max(1, Math.round(st.connections * factor)) }));
  }
  const stages = next.stages as Scenario['stages'];
  if (o.durationSeconds !== undefined) {
    if (stages) {
      const total = stages.reduce((sum, st) => sum + st.durationSeconds, 0);
      next.stages = stages.map((st) => ({ ...st, durationSeconds: Number(((st.durationSeconds * o.durationSeconds!) / total).toFixed(3)) }));
    } else {
      next = { ...next, durationSeconds: o.durationSeconds, requests: undefined };
    }
  }
  if (o.requests !== undefined) next = { ...next, requests: o.requests, durationSeconds: undefined, stages: undefined };
  if (o.rate !== undefined) next.rate = o.rate;
  if (o.warmupSeconds !== undefined) next.warmupSeconds = o.warmupSeconds;
  const clean = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined));
  return parseScenario(clean, `${s.name} (with the command line's changes)`);
}

/** The scenario `--loadtest` names, with `--parallelism` (runners) overriding its own; validated like a scenario file. */
export function loadTestScenario(ref: string | undefined, parallelism: string | undefined): Scenario | undefined {
  if (ref === undefined) {
    if (parallelism !== undefined) throw new UserError('--parallelism applies to --loadtest SCENARIO: name the scenario to run');
    return undefined;
  }
  const scenario = loadScenario(ref);
  if (parallelism === undefined) return scenario;
  if (!/^\d+$/.test(parallelism)) throw new UserError(`--parallelism must be a whole number of runners, got "${parallelism}"`);
  return parseScenario({ ...scenario, parallelism: Number(parallelism) }, `${ref} with --parallelism ${parallelism}`);
}
