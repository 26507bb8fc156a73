import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  alertRules,
  allRuleGroups,
  dashboardSpecs,
  grafanaDashboard,
  grafanaProvisioning,
  K6_METRICS,
  K6_TREND_STATS_ENV,
  k6TrendMetric,
  KNOWN_METRICS,
  latencyBucket,
  loadTestDashboardSpec,
  loadTestVerdicts,
  metricNamesIn,
  prometheusConfig,
  recordingRules,
  renderRulesYaml,
  renderYaml,
} from '../../lib/monitoring/index.ts';
import { builtinProfileNames, loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { promtool, tempDir } from '../helpers/servers.ts';

const profile = loadProfile('optimized');
const H = 'apistack_http_request_duration_seconds';

/**
 * Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects
 * `kubernetes_sd_configs`; swap those blocks for static targets and check everything else.
 */
function withoutKubernetesSd(config: Record<string, unknown>): Record<string, unknown> {
  const jobs = (config.scrape_configs as Record<string, unknown>[]).map((job) => {
    if (!job.kubernetes_sd_configs) return job;
    const { kubernetes_sd_configs: sd, ...rest } = job;
    expect(sd).toEqual([{ role: 'pod', namespaces: { names: ['apistack'] } }]);
    return { ...rest, static_configs: [{ targets: ['127.0.0.1:9464'] }] };
  });
  return { ...config, scrape_configs: jobs };
}

function annotationsOf(alert: string): Record<string, string> {
  const rule = alertRules(profile).flatMap((g) => g.rules).find((r) => r.alert === alert);
  if (!rule) throw new Error(`no alert ${alert}`);
  return rule.annotations ?? {};
}

describe('Prometheus configuration and rules (checked by the real promtool)', () => {
  it.each(builtinProfileNames())('rules for %s pass promtool check rules', (name) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rules.yml'), renderRulesYaml(loadProfile(name)));
    const r = promtool(['check', 'rules', 'rules.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it.each([
    ['local', { kind: 'local', apiMetricsTargets: ['127.0.0.1:9464', '127.0.0.1:9465'], prometheusTarget: '127.0.0.1:9090' }],
    ['kubernetes', { kind: 'kubernetes', namespace: 'apistack' }],
    ['aws', { kind: 'aws', apiMetricsDnsName: 'api.apistack.local', nginxExporterDnsName: 'nginx.apistack.local' }],
  ] as const)('the %s scrape configuration passes promtool check config', (_name, target) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rules.yml'), renderRulesYaml(profile));
    const config = prometheusConfig(profile, target, { ruleFiles: [join(dir, 'rules.yml')] });
    writeFileSync(join(dir, 'prometheus.yml'), renderYaml(withoutKubernetesSd(config)));
    const r = promtool(['check', 'config', 'prometheus.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('derives SLO thresholds from the profile', () => {
    const p = resolveProfileLayer({ extends: 'optimized', monitoring: { slo: { availabilityPercent: 99.5, latencyPercent: 95, latencyThresholdSeconds: 0.25 } } });
    const slo = alertRules(p)[0]!.rules;
    expect(slo[0]!.expr).toBe('(apistack:slo_errors:ratio_rate1h > 14.4 * 0.005 and apistack:slo_errors:ratio_rate5m > 14.4 * 0.005) or (apistack:slo_errors:ratio_rate6h > 6 * 0.005 and apistack:slo_errors:ratio_rate30m > 6 * 0.005)');
    expect(slo[1]!.expr).toBe('(apistack:slo_errors:ratio_rate3d > 1 * 0.005 and apistack:slo_errors:ratio_rate6h > 1 * 0.005)');
    expect(recordingRules(p)[1]!.rules.find((r) => r.record === 'apistack:slo_slow:ratio_rate1h')!.expr).toContain('le="0.25"');
  });

  it('rejects a latency objective that is not a histogram bucket', () => {
    expect(() => latencyBucket(0.3)).toThrow('monitoring.slo.latencyThresholdSeconds 0.3 is not a histogram bucket boundary; use one of 0.005, 0.01');
  });

  it('every rule expression uses only metrics that really exist', () => {
    const recorded = new Set(allRuleGroups(profile).flatMap((g) => g.rules.map((r) => r.record).filter((r): r is string => Boolean(r))));
    for (const rule of allRuleGroups(profile).flatMap((g) => g.rules)) {
      for (const name of metricNamesIn(rule.expr)) expect(KNOWN_METRICS.has(name) || recorded.has(name), `${rule.record ?? rule.alert}: ${name}`).toBe(true);
    }
  });

  it('the metric-name check catches a metric nobody exports', () => {
    expect(metricNamesIn('sum(rate(apistack_made_up_total[5m])) / sum(up{job="x"})')).toEqual(['apistack_made_up_total', 'up']);
    expect(KNOWN_METRICS.has('apistack_made_up_total')).toBe(false);
  });

  it('alert rules fire, stay quiet, and stay quiet with no traffic (promtool test rules)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rules.yml'), renderRulesYaml(profile));
    const ok = (route: string, perMin: number, mins: number) => ({ series: `${H}_count{route="${route}",status_code="200",method="GET",job="api",instance="a"}`, values: `0+${perMin}x${mins}` });
    const bad = (route: string, perMin: number, mins: number) => ({ series: `${H}_count{route="${route}",status_code="500",method="GET",job="api",instance="a"}`, values: `0+${perMin}x${mins}` });
    const tests = {
      rule_files: ['rules.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          name: '10% errors for 70 minutes burns the budget fast: page',
          interval: '1m',
          input_series: [ok('/api/events', 900, 80), bad('/api/events', 100, 80)],
          alert_rule_test: [
            { eval_time: '65m', alertname: 'ApistackAvailabilityBudgetBurnFast', exp_alerts: [{ exp_labels: { severity: 'page' }, exp_annotations: annotationsOf('ApistackAvailabilityBudgetBurnFast') }] },
            {
              eval_time: '65m',
              alertname: 'ApistackHighErrorRate',
              exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: annotationsOf('ApistackHighErrorRate') }],
            },
          ],
        },
        {
          name: '0.05% errors is within a 99.9% objective: quiet',
          interval: '1m',
          input_series: [ok('/api/events', 10000, 80), bad('/api/events', 5, 80)],
          alert_rule_test: [
            { eval_time: '65m', alertname: 'ApistackAvailabilityBudgetBurnFast', exp_alerts: [] },
            { eval_time: '65m', alertname: 'ApistackHighErrorRate', exp_alerts: [] },
          ],
        },
        {
          name: 'no traffic at all: quiet',
          interval: '1m',
          input_series: [{ series: 'up{job="api",instance="a"}', values: '1x80' }],
          alert_rule_test: ['ApistackAvailabilityBudgetBurnFast', 'ApistackAvailabilityBudgetBurnSlow', 'ApistackLatencyBudgetBurnFast', 'ApistackHighErrorRate', 'ApistackHighLatencyP95', 'ApistackLowCacheHitRatio', 'ApistackWorkerRestartStorm'].map((alertname) => ({ eval_time: '70m', alertname, exp_alerts: [] })),
        },
        {
          name: 'Redis down for 5 minutes pages; up stays quiet',
          interval: '1m',
          input_series: [
            { series: 'redis_up{instance="r1"}', values: '0x10' },
            { series: 'redis_up{instance="r2"}', values: '1x10' },
          ],
          alert_rule_test: [{ eval_time: '5m', alertname: 'ApistackRedisDown', exp_alerts: [{ exp_labels: { severity: 'page', instance: 'r1' }, exp_annotations: annotationsOf('ApistackRedisDown') }] }],
        },
        {
          name: 'a crash every minute is a restart storm; recycles are not',
          interval: '1m',
          input_series: [
            { series: 'apistack_worker_restarts_total{reason="crash",instance="a"}', values: '0+1x30' },
            { series: 'apistack_worker_restarts_total{reason="recycle",instance="b"}', values: '0+3x30' },
          ],
          alert_rule_test: [{ eval_time: '20m', alertname: 'ApistackWorkerRestartStorm', exp_alerts: [{ exp_labels: { severity: 'page', instance: 'a' }, exp_annotations: annotationsOf('ApistackWorkerRestartStorm') }] }],
        },
        {
          name: 'cache hit ratio of 50% warns after 30 minutes; 90% does not',
          interval: '1m',
          input_series: [
            { series: 'apistack_cache_requests_total{layer="l1",result="hit"}', values: '0+50x60' },
            { series: 'apistack_cache_requests_total{layer="l1",result="miss"}', values: '0+50x60' },
          ],
          alert_rule_test: [
            { eval_time: '20m', alertname: 'ApistackLowCacheHitRatio', exp_alerts: [] },
            { eval_time: '55m', alertname: 'ApistackLowCacheHitRatio', exp_alerts: [{ exp_labels: { severity: 'warning' }, exp_annotations: annotationsOf('ApistackLowCacheHitRatio') }] },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'tests.yml'), renderYaml(tests));
    const r = promtool(['test', 'rules', 'tests.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('a broken rule is caught by promtool (the check can fail)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rules.yml'), renderRulesYaml(profile).replace('sum by (route) (rate(', 'sum by (route) (rate(('));
    expect(promtool(['check', 'rules', 'rules.yml'], dir).code).not.toBe(0);
  });
});

describe('Grafana dashboards', () => {
  const specs = dashboardSpecs(profile);

  it('has the overview, workers, data and nginx dashboards', () => {
    expect(specs.map((s) => s.uid)).toEqual(['apistack-overview', 'apistack-workers', 'apistack-data', 'apistack-nginx']);
    const titles = specs.flatMap((s) => s.panels.map((p) => p.title));
    expect(titles).toEqual(expect.arrayContaining(['Requests per second by route', 'Error ratio by route', 'Latency p50 / p95 / p99', 'In-flight requests', 'Worker restarts by reason', 'Event-loop lag p99', 'Heap used', 'Cache hit ratio by layer', 'Active connections']));
  });

  it('every panel query passes promtool and uses only metrics that exist', () => {
    const recorded = new Set(recordingRules(profile).flatMap((g) => g.rules.map((r) => r.record!)));
    const exprs = specs.flatMap((s) => s.panels.flatMap((p) => p.exprs.map((e) => e.expr)));
    const dir = tempDir();
    writeFileSync(join(dir, 'panels.yml'), renderYaml({ groups: [{ name: 'panels', rules: exprs.map((expr, i) => ({ record: `panel:check:${i}`, expr })) }] }));
    const r = promtool(['check', 'rules', 'panels.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    for (const expr of exprs) for (const name of metricNamesIn(expr)) expect(KNOWN_METRICS.has(name) || recorded.has(name), `${expr}: ${name}`).toBe(true);
  });

  it('renders Grafana JSON with one target per query', () => {
    const d = grafanaDashboard(specs[0]!);
    expect(d).toMatchObject({ uid: 'apistack-overview', schemaVersion: 39 });
    const panels = d.panels as { targets: { expr: string; refId: string }[] }[];
    expect(panels[2]!.targets.map((t) => t.refId)).toEqual(['A', 'B', 'C']);
  });
});

describe('load-test dashboard (k6 remote-write metrics)', () => {
  const thresholds = { p95Ms: 50, p99Ms: 200, errorRatePercent: 0.1, minRequestsPerSecond: 2000 };
  const view = { testId: 'mixed', thresholds };
  const spec = loadTestDashboardSpec(profile, view);

  it('names the k6 metrics as the remote-write output writes them, from the trend stats the runners are given', () => {
    expect(K6_TREND_STATS_ENV).toBe('p(50),p(95),p(99)');
    expect(k6TrendMetric('http_req_duration', 'p(95)')).toBe('k6_http_req_duration_p95');
    expect(K6_METRICS).toEqual(expect.arrayContaining(['k6_http_reqs_total', 'k6_http_req_failed_rate', 'k6_vus', 'k6_http_req_duration_p50', 'k6_http_req_duration_p99', 'k6_iterations_total']));
    for (const name of K6_METRICS) expect(KNOWN_METRICS.has(name), name).toBe(true);
    expect(KNOWN_METRICS.has('k6_http_req_duration_p90')).toBe(false);
  });

  it('every panel query passes promtool and uses only metrics that exist (k6 and the API)', () => {
    const exprs = spec.panels.flatMap((p) => p.exprs.map((e) => e.expr));
    const dir = tempDir();
    writeFileSync(join(dir, 'panels.yml'), renderYaml({ groups: [{ name: 'panels', rules: exprs.map((expr, i) => ({ record: `panel:check:${i}`, expr })) }] }));
    const r = promtool(['check', 'rules', 'panels.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    for (const expr of exprs) for (const name of metricNamesIn(expr)) expect(KNOWN_METRICS.has(name), `${expr}: ${name}`).toBe(true);
    expect(exprs.some((e) => e.includes('k6_'))).toBe(true);
    expect(exprs.some((e) => e.includes('apistack_http_request_duration_seconds'))).toBe(true);
  });

  it('draws each threshold, and states one verdict per threshold across every runner', () => {
    const lines = spec.panels.flatMap((p) => p.exprs).filter((e) => e.legend.includes('threshold')).map((e) => e.expr);
    expect(lines).toEqual(['vector(2000)', 'vector(0.001)', 'vector(0.05)', 'vector(0.2)']);
    expect(loadTestVerdicts(view).map((v) => v.expr)).toEqual([
      // Over every runner from native histograms, or the worst runner's where runners wrote per-stat gauges.
      // The measured k6 scenario only (named like the testid): the warm-up is a scenario of its own.
      '(histogram_quantile(0.95, sum (k6_http_req_duration_seconds{testid="mixed",scenario="mixed"})) or max (k6_http_req_duration_p95{testid="mixed",scenario="mixed"})) < bool 0.05',
      '(histogram_quantile(0.99, sum (k6_http_req_duration_seconds{testid="mixed",scenario="mixed"})) or max (k6_http_req_duration_p99{testid="mixed",scenario="mixed"})) < bool 0.2',
      '(sum(k6_http_reqs_total{testid="mixed",scenario="mixed",expected_response="false"}) or vector(0)) / sum(k6_http_reqs_total{testid="mixed",scenario="mixed"}) < bool 0.001',
      'sum(rate(k6_http_reqs_total{testid="mixed",scenario="mixed"}[1m])) >= bool 2000',
    ]);
    // Every k6 series a panel reads is this run's.
    for (const expr of spec.panels.flatMap((p) => p.exprs.map((e) => e.expr))) {
      for (const m of expr.matchAll(/\bk6_\w+(\{[^}]*\})?/g)) expect(m[1] ?? '', `${expr}: ${m[0]}`).toContain('testid="mixed"');
    }
  });

  it('the verdicts compute across runners in Prometheus (promtool test rules)', () => {
    const dir = tempDir();
    const verdicts = loadTestVerdicts(view);
    writeFileSync(join(dir, 'verdicts.yml'), renderYaml({ groups: [{ name: 'verdicts', rules: verdicts.map((v, i) => ({ record: `verdict:${i}`, expr: v.expr })) }] }));
    // Two runners, 1,500 req/s each; 0.05% errors overall; runner b's p95 is the worst at 40 ms.
    // Beside them, series the verdicts must ignore: the setup run's (failing, slow), the warm-up's and another scenario's.
    const reqs = (runner: string, ok: string, expected: string, testid = 'mixed', scenario = testid) => ({ series: `k6_http_reqs_total{testid="${testid}",scenario="${scenario}",runner="${runner}",expected_response="${expected}",name="GET /api/status"}`, values: ok });
    const tests = {
      rule_files: ['verdicts.yml'],
      evaluation_interval: '15s',
      tests: [
        {
          interval: '15s',
          input_series: [
            reqs('a', '0+22500x8', 'true'),
            reqs('b', '0+22485x8', 'true'),
            reqs('b', '0+15x8', 'false'),
            { series: 'k6_http_req_duration_p95{testid="mixed",scenario="mixed",runner="a"}', values: '0.020x8' },
            { series: 'k6_http_req_duration_p95{testid="mixed",scenario="mixed",runner="b"}', values: '0.040x8' },
            { series: 'k6_http_req_duration_p99{testid="mixed",scenario="mixed",runner="a"}', values: '0.250x8' },
            reqs('0', '0+5000x8', 'false', 'mixed-setup', 'setup'),
            { series: 'k6_http_req_duration_p95{testid="mixed-setup",scenario="setup",runner="0"}', values: '0.900x8' },
            // The warm-up: slow and failing, in no verdict.
            reqs('a', '0+9000x8', 'false', 'mixed', 'mixed-warmup'),
            { series: 'k6_http_req_duration_p95{testid="mixed",scenario="mixed-warmup",runner="a"}', values: '0.800x8' },
            { series: 'k6_http_req_duration_p95{testid="status",runner="a"}', values: '0.700x8' },
          ],
          promql_expr_test: [
            { expr: 'verdict:0', eval_time: '2m', exp_samples: [{ labels: 'verdict:0', value: 1 }] },
            { expr: 'verdict:1', eval_time: '2m', exp_samples: [{ labels: 'verdict:1', value: 0 }] },
            { expr: 'verdict:2', eval_time: '2m', exp_samples: [{ labels: 'verdict:2', value: 1 }] },
            { expr: 'verdict:3', eval_time: '2m', exp_samples: [{ labels: 'verdict:3', value: 1 }] },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'tests.yml'), renderYaml(tests));
    const r = promtool(['test', 'rules', 'tests.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('Grafana provisioning adds it only when asked', () => {
    expect(Object.keys(grafanaProvisioning(profile, 'http://prometheus:9090').dashboards)).not.toContain('apistack-loadtest.json');
    const withLoadTest = grafanaProvisioning(profile, 'http://prometheus:9090', { loadTest: view });
    expect(Object.keys(withLoadTest.dashboards)).toContain('apistack-loadtest.json');
    expect(JSON.parse(withLoadTest.dashboards['apistack-loadtest.json']!).title).toBe('apistack / load test');
  });
});
