/**
 * No image from a public registry at run time: every container of every template of every
 * built-in profile (with a load test too) names an image in the account's own ECR, the CDK asset
 * repository `cdk deploy` pushes to, built for the profile's CPU architecture.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTAINER_IMAGES } from '../../lib/profile/index.ts';
import { BUILTINS, LOAD_TEST, resourcesOf, synthBuiltin, type BuiltinSynth, type Json } from './builtin-synths.ts';

const synths = new Map<string, BuiltinSynth>();
beforeAll(() => {
  for (const name of BUILTINS) synths.set(name, synthBuiltin(name, LOAD_TEST));
}, 600_000);

/** The CDK asset repository of the deploying account in the profile's region, as the bootstrap stack names it. */
const accountEcr = (region: string) => new RegExp(`^\\$\\{AWS::AccountId\\}\\.dkr\\.ecr\\.${region}\\.\\$\\{AWS::URLSuffix\\}/cdk-hnb659fds-container-assets-\\$\\{AWS::AccountId\\}-${region}:[0-9a-f]{64}$`);

function containers(t: Json): { task: string; name: string; image: unknown }[] {
  return resourcesOf(t, 'AWS::ECS::TaskDefinition').flatMap(([task, r]) => (r.Properties.ContainerDefinitions as Json[]).map((c) => ({ task, name: c.Name as string, image: c.Image })));
}

describe.each(BUILTINS)('AWS %s (with a load test): images', (name) => {
  it('every container image is in the account\'s ECR, never a public registry', () => {
    const s = synths.get(name)!;
    const all = Object.values(s.templates).flatMap(containers);
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const c of all) {
      const image = c.image as Json;
      expect(typeof image, `${c.task}/${c.name}: ${JSON.stringify(image)}`).toBe('object');
      expect(image['Fn::Sub'], `${c.task}/${c.name}`).toMatch(accountEcr(s.profile.region));
    }
  });

  it('the public images are mirrored as assets from their pinned tags, for the profile\'s architecture', () => {
    const s = synths.get(name)!;
    const platform = s.profile.api.cpuArchitecture === 'arm64' ? 'linux/arm64' : 'linux/amd64';
    for (const a of s.imageAssets) expect(a.platform, a.dockerfile).toBe(platform);
    const mirrored = s.imageAssets.map((a) => a.dockerfile).filter((d) => /^FROM \S+\n$/.test(d));
    const expected = [CONTAINER_IMAGES.k6, ...(s.profile.network.loadBalancer === 'nlb' ? [CONTAINER_IMAGES.nginxExporter] : []), ...(s.profile.monitoring.mode === 'managed' ? [CONTAINER_IMAGES.otelCollector] : [])];
    expect([...new Set(mirrored)].sort()).toEqual(expected.map((image) => `FROM ${image}\n`).sort());
    // Every base image, built or mirrored, is a pinned tag.
    for (const a of s.imageAssets) for (const [, from] of a.dockerfile.matchAll(/^FROM (\S+)/gm)) expect(from, a.dockerfile).not.toMatch(/:latest$|^[^:]+$/);
  });
});
