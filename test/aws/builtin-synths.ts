/**
 * Every built-in profile synthesized as `apistack synth --target aws` does it (cdk-nag included),
 * alone and with a load test, into cloud assembly directories the tests read (templates, assets).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { awsApp } from '../../lib/aws/index.ts';
import { BUILTIN_SCENARIOS, type Scenario } from '../../lib/loadtest/scenario.ts';
import { builtinProfileNames, loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';
import { tempDir } from '../helpers/servers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

/** A scenario with a setup task, at the most runners a scenario may ask for. */
export const LOAD_TEST: Scenario = { ...BUILTIN_SCENARIOS.mixed!, connections: 200, parallelism: 100 };

export interface BuiltinSynth {
  readonly profile: ResolvedProfile;
  readonly outdir: string;
  /** Stack name → template, as written to the cloud assembly. */
  readonly templates: Readonly<Record<string, Json>>;
  readonly main: Json;
  /** The load-test stack's template, with a load test. */
  readonly loadTest?: Json;
  /** Template file paths, for tools that read files (cfn-lint). */
  readonly files: readonly string[];
  /** Image assets: their build directory's Dockerfile and the platform they are built for. */
  readonly imageAssets: readonly { stack: string; directory: string; dockerfile: string; platform: string | undefined }[];
}

export function synthBuiltin(name: string, loadTest?: Scenario): BuiltinSynth {
  const profile = loadProfile(name);
  const outdir = tempDir(`apistack-aws-${name}-`);
  const { app, stack, loadTestStack } = awsApp({ profile, outdir, ...(loadTest ? { loadTest } : {}) });
  app.synth();
  const stacks = [stack, ...(loadTestStack ? [loadTestStack] : [])];
  const files = stacks.map((s) => join(outdir, s.templateFile));
  const templates = Object.fromEntries(stacks.map((s, i) => [s.stackName, JSON.parse(readFileSync(files[i]!, 'utf8')) as Json]));
  const imageAssets = stacks.flatMap((s) =>
    Object.values((JSON.parse(readFileSync(join(outdir, `${s.artifactId}.assets.json`), 'utf8')).dockerImages ?? {}) as Record<string, Json>).map((a) => ({
      stack: s.stackName,
      directory: join(outdir, a.source.directory),
      dockerfile: readFileSync(join(outdir, a.source.directory, a.source.dockerFile ?? 'Dockerfile'), 'utf8'),
      platform: a.source.platform as string | undefined,
    })),
  );
  return { profile, outdir, templates, main: templates[stack.stackName]!, ...(loadTestStack ? { loadTest: templates[loadTestStack.stackName]! } : {}), files, imageAssets };
}

export const BUILTINS = builtinProfileNames();

export const resourcesOf = (t: Json, type?: string): [string, Json][] => Object.entries(t.Resources as Record<string, Json>).filter(([, r]) => type === undefined || r.Type === type);
