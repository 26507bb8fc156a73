/**
 * The profile reference (docs/profile-reference.md), rendered from the schema's metadata: one
 * table per profile section with each field's type, unit, default, allowed range, the targets
 * that read it and its description. A pure renderer: bin/profile-reference.ts writes the file.
 */
import { z } from 'zod';
import { BUILTIN_PROFILES } from './builtins.ts';
import { COST_COMPONENTS, FIELD_TARGETS, fieldDoc, profileSchema, sectionDoc, type FieldDoc } from './schema.ts';

/** The command that regenerates docs/profile-reference.md. */
export const REFERENCE_COMMAND = 'npm run docs:reference';
/** Where the reference lives, relative to the repository root. */
export const REFERENCE_PATH = 'docs/profile-reference.md';

/** One documented leaf field (a value a profile sets, not an object holding more fields). */
export interface ReferenceField {
  /** Dotted path; `[]` marks the entries of a list, e.g. api.scheduledScaling[].name. */
  readonly path: string;
  readonly required: boolean;
  readonly schema: z.ZodType;
  /** Undefined when the field carries no documentation (documentationProblems reports it). */
  readonly doc: FieldDoc | undefined;
}

/** One object of the profile: its fields, in schema order. */
export interface ReferenceSection {
  /** Dotted path of the object ('' for the top level). */
  readonly path: string;
  readonly title: string;
  readonly description: string;
  readonly fields: readonly ReferenceField[];
}

type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType };

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The schema under optional, nullable, default and readonly wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let d = def(s); ['optional', 'nullable', 'default', 'prefault', 'readonly'].includes(d.type) && d.innerType; d = def(s)) s = d.innerType;
  return s;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = def(unwrap(schema));
  return d.type === 'object' ? d.shape : undefined;
}

/** The object schema a list holds, if it is a list of objects. */
function listedObject(schema: z.ZodType): z.ZodType | undefined {
  const d = def(unwrap(schema));
  return d.type === 'array' && d.element && objectShape(d.element) ? unwrap(d.element) : undefined;
}

/**
 * The sections of a profile schema, depth first in schema order: each object is a section, each
 * of its non-object fields a row; a list of objects is a row of its own section and a section of
 * its entries (`path[]`).
 */
export function referenceSections(root: z.ZodType = profileSchema): ReferenceSection[] {
  const sections: ReferenceSection[] = [];
  const visit = (schema: z.ZodType, path: string): void => {
    const shape = objectShape(schema)!;
    const meta = sectionDoc(unwrap(schema)) ?? sectionDoc(schema);
    const fields: ReferenceField[] = [];
    const nested: [z.ZodType, string][] = [];
    for (const [key, field] of Object.entries(shape)) {
      const fieldPath = path ? `${path}.${key}` : key;
      if (objectShape(field)) {
        nested.push([field, fieldPath]);
        continue;
      }
      fields.push({ path: fieldPath, required: !field.safeParse(undefined).success, schema: field, doc: fieldDoc(field) });
      const entry = listedObject(field);
      if (entry) nested.push([entry, `${fieldPath}[]`]);
    }
    sections.push({ path, title: path === '' ? 'Top level' : (meta?.title ?? path), description: meta?.description ?? '', fields });
    for (const [schema, p] of nested) visit(schema, p);
  };
  visit(root, '');
  return sections;
}

/** Every leaf field of a profile schema. */
export function referenceFields(root: z.ZodType = profileSchema): ReferenceField[] {
  return referenceSections(root).flatMap((s) => s.fields);
}

/**
 * What is missing from the fields' documentation: a description, a default or derivation for
 * each optional field (and none for a required one), known targets, a unit for each number.
 */
export function documentationProblems(root: z.ZodType = profileSchema): string[] {
  const problems: string[] = [];
  for (const f of referenceFields(root)) {
    const d = f.doc;
    if (!d) {
      problems.push(`${f.path}: no documentation (wrap it in doc(schema, { description, targets, ... }))`);
      continue;
    }
    if (!d.description?.trim()) problems.push(`${f.path}: no description`);
    const hasDefault = d.default !== undefined || (d.defaultText?.trim() ?? '') !== '';
    if (!f.required && !hasDefault) problems.push(`${f.path}: optional, but says neither its default (default) nor what applies when it is omitted (defaultText)`);
    if (f.required && hasDefault) problems.push(`${f.path}: required, so it cannot have a default`);
    if (!Array.isArray(d.targets) || d.targets.length === 0) problems.push(`${f.path}: names no target that reads it`);
    else for (const t of d.targets) if (!FIELD_TARGETS.includes(t)) problems.push(`${f.path}: unknown target "${t}" (known: ${FIELD_TARGETS.join(', ')})`);
    const priced = Array.isArray(d.targets) && d.targets.includes('cost');
    if (priced && !d.cost?.length) problems.push(`${f.path}: read by the cost model, but names no cost component (cost)`);
    if (!priced && d.cost?.length) problems.push(`${f.path}: names cost components, but not the cost target`);
    for (const c of d.cost ?? []) if (!COST_COMPONENTS.includes(c)) problems.push(`${f.path}: unknown cost component "${c}" (known: ${COST_COMPONENTS.join(', ')})`);
    const type = jsonSchema(f.schema).type;
    if ((type === 'number' || type === 'integer') && !d.unit?.trim()) problems.push(`${f.path}: a number without a unit`);
  }
  return problems;
}

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
};

function jsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** The type of a value, in words: integer, string, one of "a", "b", list of string, map of string to string. */
function typeOf(s: JsonSchema): string {
  if (s.enum) return 'enum';
  if (s.const !== undefined) return typeof s.const === 'number' ? (Number.isInteger(s.const) ? 'integer' : 'number') : typeof s.const;
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf))].join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.propertyNames ?? { type: 'string' })} to ${typeOf(s.additionalProperties)}`;
  return s.type ?? 'any';
}

const SAFE = Number.MAX_SAFE_INTEGER;

function num(n: number): string {
  return String(n);
}

function bounds(lo: number | undefined, loExclusive: boolean, hi: number | undefined, hiExclusive: boolean, noun = ''): string | undefined {
  const suffix = noun ? ` ${noun}` : '';
  if (lo !== undefined && hi !== undefined && !loExclusive && !hiExclusive) return `${num(lo)} to ${num(hi)}${suffix}`;
  const parts = [lo !== undefined ? `${loExclusive ? '>' : '≥'} ${num(lo)}` : undefined, hi !== undefined ? `${hiExclusive ? '<' : '≤'} ${num(hi)}` : undefined].filter(Boolean);
  return parts.length ? `${parts.join(', ')}${suffix}` : undefined;
}

/** The schema's own limits on a value: numeric bounds, lengths, list sizes, enum members, patterns. */
function rangeOf(s: JsonSchema): string[] {
  const out: string[] = [];
  if (s.enum) out.push(`one of ${s.enum.map((v) => code(JSON.stringify(v))).join(', ')}`);
  if (s.anyOf) {
    const consts = s.anyOf.filter((a) => a.const !== undefined);
    if (consts.length === s.anyOf.length) out.push(`one of ${consts.map((a) => code(JSON.stringify(a.const))).join(', ')}`);
    else for (const a of s.anyOf) out.push(...rangeOf(a));
  }
  if (s.type === 'number' || s.type === 'integer') {
    // An integer above 0 is at least 1: integers get inclusive bounds.
    const int = s.type === 'integer';
    const exLo = s.exclusiveMinimum !== undefined && !int;
    const exHi = s.exclusiveMaximum !== undefined && !int;
    const lo = s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (int ? 1 : 0) : s.minimum !== undefined && s.minimum > -SAFE ? s.minimum : undefined;
    const hi = s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - (int ? 1 : 0) : s.maximum !== undefined && s.maximum < SAFE ? s.maximum : undefined;
    const b = bounds(lo, exLo, hi, exHi);
    if (b) out.push(b);
  }
  if (s.type === 'string') {
    const b = bounds(s.minLength, false, s.maxLength, false, 'characters');
    if (b && !(s.minLength === 1 && s.maxLength === undefined)) out.push(b);
    else if (b) out.push('not empty');
    if (s.pattern) out.push(`pattern ${code(s.pattern)}`);
  }
  if (s.type === 'array') {
    const b = bounds(s.minItems, false, s.maxItems, false, 'entries');
    if (b) out.push(b);
    if (s.items && s.items.type !== 'object') {
      const each = rangeOf(s.items);
      if (each.length) out.push(`each: ${each.join(', ')}`);
    }
  }
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    const keys = s.propertyNames ? rangeOf(s.propertyNames) : [];
    const values = rangeOf(s.additionalProperties);
    if (keys.length) out.push(`keys: ${keys.join(', ')}`);
    if (values.length) out.push(`values: ${values.join(', ')}`);
  }
  return out;
}

/** Inline code that holds any text: a backtick run longer than any inside it. */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return text.startsWith('`') || text.endsWith('`') ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

/**
 * A Markdown table cell: pipes escaped everywhere (GFM tables split cells before reading code
 * spans, so `\|` is how a code span holds one), `<` escaped outside code spans so that
 * placeholders such as <region> are not taken for HTML, line breaks folded.
 */
export function escapeCell(text: string): string {
  const parts = text.replace(/\r?\n/g, ' ').split(/((`+)[\s\S]*?(?<!`)\2(?!`))/);
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 3 === 2) continue; // the backtick run captured by the inner group
    out += (i % 3 === 1 ? part : part.replaceAll('<', '\\<')).replaceAll('|', '\\|');
  }
  return out;
}

function defaultOf(f: ReferenceField): string {
  if (f.required) return 'required';
  const d = f.doc;
  const literal = d?.default !== undefined ? code(JSON.stringify(d.default)) : undefined;
  const text = d?.defaultText?.trim();
  return [literal, text && literal ? `(${text})` : text].filter(Boolean).join(' ') || '—';
}

/** The reference row of one field: path, type, unit, default, range, targets, description. */
export function referenceRow(f: ReferenceField): string[] {
  const s = jsonSchema(f.schema);
  const d = f.doc;
  const range = [...rangeOf(s), ...(d?.allowed ? [d.allowed] : [])];
  const components = COST_COMPONENTS.filter((c) => d?.cost?.includes(c));
  const costLines = components.length === COST_COMPONENTS.length ? 'every component' : components.join(', ');
  const targets = FIELD_TARGETS.filter((t) => d?.targets.includes(t)).map((t) => (t === 'cost' && costLines ? `cost (${costLines})` : t));
  return [code(f.path), typeOf(s), d?.unit ?? '—', defaultOf(f), range.join('; ') || '—', targets.join(', ') || '—', d?.description ?? ''];
}

const HEADER = ['Field', 'Type', 'Unit', 'Default', 'Range / allowed', 'Read by', 'Description'];

function table(rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(HEADER), `|${HEADER.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replaceAll(' ', '-');
}

/** The whole reference page. Deterministic: the same schema gives the same bytes. */
export function renderProfileReference(root: z.ZodType = profileSchema): string {
  const sections = referenceSections(root);
  const fields = sections.flatMap((s) => s.fields);
  const builtins = Object.entries(BUILTIN_PROFILES).map(([name, layer]) => `- \`${name}\`${layer.extends ? ` (extends \`${layer.extends}\`)` : ''}: ${layer.description ?? ''}`);
  const out = [
    '# Profile reference',
    '',
    `<!-- Generated from lib/profile/schema.ts by \`${REFERENCE_COMMAND}\`; do not edit by hand. -->`,
    '',
    'A **profile** is the one description of a deployment that every part of apistack reads: the AWS stacks,',
    'the Kubernetes charts, the local environment, the load tests and the cost model. It is JSON or YAML,',
    'validated once against the schema in `lib/profile/schema.ts` (every problem reported together, unknown',
    'fields refused with a "did you mean" hint) and then checked for the budgets between fields (the Postgres',
    'connection budget, the timeout and shutdown chains, Fargate sizes).',
    '',
    'A profile usually starts from another with `extends`: a built-in profile name or a path to a profile file',
    '(relative to the file that names it). Objects merge field by field, anything else replaces, and `null`',
    'removes a field, back to its default. A profile that extends nothing must set every required field.',
    '',
    '```yaml',
    'extends: optimized',
    'name: mine',
    'api:',
    '  replicasMax: 4',
    '  workersPerReplica: null   # back to the default: floor(vcpuPerReplica)',
    '```',
    '',
    'The built-in profiles ([lib/profile/builtins.ts](../lib/profile/builtins.ts)):',
    '',
    ...builtins,
    '',
    '## Reading the tables',
    '',
    '- **Default**: `required` fields must be set (by the profile or one it extends); an optional field names',
    '  the value used when it is omitted, or how that value is derived from other fields.',
    '- **Range / allowed**: what the schema accepts; some choices are checked against the rest of the profile',
    '  too, as the description says.',
    '- **Read by**: `aws` the AWS stacks (lib/aws), `k8s` the Kubernetes charts (charts/), `local` the local',
    '  environment (lib/local), `cost` the cost model (lib/cost), with the cost components whose lines the field',
    '  changes (on AWS or Kubernetes pricing). The nginx configuration is rendered for aws (behind the NLB), k8s',
    '  and local; the API environment and the Prometheus rules for all three.',
    '',
    `${fields.length} fields in ${sections.length} sections:`,
    '',
    ...sections.map((s) => `- [${s.title}](#${anchor(s.title)}) (${s.fields.length})`),
  ];
  for (const s of sections) {
    out.push('', `## ${s.title}`, '');
    if (s.description) out.push(s.description, '');
    out.push(table(s.fields.map(referenceRow)));
  }
  return `${out.join('\n')}\n`;
}
