/**
 * Day two on AWS, for every built-in profile: what CloudFormation, ECS and Step Functions do with
 * the templates on the next deploy. The main stack never depends on a load-test stack (exports),
 * an autoscaled service keeps its count across a deploy, and every load-test runner starts at once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsApp, MAX_RUNNERS_AT_ONCE } from '../../lib/aws/index.ts';
import { parseScenario } from '../../lib/loadtest/scenario.ts';
import { GRAFANA_DASHBOARDS_DIR } from '../../lib/monitoring/index.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { isUserError } from '../../lib/errors.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';
import { BUILTINS, LOAD_TEST, resourcesOf, synthBuiltin, type BuiltinSynth, type Json } from './builtin-synths.ts';

const alone = new Map<string, BuiltinSynth>();
const withLoadTest = new Map<string, BuiltinSynth>();
beforeAll(() => {
  for (const name of BUILTINS) {
    alone.set(name, synthBuiltin(name));
    withLoadTest.set(name, synthBuiltin(name, LOAD_TEST));
  }
}, 600_000);

/** Every value of a key anywhere in a template (Fn::ImportValue, Ref, ...). */
function valuesOf(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const n of node) valuesOf(n, key, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === key) out.push(v);
      valuesOf(v, key, out);
    }
  }
  return out;
}

const exportsOf = (t: Json) => new Map(Object.values((t.Outputs ?? {}) as Record<string, Json>).filter((o) => o.Export).map((o) => [o.Export.Name as string, JSON.stringify(o.Value)]));

/**
 * CloudFormation's rule on an update of an exporting stack: an export another stack imports can be
 * neither removed ("Cannot delete export X as it is in use by Y") nor changed ("Cannot update
 * export X as it is in use by Y"). The errors an update from `before` to `after` would fail with.
 */
export function exportUpdateErrors(before: Json, after: Json, importers: Readonly<Record<string, Json>>): string[] {
  const was = exportsOf(before);
  const will = exportsOf(after);
  const errors: string[] = [];
  for (const [stack, template] of Object.entries(importers)) {
    for (const name of valuesOf(template, 'Fn::ImportValue') as string[]) {
      if (!was.has(name)) continue;
      if (!will.has(name)) errors.push(`Cannot delete export ${name} as it is in use by ${stack}`);
      else if (will.get(name) !== was.get(name)) errors.push(`Cannot update export ${name} as it is in use by ${stack}`);
    }
  }
  return errors;
}

describe('the rule on exports, as CloudFormation applies it', () => {
  const exporting = (value: string) => ({ Outputs: { Dns: { Value: value, Export: { Name: 'main:Dns' } } } });
  const importer = { Resources: { Task: { Properties: { Url: { 'Fn::ImportValue': 'main:Dns' } } } } };
  it('refuses to drop or change an imported export, and allows both when nothing imports it', () => {
    expect(exportUpdateErrors(exporting('a'), {}, { lt: importer })).toEqual(['Cannot delete export main:Dns as it is in use by lt']);
    expect(exportUpdateErrors(exporting('a'), exporting('b'), { lt: importer })).toEqual(['Cannot update export main:Dns as it is in use by lt']);
    expect(exportUpdateErrors(exporting('a'), exporting('a'), { lt: importer })).toEqual([]);
    expect(exportUpdateErrors(exporting('a'), {}, {})).toEqual([]);
  });
});

describe.each(BUILTINS)('AWS %s: the main stack never depends on a load-test stack', (name) => {
  it('the main stack\'s template is the same with and without --loadtest, outputs and exports included, and exports nothing', () => {
    const a = alone.get(name)!;
    const b = withLoadTest.get(name)!;
    expect(b.main).toEqual(a.main);
    expect(exportsOf(a.main).size).toBe(0);
  });

  it('redeploying the main stack without --loadtest while the load-test stack exists updates cleanly', () => {
    const b = withLoadTest.get(name)!;
    expect(exportUpdateErrors(b.main, alone.get(name)!.main, { 'apistack-loadtest': b.loadTest! })).toEqual([]);
    expect(valuesOf(b.loadTest, 'Fn::ImportValue')).toEqual([]);
  });

  it('self-hosted Prometheus always takes remote writes and Grafana always has the load-test dashboard, for any run', () => {
    const { main, profile, imageAssets } = alone.get(name)!;
    if (profile.monitoring.mode !== 'self-hosted') return;
    const prometheus = resourcesOf(main, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => t.Properties.ContainerDefinitions as Json[]).find((c) => c.Name === 'prometheus')!;
    expect(prometheus.Command).toContain('--web.enable-remote-write-receiver');
    const grafana = imageAssets.find((a) => a.dockerfile.includes(`${GRAFANA_DASHBOARDS_DIR}/`))!;
    const dashboard = JSON.parse(readFileSync(join(grafana.directory, 'dashboards', 'apistack-loadtest.json'), 'utf8')) as Json;
    expect(dashboard.templating.list.map((v: Json) => v.name)).toEqual(['datasource', 'testid']);
    expect(dashboard.templating.list[1].query.query).toBe('label_values(k6_http_reqs_total, testid)');
    expect(JSON.stringify(dashboard.panels)).toContain('testid=\\"$testid\\"');
  });

  it('every SSM parameter the load-test stack reads at deploy time is one the main stack always publishes', () => {
    const b = withLoadTest.get(name)!;
    const read = Object.values(b.loadTest!.Parameters as Record<string, Json>).filter((x) => String(x.Type).startsWith('AWS::SSM::Parameter::Value')).map((x) => x.Default as string)
      // The bootstrap stack's version, which every CDK template reads.
      .filter((parameter) => !parameter.startsWith('/cdk-bootstrap/'));
    const published = resourcesOf(alone.get(name)!.main, 'AWS::SSM::Parameter').map(([, r]) => r.Properties.Name as string);
    expect(read.length).toBeGreaterThanOrEqual(4);
    for (const parameter of read) expect(published, parameter).toContain(parameter);
    // Nothing else of the main stack appears in the load-test template.
    const mainIds = new Set(Object.keys(b.main.Resources));
    expect((valuesOf(b.loadTest, 'Ref') as string[]).filter((id) => mainIds.has(id))).toEqual([]);
  });
});

/** The logical IDs of the ECS services an Application Auto Scaling target scales. */
function autoscaledServices(t: Json): Set<string> {
  const ids = new Set<string>();
  for (const [, target] of resourcesOf(t, 'AWS::ApplicationAutoScaling::ScalableTarget')) {
    for (const [service, attribute] of valuesOf(target.Properties.ResourceId, 'Fn::GetAtt') as [string, string][]) if (attribute === 'Name') ids.add(service);
  }
  return ids;
}

/**
 * What ECS runs after a CloudFormation update of a service: a DesiredCount in the template is
 * applied (the count autoscaling set is lost); without one the service keeps its count.
 */
const countAfterUpdate = (running: number, service: Json): number => (service.Properties.DesiredCount as number | undefined) ?? running;

describe.each(BUILTINS)('AWS %s: autoscaled services keep their count across a deploy', (name) => {
  it('every service with a scalable target has no DesiredCount, so a new task definition keeps the scaled-out count', () => {
    const { main, profile } = alone.get(name)!;
    const scaled = autoscaledServices(main);
    expect(scaled.size).toBe(profile.derived.nginx.hpa ? 2 : 1);
    for (const [id, service] of resourcesOf(main, 'AWS::ECS::Service')) {
      const [, target] = resourcesOf(main, 'AWS::ApplicationAutoScaling::ScalableTarget').find(([, t]) => JSON.stringify(t.Properties.ResourceId).includes(`"${id}"`)) ?? [];
      if (scaled.has(id)) {
        expect(service.Properties.DesiredCount, id).toBeUndefined();
        const max = target!.Properties.MaxCapacity as number;
        expect(countAfterUpdate(max, service), `${id} after a deploy at ${max} tasks`).toBe(max);
      } else {
        // Not scaled: the template's count is the count.
        expect(service.Properties.DesiredCount, id).toBeGreaterThanOrEqual(1);
      }
    }
  });
});

/** The state machine's definition, every token read as X. */
function definitionOf(machine: Json): Json {
  const body = machine.Properties.DefinitionString;
  return JSON.parse(typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : 'X')).join('')) as Json;
}

/**
 * Step Functions: an inline Map runs at most 40 iterations at once whatever MaxConcurrency says
 * (the rest wait); a Distributed Map runs up to 10,000 child executions.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
 */
function iterationsAtOnce(map: Json): number {
  const distributed = map.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED';
  const cap = distributed ? 10_000 : 40;
  return Math.min(map.MaxConcurrency || cap, cap);
}

describe.each(BUILTINS)('AWS %s: every load-test runner starts at once', (name) => {
  it(`${LOAD_TEST.parallelism} runners: the fan-out runs them all together and retries a throttled RunTask`, () => {
    const { loadTest } = withLoadTest.get(name)!;
    const [, machine] = resourcesOf(loadTest!, 'AWS::StepFunctions::StateMachine')[0]!;
    const runners = definitionOf(machine).States.Runners;
    expect(iterationsAtOnce(runners)).toBe(LOAD_TEST.parallelism);
    expect(runners.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(runners.ItemProcessor.States.Runner.Retry).toEqual([expect.objectContaining({ ErrorEquals: ['ECS.AmazonECSException', 'ECS.ThrottlingException'] })]);
  });
});

describe('AWS load test: --parallelism and the fan-out agree', () => {
  it('the most runners a scenario may ask for is the most that start at once', () => {
    expect(parseScenario({ ...LOAD_TEST, parallelism: MAX_RUNNERS_AT_ONCE }, 'x').parallelism).toBe(MAX_RUNNERS_AT_ONCE);
    expect(() => parseScenario({ ...LOAD_TEST, parallelism: MAX_RUNNERS_AT_ONCE + 1 }, 'x')).toThrow(/parallelism: 101 — must be <= 100/);
    const r = cli(['synth', '--target', 'aws', '--loadtest', 'mixed', '--parallelism', '101', '--out', tempDir()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: scenario mixed with --parallelism 101 is invalid[^]*must be <= 100/);
  });

  it('a scenario built past the schema is refused by the stack itself, with the limit and the fix', () => {
    let error: unknown;
    try {
      awsApp({ profile: loadProfile('optimized'), outdir: tempDir(), nag: false, loadTest: { ...LOAD_TEST, parallelism: 101 } });
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect((error as Error).message).toBe(
      'load test mixed: 101 runners, but Fargate starts at most 100 tasks at once, and a run whose runners start in waves has no single verdict; set --parallelism (or the scenario\'s parallelism) to 100 or fewer and give each runner more virtual users',
    );
  });
});
