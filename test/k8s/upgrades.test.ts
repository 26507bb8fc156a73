/**
 * Day two on a cluster: an upgrade (a new image) and a config change applied over the previous
 * synth. Kubernetes rolls a workload only when its pod template changes, refuses any change to a
 * Job's template, and a new pod serves as soon as its readiness probe answers 200.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../app/src/routes/health.ts';
import { connect, migrate } from '../../app/src/db.ts';
import { loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { buildApp } from '../app/harness.ts';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { configMapsReadBy, jobsNamed, synthObjects, workloadsOf, type K8sObject } from './synth.ts';

/**
 * What `kubectl apply` of `next` over `previous` does to Jobs: an object of the same name whose
 * pod template differs is refused (`spec.template: field is immutable`).
 */
function immutableJobTemplateErrors(previous: K8sObject[], next: K8sObject[]): string[] {
  const before = new Map(previous.filter((o) => o.kind === 'Job').map((o) => [o.metadata.name, o]));
  return next
    .filter((o) => o.kind === 'Job' && before.has(o.metadata.name) && JSON.stringify(before.get(o.metadata.name)!.spec.template) !== JSON.stringify(o.spec.template))
    .map((o) => `Job.batch "${o.metadata.name}" is invalid: spec.template: field is immutable`);
}

describe('an upgrade: a new image', () => {
  const profile = loadProfile('optimized');
  const v1 = synthObjects({ profile, apiImage: 'registry.example.com/apistack-api:1.0.0' });
  const v2 = synthObjects({ profile, apiImage: 'registry.example.com/apistack-api:1.1.0' });

  it('gets a migrations Job of its own, so applying it over the previous synth is never refused', () => {
    const [job1] = jobsNamed(v1.objects, 'migrations');
    const [job2] = jobsNamed(v2.objects, 'migrations');
    expect(jobsNamed(v1.objects, 'migrations')).toHaveLength(1);
    expect(job1!.metadata.name).toMatch(/^migrations-[0-9a-f]{10}$/);
    expect(job2!.metadata.name).not.toBe(job1!.metadata.name);
    expect(job2!.spec.template.spec.containers[0].image).toBe('registry.example.com/apistack-api:1.1.0');
    expect(immutableJobTemplateErrors(v1.objects, v2.objects)).toEqual([]);
    // The emulation can fail: a fixed name, as before, is refused.
    const fixed = (objects: K8sObject[]) => objects.map((o) => (o.kind === 'Job' ? { ...o, metadata: { ...o.metadata, name: 'migrations' } } : o));
    expect(immutableJobTemplateErrors(fixed(v1.objects), fixed(v2.objects))).toEqual(['Job.batch "migrations" is invalid: spec.template: field is immutable']);
  });

  it('re-applying the same synth keeps the Job (same name, same template), and the node type is part of it', () => {
    const again = synthObjects({ profile, apiImage: 'registry.example.com/apistack-api:1.0.0' });
    expect(jobsNamed(again.objects, 'migrations')[0]!.metadata.name).toBe(jobsNamed(v1.objects, 'migrations')[0]!.metadata.name);
    const amd64 = synthObjects({ profile: resolveProfileLayer({ extends: 'optimized', kubernetes: { nodeInstanceType: 'm7i.xlarge' } }), apiImage: 'registry.example.com/apistack-api:1.0.0' });
    expect(immutableJobTemplateErrors(v1.objects, amd64.objects)).toEqual([]);
    expect(jobsNamed(amd64.objects, 'migrations')[0]!.metadata.name).not.toBe(jobsNamed(v1.objects, 'migrations')[0]!.metadata.name);
  });

  it('the API Deployment rolls (its template changes) while the migrations Job name changes with it', () => {
    expect(v2.find('Deployment', 'api').spec.template).not.toEqual(v1.find('Deployment', 'api').spec.template);
  });
});

describe('a config change reaches the running pods', () => {
  const base = loadProfile('optimized');
  const changed = resolveProfileLayer({
    extends: 'optimized',
    api: { dbPoolSizePerWorker: base.api.dbPoolSizePerWorker + 1, cacheTtlSeconds: base.api.cacheTtlSeconds + 7 },
    monitoring: { scrapeIntervalSeconds: base.monitoring.scrapeIntervalSeconds + 5 },
  });
  const a = synthObjects({ profile: base });
  const b = synthObjects({ profile: changed });

  it('profiles that differ only in ConfigMap values give the API and Prometheus different pod templates', () => {
    expect(b.find('ConfigMap', 'api-config').data).not.toEqual(a.find('ConfigMap', 'api-config').data);
    expect(b.find('Deployment', 'api').spec.template).not.toEqual(a.find('Deployment', 'api').spec.template);
    expect(b.find('StatefulSet', 'prometheus').spec.template).not.toEqual(a.find('StatefulSet', 'prometheus').spec.template);
  });

  it('every workload whose ConfigMaps changed has a changed pod template; the others stay as they are', () => {
    const configMaps = (objects: K8sObject[]) => new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, JSON.stringify(o.data)]));
    const [before, after] = [configMaps(a.objects), configMaps(b.objects)];
    const rolled: string[] = [];
    for (const w of workloadsOf(b.objects).filter((o) => o.kind !== 'Job')) {
      const previous = a.find(w.kind, w.metadata.name);
      const read = configMapsReadBy(w.spec.template);
      const configChanged = read.some((name) => before.get(name) !== after.get(name));
      const templateChanged = JSON.stringify(previous.spec.template) !== JSON.stringify(w.spec.template);
      expect(templateChanged, `${w.kind}/${w.metadata.name} reads ${read.join(', ') || 'no ConfigMap'}`).toBe(configChanged);
      if (templateChanged) rolled.push(`${w.kind}/${w.metadata.name}`);
    }
    expect(rolled.sort()).toEqual(['Deployment/api', 'StatefulSet/prometheus']);
  });
});

describe('pods select nodes of the profile architecture', () => {
  it('arm64 for Graviton node types, amd64 for x86 ones, on every workload', () => {
    for (const [name, arch] of [
      ['optimized', 'arm64'],
      ['baseline', 'amd64'],
    ] as const) {
      const profile = loadProfile(name);
      const { objects } = synthObjects({ profile });
      for (const w of workloadsOf(objects)) expect(w.spec.template.spec.nodeSelector, `${name}: ${w.kind}/${w.metadata.name} on ${profile.kubernetes.nodeInstanceType}`).toEqual({ 'kubernetes.io/arch': arch });
    }
  });
});

describe('/readyz waits for the schema this build needs (real Postgres)', () => {
  let pg: Awaited<ReturnType<typeof startTestPostgres>>;
  let redis: Awaited<ReturnType<typeof startTestRedis>>;
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  });
  afterAll(async () => {
    await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
  });

  it('answers 503 before any migration and with an older schema, 200 once the migrations Job has run', async () => {
    const built = await buildApp(pg.url, redis.url);
    const sql = connect(pg.url, { max: 1, statementTimeoutMs: 10_000 });
    try {
      const none = await built.app.inject('/readyz');
      expect(none.statusCode).toBe(503);
      expect(none.json().postgres).toBe(`schema version 0, needs ${SCHEMA_VERSION}: migrations pending`);

      // The schema of the previous release: one migration behind.
      await sql`CREATE TABLE schema_migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
      await sql`INSERT INTO schema_migrations (id, name) VALUES (${SCHEMA_VERSION - 1}, 'previous release')`;
      const behind = await built.app.inject('/readyz');
      expect(behind.statusCode).toBe(503);
      expect(behind.json().postgres).toBe(`schema version ${SCHEMA_VERSION - 1}, needs ${SCHEMA_VERSION}: migrations pending`);

      await sql`DELETE FROM schema_migrations`;
      expect(await migrate(sql)).toHaveLength(SCHEMA_VERSION);
      const ready = await built.app.inject('/readyz');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ready', postgres: 'ok' });

      // A newer schema (a rollback of the image) still serves: migrations only add.
      await sql`INSERT INTO schema_migrations (id, name) VALUES (${SCHEMA_VERSION + 1}, 'next release')`;
      expect((await built.app.inject('/readyz')).statusCode).toBe(200);
    } finally {
      await sql.end({ timeout: 1 });
      await built.close();
    }
  });
});
