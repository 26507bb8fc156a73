/** The AWS target from the command line: `apistack synth --target aws`, `cost --from-template`, and `npx cdk synth` from cdk.json. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, repoRoot } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';
import type { Synth } from './fixtures.ts';

describe('CLI and cdk.json', () => {
  it('apistack synth --target aws, then cost --from-template prints what cost --profile prints (JSON too)', () => {
    const out = tempDir('apistack-aws-cli-');
    const synthRun = cli(['synth', '--target', 'aws', '--profile', 'loadtest', '--out', out]);
    expect(synthRun.stderr).toBe('');
    expect(synthRun.status).toBe(0);
    expect(synthRun.stdout).toContain(join(out, 'aws', 'apistack-loadtest.template.json'));
    for (const format of ['json', 'table']) {
      const fromTemplate = cli(['cost', '--from-template', join(out, 'aws'), '--format', format]);
      const fromProfile = cli(['cost', '--profile', 'loadtest', '--format', format]);
      expect(fromTemplate.status).toBe(0);
      expect(fromTemplate.stdout).toBe(fromProfile.stdout);
    }
    const wrong = cli(['cost', '--from-template', join(out, 'nothing-here')]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toBe(`error: ${join(out, 'nothing-here')} does not exist; synthesize first: apistack synth --target aws --out DIR, then pass DIR/aws\n`);
  }, 240_000);

  it('a profile AWS cannot run is a clear error, not a stack trace', () => {
    const dir = tempDir('apistack-aws-bad-');
    const file = join(dir, 'one-az.yaml');
    writeFileSync(file, 'extends: loadtest\nname: one-az\nnetwork: { availabilityZones: 1, natGateways: 1 }\n');
    const r = cli(['synth', '--target', 'aws', '--profile', file, '--out', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: profile ${file} is invalid (1 problem):\n  - network.availabilityZones: 1 availability zone, but RDS`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('npx cdk synth -c profile=NAME works offline with no account, from the pinned CLI', () => {
    const out = tempDir('apistack-cdk-');
    const r = spawnSync(join(repoRoot, 'node_modules', '.bin', 'cdk'), ['synth', '-q', '-c', 'profile=loadtest', '-o', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', CDK_DISABLE_VERSION_CHECK: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'apistack-loadtest.template.json'), 'utf8')) as Synth['json'];
    expect(Object.values(template.Resources).find((x) => x.Type === 'AWS::RDS::DBInstance')!.Properties!.DBInstanceClass).toBe('db.t4g.small');
  }, 180_000);
});
