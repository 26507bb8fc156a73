/** The balancers: nginx on Fargate behind an NLB, or the ALB, with and without a certificate, and their access logs. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PORTS } from '../../lib/profile/index.ts';
import { certificateArn, synth, resources, only, type Synth } from './fixtures.ts';

describe('load balancer', () => {
  it('nlb: nginx on Fargate renders least_conn over the Cloud Map name, behind an NLB with the graceful deregistration delay', () => {
    const s = synth('optimized');
    const p = s.profile;
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      Protocol: 'TCP',
      TargetType: 'ip',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(p.api.gracefulTimeoutSeconds) }]),
    });
    const nginx = resources(s, 'AWS::ECS::Service').find(([id]) => id.startsWith('NginxService'))![1];
    expect(nginx).toMatchObject({ DesiredCount: p.nginx.replicasMin, DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100 } });
    // The rendered config is the image's build context.
    const conf = readdirSync(s.dir)
      .filter((d) => d.startsWith('asset.'))
      .flatMap((d) => readdirSync(join(s.dir, d)).filter((f) => f === 'nginx.conf').map((f) => readFileSync(join(s.dir, d, f), 'utf8')));
    expect(conf).toHaveLength(1);
    expect(conf[0]).toContain('least_conn;');
    expect(conf[0]).toMatch(/server api\.apistack\.internal:8000 .*resolve/);
    expect(conf[0]).toContain('resolver 169.254.169.253');
  });

  const listeners = (s: Synth) =>
    resources(s, 'AWS::ElasticLoadBalancingV2::Listener')
      .map(([, l]) => ({ port: l.Port, protocol: l.Protocol, certificates: l.Certificates, sslPolicy: l.SslPolicy, action: (l.DefaultActions as { Type: string }[])[0]!.Type }))
      .sort((a, b) => Number(a.port) - Number(b.port));
  const accessLogs = (s: Synth) => {
    const attributes = only(s, 'AWS::ElasticLoadBalancingV2::LoadBalancer').LoadBalancerAttributes as { Key: string; Value: unknown }[];
    return attributes.find((a) => a.Key === 'access_logs.s3.enabled')?.Value;
  };
  const publicIngress = (s: Synth) =>
    resources(s, 'AWS::EC2::SecurityGroup')
      .flatMap(([, g]) => (g.SecurityGroupIngress as { CidrIp?: string; FromPort: number }[] | undefined) ?? [])
      .filter((r) => r.CidrIp === '0.0.0.0/0')
      .map((r) => r.FromPort)
      .sort((a, b) => a - b);
  const tls = { sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06', certificates: [{ CertificateArn: certificateArn('us-east-1') }] };

  it('nlb without a certificate: plain TCP on 80, no access-log bucket it could never fill, and the acknowledgement says why', () => {
    const s = synth('optimized');
    expect(listeners(s)).toEqual([{ port: 80, protocol: 'TCP', certificates: undefined, sslPolicy: undefined, action: 'forward' }]);
    expect(accessLogs(s)).toBeUndefined();
    s.template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(publicIngress(s)).toEqual([80]);
    const elb2 = s.suppressions.filter((x) => x.ruleId === 'AwsSolutions-ELB2');
    expect(elb2).toHaveLength(1);
    expect(elb2[0]!.reason).toContain('NLBs write access logs for TLS listeners only');
    expect(elb2[0]!.reason).toContain('nginx\'s JSON access log in CloudWatch Logs');
  });

  it('nlb with a certificate: TLS on 443 only (an NLB cannot redirect 80), to nginx, access logs to an encrypted bucket', () => {
    const s = synth('nlb-tls');
    expect(listeners(s)).toEqual([{ port: 443, protocol: 'TLS', ...tls, action: 'forward' }]);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8080, Protocol: 'TCP' });
    expect(accessLogs(s)).toBe('true');
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.prefix', Value: 'nlb' }]) });
    s.template.hasResourceProperties('AWS::S3::Bucket', { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    expect(publicIngress(s)).toEqual([443]);
    expect(s.suppressions.filter((x) => x.ruleId === 'AwsSolutions-ELB2')).toEqual([]);
  });

  it('alb without a certificate: HTTP on 80 with access logs', () => {
    const s = synth('alb-managed');
    expect(listeners(s)).toEqual([{ port: 80, protocol: 'HTTP', certificates: undefined, sslPolicy: undefined, action: 'forward' }]);
    expect(accessLogs(s)).toBe('true');
    expect(publicIngress(s)).toEqual([80]);
  });

  it('alb with a certificate: HTTPS on 443 to the API, 80 redirects to it, access logs', () => {
    const s = synth('alb-tls');
    expect(listeners(s)).toEqual([
      { port: 80, protocol: 'HTTP', certificates: undefined, sslPolicy: undefined, action: 'redirect' },
      { port: 443, protocol: 'HTTPS', ...tls, action: 'forward' },
    ]);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }] });
    expect(accessLogs(s)).toBe('true');
    expect(publicIngress(s)).toEqual([80, 443]);
  });

  it('the stack names its load balancer for DNS', () => {
    synth('optimized').template.hasOutput('LoadBalancerDnsName', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NginxLoadBalancer'), 'DNSName'] } });
  });

  it('alb: least outstanding requests straight to the API tasks, access logs, the graceful deregistration delay', () => {
    const s = synth('alb-managed');
    s.template.resourceCountIs('AWS::ECS::Service', 1);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'application',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: PORTS.api,
      HealthCheckPath: '/readyz',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: String(s.profile.api.gracefulTimeoutSeconds) }]),
    });
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'load_balancing.algorithm.type', Value: 'least_outstanding_requests' }]),
    });
  });
});
