/**
 * cfn-lint over every template of every built-in profile, with a load test (the main stack is the
 * same without one: test/aws/stacks.test.ts), in one invocation. Zero findings, except the rules
 * listed here, each with what it matches and why it does not apply.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTINS, LOAD_TEST, synthBuiltin, type BuiltinSynth } from './builtin-synths.ts';

interface Finding {
  readonly Filename: string;
  readonly Level: string;
  readonly Message: string;
  readonly Location: { readonly Path: readonly (string | number)[] };
  readonly Rule: { readonly Id: string };
}

/** Resource type at a finding's path, looked up in its template. */
type TypeOf = (f: Finding) => string | undefined;

/** Findings that do not apply, one entry per rule: what is matched, and why. */
export const IGNORED: readonly { rule: string; matches: (f: Finding, typeOf: TypeOf) => boolean; reason: string }[] = [
  {
    rule: 'E3002',
    matches: (f, typeOf) => /'Tags' was unexpected/.test(f.Message) && ['AWS::ApplicationAutoScaling::ScalableTarget', 'AWS::ElasticLoadBalancingV2::Listener', 'AWS::Grafana::Workspace'].includes(typeOf(f) ?? ''),
    reason: "cfn-lint's resource schemas are older than aws-cdk-lib's, which is generated from CloudFormation's registry: there these three types take Tags (their APIs tag at creation: RegisterScalableTarget, elbv2 CreateListener, grafana CreateWorkspace), and CDK tags every resource its schema calls taggable with apistack:profile",
  },
  {
    rule: 'E4002',
    matches: (f) => f.Location.Path[0] === 'Metadata' && / is not of type 'string', 'integer', 'object', 'array', 'boolean'$/.test(f.Message),
    reason: "cfn-lint's schema of the template Metadata section has no fractional numbers; CloudFormation takes any JSON there, and the profile recorded for `apistack cost --from-template` holds some (slo.availabilityPercent 99.9, vcpuPerReplica 0.5)",
  },
  {
    rule: 'W3010',
    matches: (f) => /^Avoid hardcoding availability zones '/.test(f.Message),
    reason: 'The zones are the profile\'s (network.availabilityZoneNames or the region\'s first ones), named so that a synth needs no account lookup and two synths are identical',
  },
  {
    rule: 'W3005',
    matches: (f) => / dependency already enforced by a '(Ref|GetAtt)' at /.test(f.Message),
    reason: 'aws-cdk-lib writes DependsOn beside a Ref or GetAtt of the same resource (a role before its state machine, a listener before its service); CloudFormation orders them the same either way',
  },
  {
    rule: 'W3691',
    matches: (f) => /^Engine version '\d+' for engine 'postgres' is deprecated/.test(f.Message),
    reason: 'A major version alone ("16") is how the profile asks RDS for its current minor, kept current by autoMinorVersionUpgrade; cfn-lint lists bare majors among deprecated versions. A pinned minor RDS has deprecated (such as "16.1") is still reported',
  },
];

let synths: BuiltinSynth[] = [];
let findings: Finding[] = [];

function cfnLint(args: string[]): ReturnType<typeof spawnSync> {
  return spawnSync('cfn-lint', args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
}

beforeAll(() => {
  const version = cfnLint(['--version']);
  if (version.error || version.status !== 0) throw new Error(`cfn-lint is not installed (or not on PATH): install it with \`pip install cfn-lint\` (${version.error?.message ?? String(version.stderr)})`);
  synths = BUILTINS.map((name) => synthBuiltin(name, LOAD_TEST));
  const regions = [...new Set(synths.map((s) => s.profile.region))];
  const run = cfnLint(['--format', 'json', '--regions', ...regions, '--', ...synths.flatMap((s) => s.files)]);
  // cfn-lint exits non-zero whenever it reports anything; the JSON says what.
  expect(run.error).toBeUndefined();
  findings = JSON.parse(String(run.stdout)) as Finding[];
}, 600_000);

function typeOfIn(synths: readonly BuiltinSynth[]): TypeOf {
  return (f) => {
    const [section, id] = f.Location.Path;
    if (section !== 'Resources') return undefined;
    for (const s of synths) for (const [i, file] of s.files.entries()) if (file === f.Filename) return Object.values(s.templates)[i]!.Resources[id as string]?.Type as string | undefined;
    return undefined;
  };
}

describe('cfn-lint', () => {
  it('linted every template: each built-in profile\'s main and load-test stack', () => {
    expect(synths.flatMap((s) => s.files)).toHaveLength(BUILTINS.length * 2);
    // A template cfn-lint could not read would be one finding (E0000/E0003) and hide all others.
    expect(findings.filter((f) => /^E000/.test(f.Rule.Id))).toEqual([]);
  });

  it('zero findings outside the listed ignores', () => {
    const typeOf = typeOfIn(synths);
    const left = findings.filter((f) => !IGNORED.some((i) => i.rule === f.Rule.Id && i.matches(f, typeOf)));
    expect(left.map((f) => `${f.Rule.Id} ${f.Filename.split('/').pop()} ${f.Location.Path.join('/')}: ${f.Message}`)).toEqual([]);
  });

  it('every ignore still matches something (an ignore that matches nothing is removed) and says why', () => {
    const typeOf = typeOfIn(synths);
    for (const i of IGNORED) {
      expect(findings.some((f) => f.Rule.Id === i.rule && i.matches(f, typeOf)), i.rule).toBe(true);
      expect(i.reason.length, i.rule).toBeGreaterThan(80);
    }
  });
});
