/** Monitoring: self-hosted Prometheus and Grafana on EFS, or the managed services, configured from lib/monitoring. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRulesYaml } from '../../lib/monitoring/index.ts';
import { PORTS } from '../../lib/profile/index.ts';
import { synth, resources, only, containers, taskWith, envOf } from './fixtures.ts';

describe('monitoring', () => {
  it('self-hosted: Prometheus and Grafana services on encrypted EFS, configured from lib/monitoring', () => {
    const s = synth('optimized');
    s.template.hasResourceProperties('AWS::EFS::FileSystem', { Encrypted: true });
    s.template.resourceCountIs('AWS::EFS::AccessPoint', 2);
    for (const name of ['prometheus', 'grafana']) {
      expect(containers(s, name)).toHaveLength(1);
      expect(taskWith(s, name).Volumes).toEqual([expect.objectContaining({ Name: 'data', EFSVolumeConfiguration: expect.objectContaining({ TransitEncryption: 'ENABLED' }) })]);
    }
    expect(containers(s, 'grafana')[0]!.Secrets).toEqual([expect.objectContaining({ Name: 'GF_SECURITY_ADMIN_PASSWORD' })]);
    const files = readdirSync(s.dir).filter((d) => d.startsWith('asset.')).flatMap((d) => readdirSync(join(s.dir, d)).map((f) => join(s.dir, d, f)));
    const promYaml = readFileSync(files.find((f) => f.endsWith('prometheus.yml'))!, 'utf8');
    expect(promYaml).toContain('api.apistack.internal');
    expect(promYaml).toContain('nginx.apistack.internal');
    expect(readFileSync(files.find((f) => f.endsWith('rules.yml'))!, 'utf8')).toBe(renderRulesYaml(s.profile));
    s.template.resourceCountIs('AWS::APS::Workspace', 0);
  });

  it('managed: a workspace with the rules, a collector beside every API task, Managed Grafana', () => {
    const s = synth('alb-managed');
    expect(only(s, 'AWS::APS::RuleGroupsNamespace').Data).toBe(renderRulesYaml(s.profile));
    s.template.resourceCountIs('AWS::APS::Workspace', 1);
    s.template.hasResourceProperties('AWS::Grafana::Workspace', { AccountAccessType: 'CURRENT_ACCOUNT', DataSources: ['PROMETHEUS', 'CLOUDWATCH'] });
    const collector = containers(s, 'collector')[0]!;
    expect(collector.Essential).toBe(false);
    expect(JSON.stringify(envOf(collector).AOT_CONFIG_CONTENT)).toContain(`127.0.0.1:${PORTS.apiMetrics}`);
    expect(taskWith(s, 'collector')).toBe(taskWith(s, 'api'));
    s.template.resourceCountIs('AWS::EFS::FileSystem', 0);
  });

  it.each([
    ['optimized', ['CacheMemory', 'DatabaseConnections', 'DatabaseCpu', 'DatabaseStorage', 'Nginx5xx', 'UnhealthyHosts']],
    ['alb-managed', ['Alb5xx', 'CacheMemory', 'DatabaseConnections', 'DatabaseCpu', 'DatabaseStorage', 'Target5xx', 'UnhealthyHosts']],
    ['nlb-no-access-log', ['CacheMemory', 'DatabaseConnections', 'DatabaseCpu', 'DatabaseStorage', 'NginxUpstreamErrors', 'UnhealthyHosts']],
  ])('%s: CloudWatch alarms page through an encrypted topic', (name, expected) => {
    const s = synth(name);
    const alarms = resources(s, 'AWS::CloudWatch::Alarm');
    expect(alarms.map(([id]) => id.replace(/^Alarms/, '').replace(/[A-F0-9]{8}$/, '')).sort()).toEqual(expected);
    for (const [, a] of alarms) expect(a.AlarmActions).toHaveLength(1);
    // The nginx alarm counts what nginx logs: 5xx statuses from the access log, or upstream failures from the error log when the access log is off.
    const filters = resources(s, 'AWS::Logs::MetricFilter').map(([, f]) => f.FilterPattern);
    if (expected.includes('Nginx5xx')) expect(filters).toEqual(['{ $.status = "5*" }']);
    else if (expected.includes('NginxUpstreamErrors')) expect(filters).toEqual(['"[error]" "upstream"']);
    else expect(filters).toEqual([]);
    const connections = alarms.find(([id]) => id.startsWith('AlarmsDatabaseConnections'))![1];
    expect(connections.Threshold).toBe(Math.floor((s.profile.derived.postgres.budgetAws.maxConnections * s.profile.monitoring.alerts.dbConnectionsPercent) / 100));
  });
});
