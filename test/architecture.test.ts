/**
 * The import rules of the layout, enforced: each area imports only the areas it may, and the
 * profile and cost model never pull in a synthesizer, so pricing and validation stay instant.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Areas by path prefix, most specific first. */
const AREAS = ['app/src/metrics-contract.ts', 'lib/errors.ts', 'app', 'lib/profile', 'lib/cost', 'lib/monitoring', 'lib/local', 'lib/aws', 'lib/loadtest', 'charts', 'nginx', 'bin'] as const;
type Area = (typeof AREAS)[number];

/** Which of our areas each area may import (besides itself). */
const MAY_IMPORT: Record<Exclude<Area, 'bin' | 'app/src/metrics-contract.ts' | 'lib/errors.ts'>, readonly Area[]> = {
  // Bundled alone into the image: its contract with the rest is env, routes and metric names.
  app: ['app/src/metrics-contract.ts'],
  'lib/profile': [],
  'lib/cost': ['lib/profile'],
  'lib/monitoring': ['lib/profile', 'app/src/metrics-contract.ts'],
  // The local environment runs Prometheus with the same scrape config and rules as the clusters.
  'lib/local': ['lib/profile', 'nginx', 'lib/monitoring'],
  // Both deploy targets run the same load-test scenario (its k6 rendering is a pure renderer like nginx's).
  'lib/aws': ['lib/profile', 'lib/monitoring', 'nginx', 'lib/loadtest'],
  'lib/loadtest': ['lib/profile'],
  charts: ['lib/profile', 'lib/monitoring', 'nginx', 'lib/loadtest'],
  nginx: ['lib/profile'],
};

const SYNTHESIZERS = /^(aws-cdk-lib|aws-cdk|cdk8s|cdk8s-plus-\d+|constructs)(\/|$)/;

function areaOf(path: string): Area | undefined {
  const rel = relative(root, path);
  return AREAS.find((a) => rel === a || rel.startsWith(`${a}/`));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name) && !e.parentPath.includes('node_modules'))
    .map((e) => join(e.parentPath, e.name));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

const files = ['app', 'lib', 'charts', 'nginx', 'bin'].flatMap(sourceFiles);

describe('layout import rules', () => {
  it('finds the source files it checks', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('every import stays within what its area may import', () => {
    const broken: string[] = [];
    for (const file of files) {
      const from = areaOf(file);
      if (!from || from === 'bin' || from === 'app/src/metrics-contract.ts' || from === 'lib/errors.ts') continue;
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const to = areaOf(resolve(dirname(file), spec));
        // lib/errors.ts is the user-error type every area throws; only the bundled app stays without it.
        const sameArea = to === from || (from === 'app' && to === 'app/src/metrics-contract.ts') || (from !== 'app' && to === 'lib/errors.ts');
        if (to && !sameArea && !MAY_IMPORT[from].includes(to)) broken.push(`${relative(root, file)} imports ${spec} (${to}), which ${from} may not`);
        if (!to) broken.push(`${relative(root, file)} imports ${spec}, outside every area`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('lib/errors.ts imports nothing, so every area can use it', () => {
    expect(importsOf(join(root, 'lib/errors.ts'))).toEqual([]);
  });

  it('the profile and the cost model never import a synthesizer', () => {
    const offenders = files
      .filter((f) => ['lib/profile', 'lib/cost'].includes(areaOf(f) ?? ''))
      .flatMap((f) => importsOf(f).filter((s) => SYNTHESIZERS.test(s)).map((s) => `${relative(root, f)} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  it('catches a forbidden import (the check itself works)', () => {
    const from = areaOf(join(root, 'lib/profile/x.ts'))!;
    const to = areaOf(resolve(join(root, 'lib/profile'), '../cost/model.ts'));
    expect([from, to]).toEqual(['lib/profile', 'lib/cost']);
    expect(MAY_IMPORT['lib/profile']).not.toContain(to);
  });
});
