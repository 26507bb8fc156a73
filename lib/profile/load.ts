/**
 * Resolving a profile: a built-in name or a JSON/YAML file, `extends` chains merged,
 * validated once (every problem in one error), derived values computed, then frozen.
 */
import { readFileSync, existsSync } from 'node:fs';
import { extname, resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { BUILTIN_PROFILES, builtinProfileNames, type ProfileLayer } from './builtins.ts';
import { derive, type Derived } from './derive.ts';
import { checkInvariants, type InvariantTarget } from './invariants.ts';
import { ProfileError, suggest } from './errors.ts';
import { profileSchema, type Profile } from './schema.ts';

export type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** A validated, frozen profile with its derived values. */
export type ResolvedProfile = DeepReadonly<Profile> & {
  readonly derived: Derived;
  /** Where it came from: "builtin:optimized" or a file path, then what it extends. */
  readonly source: readonly string[];
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, anything else replaces; `null` removes the key (back to its default). */
export function mergeLayers(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = mergeLayers(out[key] as Record<string, unknown>, value);
    else out[key] = value;
  }
  return out;
}

function looksLikeFile(ref: string): boolean {
  return /[\\/]/.test(ref) || /\.(ya?ml|json)$/i.test(ref);
}

/** Read a JSON or YAML profile file into a layer, with parse errors that point at the line. */
export function readProfileFile(path: string): ProfileLayer {
  const abs = resolvePath(path);
  if (!existsSync(abs)) throw new ProfileError(`profile file not found: ${path}`);
  const text = readFileSync(abs, 'utf8');
  let data: unknown;
  const ext = extname(abs).toLowerCase();
  try {
    if (ext === '.json') data = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') data = parseYaml(text, { prettyErrors: true });
    else throw new ProfileError(`profile file ${path} must end in .json, .yaml or .yml`);
  } catch (e) {
    if (e instanceof ProfileError) throw e;
    throw new ProfileError(`${path} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) throw new ProfileError(`${path} is empty: a profile is a mapping of fields; start it with \`extends: optimized\` (or another built-in profile) and override only what differs`);
  if (!isPlainObject(data)) throw new ProfileError(`${path}: a profile must be a mapping of fields, got ${Array.isArray(data) ? 'a list' : `a ${typeof data} (${show(data)})`}`);
  if (data.extends !== undefined && typeof data.extends !== 'string') {
    throw new ProfileError(`${path}: 'extends' must be the name of a built-in profile or a path to a profile file, got ${JSON.stringify(data.extends)}`);
  }
  return data as ProfileLayer;
}

function unknownProfile(ref: string): ProfileError {
  const hint = suggest(ref, builtinProfileNames());
  return new ProfileError(
    `unknown profile "${ref}"${hint ? ` (did you mean "${hint}"?)` : ''}; built-in profiles are ${builtinProfileNames().join(', ')}, or pass a path to a .json/.yaml file`,
  );
}

/** Flatten the extends chain of `ref` into one plain object, base first. */
function flatten(ref: string, relativeTo: string, seen: string[]): { data: Record<string, unknown>; source: string[] } {
  let layer: ProfileLayer;
  let key: string;
  let nextBase = relativeTo;
  if (!looksLikeFile(ref) && Object.hasOwn(BUILTIN_PROFILES, ref)) {
    layer = BUILTIN_PROFILES[ref]!;
    key = `builtin:${ref}`;
  } else if (looksLikeFile(ref)) {
    const abs = resolvePath(relativeTo, ref);
    layer = readProfileFile(abs);
    key = abs;
    nextBase = resolvePath(abs, '..');
  } else {
    throw unknownProfile(ref);
  }
  if (seen.includes(key)) throw new ProfileError(`profile 'extends' chain loops: ${[...seen, key].join(' -> ')}`);
  const { extends: parent, ...own } = layer;
  if (parent === undefined) return { data: structuredClone(own) as Record<string, unknown>, source: [key] };
  const base = flatten(parent, nextBase, [...seen, key]);
  return { data: mergeLayers(base.data, own as Record<string, unknown>), source: [key, ...base.source] };
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur = data;
  for (const k of path) {
    if (Array.isArray(cur)) cur = cur[k as number];
    else if (isPlainObject(cur)) cur = cur[k as string];
    else return undefined;
  }
  return cur;
}

function shapeKeysAt(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = root;
  for (const k of path) {
    const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
    if (!shape || !shape[k as string]) return [];
    schema = shape[k as string]!;
    // Unwrap optional wrappers to reach a nested object's shape.
    while ((schema as unknown as { unwrap?: () => z.ZodType }).unwrap && !(schema as unknown as { shape?: unknown }).shape) {
      schema = (schema as unknown as { unwrap: () => z.ZodType }).unwrap();
    }
  }
  return Object.keys((schema as unknown as { shape?: Record<string, unknown> }).shape ?? {});
}

/** The schema a path leads to, optional wrappers unwrapped; undefined when the path leaves the schema. */
function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  type Node = { shape?: Record<string, z.ZodType>; element?: z.ZodType; unwrap?: () => z.ZodType; def?: { type?: string } };
  const unwrap = (s: z.ZodType) => {
    let cur = s as unknown as Node;
    while (cur.unwrap && !cur.shape && cur.def?.type !== 'array') cur = cur.unwrap() as unknown as Node;
    return cur as unknown as z.ZodType;
  };
  let schema: z.ZodType | undefined = unwrap(root);
  for (const k of path) {
    const node = schema as unknown as Node;
    schema = typeof k === 'number' ? node.element : node.shape?.[k as string];
    if (!schema) return undefined;
    schema = unwrap(schema);
  }
  return schema;
}

/** "a finite number >= 0", "a whole number >= 1 and <= 256": what a number field accepts, from its schema's checks. */
function numberRange(root: z.ZodType, path: readonly PropertyKey[]): string {
  const schema = schemaAt(root, path) as unknown as { def?: { type?: string; checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string } } }[] } } | undefined;
  const checks = schema?.def?.type === 'number' ? (schema.def.checks ?? []).map((c) => c._zod.def) : [];
  const whole = checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
  const bounds = checks.flatMap((c) => (c.check === 'greater_than' ? [`${c.inclusive ? '>=' : '>'} ${c.value}`] : c.check === 'less_than' ? [`${c.inclusive ? '<=' : '<'} ${c.value}`] : []));
  return `${whole ? 'a whole' : 'a finite'} number${bounds.length ? ` ${bounds.join(' and ')}` : ''}`;
}

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  // JSON has no NaN or Infinity (YAML's .nan and .inf, JSON's 1e400): show them as they are, not as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Turn schema issues into "path: value — what is allowed" lines; `root` is the schema the data was checked against. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], data: unknown, root: z.ZodType = profileSchema): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path.join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const known = shapeKeysAt(root, issue.path);
      for (const key of issue.keys) {
        const hint = suggest(key, known);
        const full = [...issue.path, key].join('.');
        lines.push(`${full}: unknown field; ${hint ? `did you mean "${[...issue.path, hint].join('.')}"?` : `allowed here: ${known.join(', ')}`}`);
      }
      continue;
    }
    const value = valueAt(data, issue.path);
    let allowed = issue.message;
    if (issue.code === 'invalid_value') allowed = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    else if (issue.code === 'invalid_type' && typeof value === 'number' && !Number.isFinite(value)) allowed = `must be ${numberRange(root, issue.path)}`;
    else if (issue.code === 'invalid_type') allowed = value === undefined ? `required (${issue.expected})` : `must be ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}`;
    else if (issue.code === 'too_small') allowed = `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    else if (issue.code === 'too_big') allowed = `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    if (issue.code === 'too_small' || issue.code === 'too_big' || issue.code === 'custom' || issue.code === 'invalid_format') {
      if (issue.message && !issue.message.startsWith('Too') && !issue.message.startsWith('Invalid')) allowed = issue.message;
    }
    lines.push(`${path}: ${show(value)} — ${allowed}`);
  }
  return lines;
}

function deepFreeze<T>(obj: T): T {
  if (typeof obj === 'object' && obj !== null && !Object.isFrozen(obj)) {
    Object.freeze(obj);
    for (const v of Object.values(obj)) deepFreeze(v);
  }
  return obj;
}

function invalidProfile(label: string, problems: string[], hint = ''): ProfileError {
  return new ProfileError(`profile ${label} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}${hint}`, problems);
}

/**
 * Refuse a profile resolved for another target (or built by hand) that the given target cannot
 * deploy: the same problems, in the same words, as loading it for that target.
 */
export function assertDeployableOn(p: ResolvedProfile, target: InvariantTarget): void {
  const broken = checkInvariants(p, p.derived)
    .filter((problem) => problem.target === target)
    .map((problem) => `${problem.path}: ${problem.message}`);
  if (broken.length > 0) throw invalidProfile(p.name, broken);
}

/** Where a synthesized AWS template records the profile it was made from (template Metadata). */
export const PROFILE_METADATA_KEY = 'apistack:profile';

/** A resolved profile without what resolving adds (derived values, source), as JSON: resolveProfileData takes it back. */
export function profileData(p: ResolvedProfile): Record<string, unknown> {
  const { derived: _derived, source: _source, ...own } = p;
  return JSON.parse(JSON.stringify(own)) as Record<string, unknown>;
}

export interface ResolveOptions {
  /**
   * Check the profile for one deploy target only: the checks about the other target (its
   * Postgres's connection budget, AWS networking, the Kubernetes data services) are skipped. For
   * synthesizing, pricing or sizing one target; `profile validate` checks every target.
   * @default - every target
   */
  readonly target?: InvariantTarget;
}

/** Validate merged profile data; every problem is collected into one ProfileError. */
export function resolveProfileData(data: Record<string, unknown>, source: string[], label: string, opts: ResolveOptions = {}): ResolvedProfile {
  const parsed = profileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues, data);
    const missing = parsed.error.issues.filter((i) => i.code !== 'unrecognized_keys' && valueAt(data, i.path) === undefined).length;
    // Many missing fields and no `extends`: the likely fix is one line, so say it first.
    const hint =
      source.length === 1 && missing >= 3
        ? `\nhint: this profile extends nothing, so it must set every field; add \`extends: optimized\` (or ${builtinProfileNames().filter((n) => n !== 'optimized').join(', ')}) and override only what differs`
        : '';
    throw invalidProfile(label, problems, hint);
  }
  const profile = parsed.data;
  const derived = derive(profile);
  const broken = checkInvariants(profile, derived)
    .filter((p) => opts.target === undefined || p.target === undefined || p.target === opts.target)
    .map((p) => `${p.path}: ${p.message}`);
  if (broken.length > 0) {
    throw invalidProfile(label, broken);
  }
  return deepFreeze({ ...profile, derived, source }) as ResolvedProfile;
}

/**
 * Load a profile by built-in name or file path (JSON/YAML), following `extends`.
 * @param ref e.g. "optimized" or "./profiles/mine.yaml"
 */
export function loadProfile(ref: string, cwd: string = process.cwd(), opts: ResolveOptions = {}): ResolvedProfile {
  const { data, source } = flatten(ref, cwd, []);
  return resolveProfileData(data, source, looksLikeFile(ref) ? ref : `"${ref}"`, opts);
}

/** Resolve an in-memory layer (tests, programmatic use). */
export function resolveProfileLayer(layer: ProfileLayer, cwd: string = process.cwd(), opts: ResolveOptions = {}): ResolvedProfile {
  const { extends: parent, ...own } = layer;
  const base = parent === undefined ? { data: {}, source: [] as string[] } : flatten(parent, cwd, []);
  return resolveProfileData(mergeLayers(base.data, own as Record<string, unknown>), ['inline', ...base.source], String(own.name ?? 'inline'), opts);
}

export type { Json };
