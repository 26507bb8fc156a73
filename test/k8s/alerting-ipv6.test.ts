/**
 * Smaller platform facts: alert rules reach the Alertmanager the profile names (the config is
 * checked by the real promtool), and the API listens where IPv4, IPv6-only and dual-stack
 * clusters all reach it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderYaml } from '../../lib/monitoring/index.ts';
import { loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { buildApp, migrated } from '../app/harness.ts';
import { promtool, startTestPostgres, startTestRedis, tempDir } from '../helpers/servers.ts';
import { synthObjects } from './synth.ts';

const withAlertmanager = resolveProfileLayer({ extends: 'optimized', monitoring: { alertmanagerUrl: 'http://alertmanager-operated.monitoring.svc:9093/am' } });

describe('alerts reach an Alertmanager', () => {
  it('the Prometheus config sends alerts to the profile Alertmanager, and promtool accepts it', () => {
    const s = synthObjects({ profile: withAlertmanager });
    const config = parse(s.find('ConfigMap', 'prometheus-config').data!['prometheus.yml']!);
    expect(config.alerting).toEqual({ alertmanagers: [{ scheme: 'http', path_prefix: '/am', static_configs: [{ targets: ['alertmanager-operated.monitoring.svc:9093'] }] }] });
    // Debian's promtool has no Kubernetes service discovery: check the rest with static targets.
    const checked = { ...config, rule_files: [], scrape_configs: config.scrape_configs.map(({ kubernetes_sd_configs: _sd, ...job }: any) => ({ ...job, static_configs: job.static_configs ?? [{ targets: ['127.0.0.1:9464'] }] })) };
    const dir = tempDir('apistack-alerting-');
    writeFileSync(join(dir, 'prometheus.yml'), renderYaml(checked));
    const r = promtool(['check', 'config', 'prometheus.yml'], dir);
    expect(r.code, r.output).toBe(0);
    // default-deny stays; Prometheus may leave for that port.
    const egressPorts = s.find('NetworkPolicy', 'prometheus').spec.egress.flatMap((rule: any) => rule.ports.map((p: any) => p.port));
    expect(egressPorts).toContain(9093);
  });

  it('without one, no alerting section and no extra egress', () => {
    const s = synthObjects({ profile: loadProfile('optimized') });
    expect(parse(s.find('ConfigMap', 'prometheus-config').data!['prometheus.yml']!).alerting).toBeUndefined();
    expect(s.find('NetworkPolicy', 'prometheus').spec.egress.flatMap((rule: any) => rule.ports.map((p: any) => p.port))).not.toContain(9093);
  });

  it('a URL that is not http(s)://HOST:PORT is refused with the field and an example', () => {
    expect(() => resolveProfileLayer({ extends: 'optimized', monitoring: { alertmanagerUrl: 'alertmanager:9093' } })).toThrow(/monitoring\.alertmanagerUrl.*http:\/\/alertmanager\.monitoring\.svc:9093/s);
  });
});

describe('the API listens on every address family', () => {
  it('the Kubernetes ConfigMap says HOST=::, and an API listening there answers on IPv4 and IPv6', async () => {
    expect(synthObjects({ profile: loadProfile('optimized') }).find('ConfigMap', 'api-config').data!.HOST).toBe('::');
    const [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
    try {
      await migrated(pg.url);
      const built = await buildApp(pg.url, redis.url);
      try {
        await built.app.listen({ host: '::', port: 0 });
        const port = (built.app.server.address() as { port: number }).port;
        for (const host of ['127.0.0.1', '[::1]']) expect((await fetch(`http://${host}:${port}/healthz`)).status, host).toBe(200);
      } finally {
        await built.close();
      }
    } finally {
      await Promise.all([pg.cleanup(), redis.cleanup()]);
    }
  });
});
