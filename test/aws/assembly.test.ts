/** The cloud assembly as a whole: no secret value in it, byte-identical synths, profiles that differ where they should, and priced as deployed. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsApp } from '../../lib/aws/index.ts';
import { Catalog, priceProfile, priceTemplate } from '../../lib/cost/index.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { tempDir } from '../helpers/servers.ts';
import { PROFILE_NAMES, synth, resources, only, taskWith, type Synth } from './fixtures.ts';

const catalog = Catalog.load();

describe('no secret value in the cloud assembly', () => {
  it.each(PROFILE_NAMES)('%s: Secrets Manager generates every secret; tasks and resources hold only references', (name) => {
    const s = synth(name);
    for (const [, secret] of resources(s, 'AWS::SecretsManager::Secret')) {
      expect(secret.SecretString).toBeUndefined();
      expect(secret.GenerateSecretString).toBeDefined();
    }
    for (const c of resources(s, 'AWS::ECS::TaskDefinition').flatMap(([, t]) => t.ContainerDefinitions as Record<string, unknown>[])) {
      const names = ((c.Environment as { Name: string }[] | undefined) ?? []).map((e) => e.Name);
      expect(names.filter((n) => /PASSWORD|TOKEN|SECRET|_KEY$/.test(n)), String(c.Name)).toEqual([]);
      for (const secret of (c.Secrets as { ValueFrom: unknown }[] | undefined) ?? []) expect(typeof secret.ValueFrom).not.toBe('string');
    }
    // Nothing that looks like a credential in any file of the assembly (templates, nginx, Prometheus, Grafana contexts).
    const text = readdirSync(s.dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.parentPath.includes('/app') && /\.(json|yml|yaml|conf)$/.test(e.name))
      .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
      .join('\n');
    expect(text).not.toMatch(/"(MasterUserPassword|AuthToken)":\s*"(?!\{\{resolve)/);
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^@"\s]*:[^@"\s]+@/);
  });
});

describe('deterministic synth', () => {
  it('two synths of the same profile give byte-identical templates and the same image contexts', () => {
    const read = () => {
      const dir = tempDir('apistack-aws-det-');
      awsApp({ profile: loadProfile('production-ha'), outdir: dir }).app.synth();
      const files = readdirSync(dir).filter((f) => f.endsWith('.template.json') || f.endsWith('.assets.json') || f.startsWith('asset.')).sort();
      return { files, templates: files.filter((f) => f.endsWith('.json')).map((f) => readFileSync(join(dir, f), 'utf8')) };
    };
    const a = read();
    const b = read();
    expect(b.files).toEqual(a.files);
    expect(b.templates).toEqual(a.templates);
  });
});

describe('the profile drives the template', () => {
  it('baseline and optimized differ where their profiles do', () => {
    const pick = (s: Synth) => ({
      dbClass: only(s, 'AWS::RDS::DBInstance').DBInstanceClass,
      storage: only(s, 'AWS::RDS::DBInstance').AllocatedStorage,
      dbMultiAz: only(s, 'AWS::RDS::DBInstance').MultiAZ,
      cacheNode: only(s, 'AWS::ElastiCache::ReplicationGroup').CacheNodeType,
      cacheNodes: only(s, 'AWS::ElastiCache::ReplicationGroup').NumCacheClusters,
      taskCpu: taskWith(s, 'api').Cpu,
      range: (({ MinCapacity, MaxCapacity }) => [MinCapacity, MaxCapacity])(resources(s, 'AWS::ApplicationAutoScaling::ScalableTarget')[0]![1] as { MinCapacity: number; MaxCapacity: number }),
      nat: resources(s, 'AWS::EC2::NatGateway').length,
    });
    expect(pick(synth('baseline'))).toEqual({ dbClass: 'db.m7g.large', storage: '200', dbMultiAz: true, cacheNode: 'cache.r7g.large', cacheNodes: 2, taskCpu: '1024', range: [6, 20], nat: 2 });
    expect(pick(synth('optimized'))).toEqual({ dbClass: 'db.t4g.medium', storage: '50', dbMultiAz: false, cacheNode: 'cache.t4g.medium', cacheNodes: 1, taskCpu: '2048', range: [2, 6], nat: 1 });
    expect(pick(synth('production-ha'))).toMatchObject({ dbMultiAz: true, cacheNodes: 3, range: [3, 8], nat: 3 });
  });
});

describe('priced as deployed', () => {
  it.each(PROFILE_NAMES)('%s: pricing the template gives the profile\'s monthly cost per component, at every replica point', (name) => {
    const s = synth(name);
    const perComponent = (b: { components: readonly { name: string; monthly: number }[] }) => Object.fromEntries(b.components.map((c) => [c.name, c.monthly]));
    for (const replicas of [undefined, 'min', 'max'] as const) {
      const fromTemplate = priceTemplate(s.dir, catalog, replicas ? { replicas } : {}).breakdown;
      const fromProfile = priceProfile(s.profile, 'aws', catalog, replicas ? { replicas } : {});
      expect(perComponent(fromTemplate)).toEqual(perComponent(fromProfile));
      expect(fromTemplate.total).toBe(fromProfile.total);
    }
  });

  it('reads sizes from the resources, not from the profile it records', () => {
    const s = synth('optimized');
    const dir = tempDir('apistack-aws-edit-');
    const json = JSON.parse(JSON.stringify(s.json)) as Synth['json'];
    const task = Object.values(json.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition' && JSON.stringify(r.Properties).includes('"Name":"api"'))!;
    task.Properties!.Cpu = '4096';
    task.Properties!.Memory = '8192';
    Object.values(json.Resources).find((r) => r.Type === 'AWS::RDS::DBInstance')!.Properties!.DBInstanceClass = 'db.m7g.large';
    writeFileSync(join(dir, 'edited.template.json'), JSON.stringify(json));
    const edited = priceTemplate(dir, catalog).breakdown;
    const original = priceProfile(s.profile, 'aws', catalog);
    const app = (b: typeof edited) => b.components.find((c) => c.name === 'Application Servers')!.monthly;
    expect(app(edited)).toBeCloseTo(2 * app(original), 1);
    expect(edited.components.find((c) => c.name === 'Database')!.lines[0]!.name).toBe('RDS PostgreSQL db.m7g.large');
  });
});
