/**
 * One home for validation: `apistack profile validate` refuses every profile that
 * `apistack synth --target aws` refuses, listing all of its problems at once, and `--target`
 * narrows the check to what one target needs (a one-zone profile is a valid Kubernetes profile).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

const dir = tempDir('apistack-validate-');
function profileFile(name: string, yaml: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `extends: loadtest\nname: ${name}\n${yaml}\n`);
  return file;
}

/** The problem lines ("  - path: message") of a refusal. */
const problemLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('  - '));

describe('profile validate and synth --target aws refuse the same profiles', () => {
  const cases = [
    { name: 'one-az', yaml: 'network: { availabilityZones: 1, natGateways: 1 }', problems: ['network.availabilityZones: 1 availability zone, but RDS and ElastiCache subnet groups need subnets in at least 2'] },
    { name: 'no-nat', yaml: 'network: { natGateways: 0 }', problems: ['network.natGateways: 0 NAT gateways, but the tasks reach ECR'] },
    { name: 'unknown-zones', yaml: 'region: ap-southeast-7', problems: ['network.availabilityZoneNames: the availability zones of ap-southeast-7 are not known here; list them, e.g. ["ap-southeast-7a", "ap-southeast-7b"]'] },
    {
      name: 'everything-at-once',
      yaml: 'region: ap-southeast-7\nnetwork: { availabilityZones: 1, natGateways: 0 }',
      problems: ['network.availabilityZones: 1 availability zone, but', 'network.natGateways: 0 NAT gateways', 'network.availabilityZoneNames: the availability zones of ap-southeast-7 are not known here'],
    },
  ];

  it.each(cases)('$name: both exit 1 with the same problems, every one of them, and no stack trace', ({ name, yaml, problems }) => {
    const file = profileFile(name, yaml);
    const validate = cli(['profile', 'validate', file]);
    const synth = cli(['synth', '--target', 'aws', '--profile', file, '--out', tempDir('apistack-validate-out-')]);
    for (const r of [validate, synth]) {
      expect(r.status, r.stdout).toBe(1);
      expect(r.stderr).toContain(`error: profile ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const lines = problemLines(validate.stderr);
    expect(lines).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(lines[i]).toContain(p));
    expect(problemLines(synth.stderr)).toEqual(lines);
  }, 120_000);

  it('--target k8s checks only what Kubernetes needs: a one-zone profile without NAT is valid there, and synth --target k8s writes it', () => {
    const file = profileFile('k8s-only', 'network: { availabilityZones: 1, natGateways: 0 }');
    const validate = cli(['profile', 'validate', file, '--target', 'k8s']);
    expect(validate.status, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/^ok k8s-only: .*\(checked for k8s\)\n$/);
    const synth = cli(['synth', '--target', 'k8s', '--profile', file, '--placeholder-image', '--out', tempDir('apistack-validate-out-')]);
    expect(synth.status, synth.stderr).toBe(0);
    const everyTarget = cli(['profile', 'validate', file]);
    expect(everyTarget.status).toBe(1);
    expect(problemLines(everyTarget.stderr)).toHaveLength(2);
  }, 120_000);

  it('an unknown --target is a clear error', () => {
    const r = cli(['profile', 'validate', 'loadtest', '--target', 'gcp']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: unknown target "gcp"; use aws or k8s\n');
  });
});
