/**
 * The profile reference: every schema field documented (meaning, default or required, targets,
 * a unit for numbers), the documented defaults the ones a profile really gets, and the committed
 * docs/profile-reference.md exactly what the generator writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_NLB_SOURCE_CIDRS } from '../../charts/nginx.ts';
import { COMPONENT_ORDER } from '../../lib/cost/model.ts';
import { appEnvironment, PROMETHEUS_OPERATOR_DEFAULTS, resolveProfileLayer, USAGE_DEFAULTS, type ProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { documentationProblems, escapeCell, REFERENCE_COMMAND, REFERENCE_PATH, referenceFields, referenceSections, renderProfileReference } from '../../lib/profile/reference.ts';
import { COST_COMPONENTS, FIELD_TARGETS, fieldDoc, profileSchema } from '../../lib/profile/schema.ts';

const root = join(import.meta.dirname, '..', '..');

type Json = { type?: string; properties?: Record<string, Json>; items?: Json; anyOf?: Json[] };

/** Leaf paths from the JSON Schema zod emits: a walk independent of the generator's own. */
function jsonSchemaLeaves(s: Json, path: string): string[] {
  if (s.type === 'object' && s.properties) return Object.entries(s.properties).flatMap(([k, v]) => jsonSchemaLeaves(v, path ? `${path}.${k}` : k));
  const entries = s.type === 'array' && s.items?.type === 'object' && s.items.properties ? jsonSchemaLeaves(s.items, `${path}[]`) : [];
  return [path, ...entries];
}

describe('docs/profile-reference.md', () => {
  it('is what the generator writes from the schema', () => {
    const committed = readFileSync(join(root, REFERENCE_PATH), 'utf8');
    expect(committed, `${REFERENCE_PATH} differs from what lib/profile/schema.ts generates; run \`${REFERENCE_COMMAND}\` and commit the result`).toBe(renderProfileReference());
  });

  it('has one row per schema field, each with as many cells as the header', () => {
    const text = renderProfileReference();
    const rows = text.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows).toHaveLength(referenceFields().length);
    // Unescaped pipes delimit cells: a pipe left in a regex or description would add one.
    const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    const header = cells(text.split('\n').find((l) => l.startsWith('| Field'))!);
    expect(rows.filter((r) => cells(r) !== header)).toEqual([]);
    for (const f of referenceFields()) expect(text).toContain(`| \`${f.path}\` |`);
  });

  it('has a section per profile object, the nested ones included', () => {
    const titles = referenceSections().map((s) => s.title);
    expect(titles).toEqual(['Top level', 'api', 'api.scheduledScaling[]', 'postgres', 'redis', 'nginx', 'monitoring', 'monitoring.slo', 'monitoring.alerts', 'kubernetes', 'network', 'purchase', 'usage']);
    const text = renderProfileReference();
    for (const t of titles) expect(text).toContain(`\n## ${t}\n`);
  });
});

describe('the schema documentation', () => {
  it('documents every leaf field: a description, a default or "required", the targets, a unit for numbers', () => {
    expect(documentationProblems()).toEqual([]);
  });

  it('covers every field the schema has', () => {
    const fromJsonSchema = jsonSchemaLeaves(z.toJSONSchema(profileSchema, { io: 'input', unrepresentable: 'any' }) as Json, '');
    expect(referenceFields().map((f) => f.path)).toEqual(fromJsonSchema);
  });

  it('names only known targets, in every field', () => {
    const targets = new Set(referenceFields().flatMap((f) => f.doc?.targets ?? []));
    expect([...targets].sort()).toEqual([...FIELD_TARGETS].sort());
  });

  it('names cost components the cost model has', () => {
    expect([...COST_COMPONENTS]).toEqual([...COMPONENT_ORDER]);
    const named = new Set(referenceFields().flatMap((f) => f.doc?.cost ?? []));
    expect([...named].filter((c) => !COMPONENT_ORDER.includes(c))).toEqual([]);
  });

  it('reports what a field lacks', () => {
    const doc = (description: string, rest: object = {}) => ({ description, targets: ['aws'], ...rest });
    const schema = z.strictObject({
      undocumented: z.string(),
      noDefault: z.string().optional().meta(doc('optional without a default')),
      requiredWithDefault: z.string().meta(doc('required', { default: 'x' })),
      noUnit: z.number().meta(doc('a number')),
      noTargets: z.boolean().meta({ description: 'read by nobody', targets: [] }),
      badTarget: z.boolean().meta({ description: 'read by a target that does not exist', targets: ['gcp'] }),
      blank: z.boolean().meta({ description: ' ', targets: ['k8s'] }),
      pricedNowhere: z.boolean().meta({ description: 'priced, but in no component', targets: ['cost'] }),
      componentsWithoutCost: z.boolean().meta({ description: 'components, but not the cost target', targets: ['aws'], cost: ['Database'] }),
      fine: z.number().optional().meta(doc('documented', { unit: 'seconds', default: 1 })),
      nested: z.strictObject({ inner: z.string() }),
    });
    const problems = documentationProblems(schema);
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(['undocumented', 'noDefault', 'requiredWithDefault', 'noUnit', 'noTargets', 'badTarget', 'blank', 'pricedNowhere', 'componentsWithoutCost', 'nested.inner']);
    expect(problems.find((p) => p.startsWith('badTarget'))).toContain('"gcp"');
  });

  it('leaves parsing and error messages as they were: metadata is not validation', () => {
    const field = profileSchema.shape.api.shape.replicasMin;
    expect(fieldDoc(field)?.unit).toBe('replicas');
    const issue = profileSchema.shape.api.shape.workersPerReplica.safeParse(0).error?.issues[0];
    expect(issue?.code).toBe('too_small');
    expect(profileSchema.shape.api.shape.imageTag.safeParse('latest').error?.issues[0]?.message).toBe('must be a pinned tag, not "latest"');
    expect(profileSchema.shape.nginx.shape.accessLog.parse(true)).toBe('all');
  });
});

describe('the documented defaults', () => {
  const resolve = (layer: ProfileLayer): ResolvedProfile => resolveProfileLayer({ extends: 'optimized', ...layer });
  /** For each field with a literal default: the value a profile that omits it ends up with. */
  const EFFECTIVE: Record<string, () => unknown> = {
    'api.cacheWarmupKeys': () => Number(appEnvironment(resolve({ api: { cacheWarmupKeys: null } })).CACHE_WARMUP_KEYS),
    'api.dbAcquireTimeoutMs': () => resolve({ api: { dbAcquireTimeoutMs: null } }).derived.api.dbAcquireTimeoutMs,
    'api.statementTimeoutMs': () => resolve({ api: { statementTimeoutMs: null } }).derived.api.statementTimeoutMs,
    'postgres.deletionProtection': () => resolve({ postgres: { deletionProtection: null } }).derived.postgres.deletionProtection,
    'postgres.k8sMode': () => resolve({ postgres: { k8sMode: null } }).derived.kubernetes.postgresMode,
    'redis.k8sMode': () => resolve({ redis: { k8sMode: null } }).derived.kubernetes.redisMode,
    'nginx.rateLimitExemptCidrs': () => resolve({ nginx: { rateLimitExemptCidrs: null } }).derived.nginx.rateLimitExemptCidrs,
    'nginx.upstreamKeepaliveTimeoutSeconds': () => resolve({ nginx: { upstreamKeepaliveTimeoutSeconds: null } }).derived.nginx.upstreamKeepaliveTimeoutSeconds,
    'monitoring.logRetentionDays': () => resolve({ monitoring: { logRetentionDays: null } }).derived.monitoring.logRetentionDays,
    'monitoring.operatorSelectorLabels': () => PROMETHEUS_OPERATOR_DEFAULTS.selectorLabels,
    'monitoring.operatorPrometheusNamespace': () => PROMETHEUS_OPERATOR_DEFAULTS.prometheusNamespace,
    'monitoring.operatorPrometheusPodLabels': () => PROMETHEUS_OPERATOR_DEFAULTS.prometheusPodLabels,
    'kubernetes.storageVolumeType': () => resolve({ kubernetes: { storageVolumeType: null } }).derived.kubernetes.storageVolumeType,
    'kubernetes.awsNlbSourceCidrs': () => [...DEFAULT_NLB_SOURCE_CIDRS],
    ...Object.fromEntries(Object.keys(USAGE_DEFAULTS).map((k) => [`usage.${k}`, () => resolve({ usage: { [k]: null } }).derived.usage[k as keyof typeof USAGE_DEFAULTS]])),
  };
  /** Literal defaults applied where the field is used, with no derived value to compare. */
  const APPLIED_IN_PLACE = new Set([
    'api.scheduledScaling', // no schedules: `?? []` in lib/aws/api.ts
    'api.scheduledScaling[].timeZone', // Application Auto Scaling reads a schedule without a zone as UTC
    'kubernetes.storageEncrypted', // `?? true` where charts/data.ts writes the StorageClass
    'kubernetes.ipFamily', // `?? 'ipv4'` in charts/nginx.ts
    'network.interfaceEndpoints', // undefined is false wherever it is tested
  ]);

  const literal = referenceFields().filter((f) => f.doc?.default !== undefined);

  it('every literal default is checked against what a profile gets, or named as applied in place', () => {
    expect(literal.map((f) => f.path).filter((p) => !(p in EFFECTIVE) && !APPLIED_IN_PLACE.has(p))).toEqual([]);
    expect([...Object.keys(EFFECTIVE), ...APPLIED_IN_PLACE].filter((p) => !literal.some((f) => f.path === p))).toEqual([]);
  });

  it.each(Object.keys(EFFECTIVE))('%s: the documented default is the value used when it is omitted', (path) => {
    const documented = literal.find((f) => f.path === path)?.doc?.default;
    expect(EFFECTIVE[path]!()).toEqual(documented);
  });

  it('derived defaults state their rule, and the rule matches derive() for workersPerReplica and containerStopTimeoutSeconds', () => {
    const derived = referenceFields().filter((f) => !f.required && f.doc?.default === undefined);
    expect(derived.every((f) => (f.doc?.defaultText ?? '').length > 0)).toBe(true);
    const p = resolve({ api: { workersPerReplica: null, vcpuPerReplica: 4, memoryMiBPerReplica: 8192, preStopDelaySeconds: 20, gracefulTimeoutSeconds: 30, containerStopTimeoutSeconds: null, terminationGracePeriodSeconds: null } });
    expect(p.derived.api.workersPerReplica).toBe(4); // floor(vcpuPerReplica)
    expect(p.derived.api.containerStopTimeoutSeconds).toBe(20 + 30 + 5); // max(preStopDelaySeconds, 15) + graceful + 5
    expect(p.derived.api.terminationGracePeriodSeconds).toBe(20 + 30 + 5 + 5);
    const short = resolve({ api: { preStopDelaySeconds: 2, containerStopTimeoutSeconds: null } });
    expect(short.derived.api.containerStopTimeoutSeconds).toBe(15 + short.api.gracefulTimeoutSeconds + 5);
  });

  it('the derived nginx and ALB defaults follow their stated rules', () => {
    const p = resolve({ api: { workersPerReplica: 2, maxInFlightPerWorker: 50, autoscalingRequestsPerTargetPerMinute: null, autoscalingCpuTargetPercent: 65, preStopDelaySeconds: 7 }, nginx: { replicasMin: 3, replicasMax: 4, maxFails: null, autoscalingCpuTargetPercent: null, preStopDelaySeconds: null } });
    expect(p.derived.nginx.maxFails).toBe(Math.ceil((2 * 50) / 3) + 1); // max_conns + 1
    expect(p.derived.api.autoscalingRequestsPerTargetPerMinute).toBe(2 * 30000);
    expect(p.derived.nginx.autoscalingCpuTargetPercent).toBe(65);
    expect(p.derived.nginx.preStopDelaySeconds).toBe(7);
    expect(p.derived.api.workersPerReplica).toBe(2);
  });
});

describe('table cells', () => {
  it('escape pipes inside and outside code spans, and < outside them only', () => {
    expect(escapeCell('a | b')).toBe('a \\| b');
    expect(escapeCell('pattern `^(a|b)$`')).toBe('pattern `^(a\\|b)$`');
    expect(escapeCell('"<namespace>-<type>" or `<id>`')).toBe('"\\<namespace>-\\<type>" or `<id>`');
    expect(escapeCell('two\nlines')).toBe('two lines');
  });
});
