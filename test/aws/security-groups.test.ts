/** Security groups allow exactly the paths the stack needs, and no others. */
import { describe, expect, it } from 'vitest';
import { synth, resources, type Synth } from './fixtures.ts';

describe('security groups allow exactly the paths the stack needs', () => {
  function edges(s: Synth): string[] {
    const groups = new Map(resources(s, 'AWS::EC2::SecurityGroup').map(([id, g]) => [id, String(g.GroupDescription)]));
    const name = (ref: unknown) => {
      const id = (ref as { 'Fn::GetAtt'?: [string] })?.['Fn::GetAtt']?.[0];
      const d = id ? groups.get(id) : undefined;
      return d ? d.split(':')[0]! : JSON.stringify(ref);
    };
    const out: string[] = [];
    for (const [id, g] of resources(s, 'AWS::EC2::SecurityGroup')) {
      for (const rule of (g.SecurityGroupIngress as Record<string, unknown>[] | undefined) ?? []) {
        out.push(`${rule.CidrIp ? (typeof rule.CidrIp === 'string' ? rule.CidrIp : 'vpc') : name(rule.SourceSecurityGroupId)} -> ${groups.get(id)!.split(':')[0]}:${rule.FromPort}`);
      }
    }
    // RDS's port is a reference to the instance's endpoint port.
    const port = (p: unknown) => (typeof p === 'object' ? 'endpoint port' : String(p));
    for (const [, r] of resources(s, 'AWS::EC2::SecurityGroupIngress')) out.push(`${name(r.SourceSecurityGroupId)} -> ${name(r.GroupId)}:${port(r.FromPort)}`);
    return [...new Set(out)].sort();
  }

  it('nlb and self-hosted monitoring', () => {
    expect(edges(synth('optimized'))).toEqual(
      [
        '0.0.0.0/0 -> NLB:80',
        'NLB -> nginx tasks:8080',
        'nginx tasks -> API tasks:8000',
        'API tasks -> Postgres:5432',
        'API tasks -> valkey:6379',
        'Prometheus and Grafana -> API tasks:9464',
        'Prometheus and Grafana -> nginx tasks:9113',
        'Prometheus and Grafana -> Prometheus and Grafana:9090',
        'Prometheus and Grafana -> EFS:2049',
        // The Secrets Manager rotation function logs in to rotate the password.
        'apistack-optimized/Database/Postgres/RotationSingleUser/SecurityGroup -> Postgres:endpoint port',
      ].sort(),
    );
  });

  it('with a certificate: 443 from the internet to the NLB; 443 and the redirecting 80 to the ALB', () => {
    expect(edges(synth('nlb-tls')).filter((e) => e.startsWith('0.0.0.0/0'))).toEqual(['0.0.0.0/0 -> NLB:443']);
    expect(edges(synth('alb-tls')).filter((e) => e.startsWith('0.0.0.0/0'))).toEqual(['0.0.0.0/0 -> ALB:443', '0.0.0.0/0 -> ALB:80']);
  });

  it('alb, managed monitoring and interface endpoints', () => {
    expect(edges(synth('alb-managed'))).toEqual(
      [
        '0.0.0.0/0 -> ALB:80',
        'ALB -> API tasks:8000',
        'API tasks -> Postgres:5432',
        'API tasks -> valkey:6379',
        'apistack-alb-managed/Database/Postgres/RotationSingleUser/SecurityGroup -> Postgres:endpoint port',
        ...['EcrApi', 'EcrDocker', 'Logs', 'SecretsManager'].map((e) => `vpc -> apistack-alb-managed/Network/Vpc/${e}/SecurityGroup:443`),
      ].sort(),
    );
  });
});
