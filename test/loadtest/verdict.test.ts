/**
 * `apistack loadtest verdict`: one verdict over every k6 runner, asked of a real Prometheus whose
 * TSDB is backfilled (promtool tsdb create-blocks-from openmetrics) with series shaped as k6's
 * remote-write output writes them. The CLI runs as a subprocess, for its exit codes and output.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_THRESHOLD_FAILED } from '../../bin/commands/loadtest.ts';
import { cli } from '../helpers/cli.ts';
import { freePort, promtool, removeTempDir, startTestPrometheus, tempDir } from '../helpers/servers.ts';

/** A run of two minutes, three hours ago: well inside the backfilled block, far from the head. */
const T0 = Math.floor(Date.now() / 60_000) * 60 - 3 * 3600;
const RUN_SECONDS = 120;
/** k6 pushes every 5 s, the first push 5 s after it starts. */
const PUSH = 5;
const END = T0 + RUN_SECONDS;

type Series = { labels: Record<string, string>; value: (i: number) => number; from?: number };

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
}

/** OpenMetrics text: families grouped, each sample with its timestamp in seconds. */
function openMetrics(families: Record<string, { type: 'counter' | 'gauge'; series: Series[] }>): string {
  const out: string[] = [];
  for (const [name, family] of Object.entries(families)) {
    const sampleName = family.type === 'counter' ? `${name}_total` : name;
    out.push(`# TYPE ${name} ${family.type}`);
    for (const s of family.series) {
      const from = s.from ?? T0;
      for (let i = 1; i <= RUN_SECONDS / PUSH; i++) out.push(`${sampleName}{${labelText(s.labels)}} ${s.value(i)} ${from + i * PUSH}`);
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}

/** k6 labels every sample with its k6 scenario: the testid's for runners (lib/loadtest/k6.ts), `setup` for the setup run. */
const scenarioOf = (testid: string) => (testid.endsWith('-setup') ? 'setup' : testid);
const reqs = (testid: string, runner: string, expected: boolean, perPush: number, from?: number): Series => ({
  labels: { testid, runner, scenario: scenarioOf(testid), name: 'GET /api/status', status: expected ? '200' : '503', expected_response: String(expected) },
  value: (i) => i * perPush,
  ...(from !== undefined ? { from } : {}),
});
const gauge = (testid: string, runner: string, v: number, from?: number): Series => ({ labels: { testid, runner, scenario: scenarioOf(testid) }, value: () => v, ...(from !== undefined ? { from } : {}) });

/**
 * Runs "ok" and "slow": two runners at 500 req/s each, runner b failing 1 request per push (0.02%).
 * In "slow", runner b's p95 is 80 ms. Beside them, what must not count: the setup run of "ok"
 * (testid ok-setup, all failing, slow), another scenario's runner, and an earlier run of "ok"
 * (other runner names) that ended 8 minutes before this one started.
 */
const EARLIER = T0 - 600;
const data = openMetrics({
  k6_http_reqs: {
    type: 'counter',
    series: [
      reqs('ok', 'a', true, 2500),
      reqs('ok', 'b', true, 2500),
      reqs('ok', 'b', false, 1),
      reqs('slow', 'a', true, 2500),
      reqs('slow', 'b', true, 2500),
      reqs('slow', 'b', false, 1),
      reqs('ok-setup', '0', false, 5000),
      reqs('other', 'a', false, 9000),
      reqs('ok', 'old-a', false, 7000, EARLIER),
    ],
  },
  // Every runner pushes its virtual users at every interval: where and when each runner ran.
  k6_vus: {
    type: 'gauge',
    series: [
      ...(['ok', 'slow', 'other'] as const).flatMap((testid) => ['a', 'b'].map((runner) => ({ labels: { testid, runner }, value: () => 5 }))),
      { labels: { testid: 'ok-setup', runner: '0' }, value: () => 1 },
      { labels: { testid: 'ok', runner: 'old-a' }, value: () => 5, from: EARLIER },
    ],
  },
  k6_http_req_duration_p50: { type: 'gauge', series: [gauge('ok', 'a', 0.004), gauge('ok', 'b', 0.005), gauge('slow', 'a', 0.004), gauge('slow', 'b', 0.006)] },
  k6_http_req_duration_p95: {
    type: 'gauge',
    series: [gauge('ok', 'a', 0.02), gauge('ok', 'b', 0.04), gauge('slow', 'a', 0.02), gauge('slow', 'b', 0.08), gauge('ok-setup', '0', 0.9), gauge('other', 'a', 0.7), gauge('ok', 'old-a', 0.5, EARLIER)],
  },
  k6_http_req_duration_p99: { type: 'gauge', series: [gauge('ok', 'a', 0.06), gauge('ok', 'b', 0.09), gauge('slow', 'a', 0.06), gauge('slow', 'b', 0.12)] },
});

const dir = tempDir('apistack-verdict-');
function scenarioFile(name: string, thresholds: Record<string, number>): string {
  const file = join(dir, `${name}-${Object.keys(thresholds).length}.json`);
  writeFileSync(file, JSON.stringify({ name, description: 'k6 in a cluster', durationSeconds: RUN_SECONDS, connections: 10, parallelism: 2, mix: [{ kind: 'status', weight: 1 }], thresholds }));
  return file;
}
const THRESHOLDS = { p95Ms: 50, p99Ms: 200, errorRatePercent: 0.1, minRequestsPerSecond: 100 };

let prometheus: Awaited<ReturnType<typeof startTestPrometheus>>;
beforeAll(async () => {
  writeFileSync(join(dir, 'k6.om'), data);
  const r = promtool(['tsdb', 'create-blocks-from', 'openmetrics', 'k6.om', 'tsdb'], dir);
  if (r.code !== 0) throw new Error(`promtool could not backfill the k6 series:\n${r.output}`);
  prometheus = await startTestPrometheus({ tsdbDir: join(dir, 'tsdb') });
});
afterAll(async () => {
  await prometheus?.cleanup();
  removeTempDir(dir);
});

const verdict = (...args: string[]) => cli(['loadtest', 'verdict', '--prometheus', prometheus.url, ...args]);

function oneLineError(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('apistack loadtest verdict (a real Prometheus with backfilled k6 series)', () => {
  it('two runners meeting every threshold: exit 0, each threshold with its value, the totals of this run only', () => {
    const r = verdict('--scenario', scenarioFile('ok', THRESHOLDS), '--at', String(END), '--format', 'json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ scenario: 'ok', prometheus: prometheus.url, at: new Date(END * 1000).toISOString(), passed: true });
    expect(v.thresholds).toEqual([
      { name: 'p(95) < 50 ms', threshold: 'p95Ms', limit: 50, passed: true, actual: 40 },
      { name: 'p(99) < 200 ms', threshold: 'p99Ms', limit: 200, passed: true, actual: 90 },
      { name: 'errors < 0.1%', threshold: 'errorRatePercent', limit: 0.1, passed: true, actual: expect.closeTo((24 / 120_024) * 100, 3) },
      { name: 'throughput >= 100 req/s', threshold: 'minRequestsPerSecond', limit: 100, passed: true, actual: expect.closeTo(1000.2, 1) },
    ]);
    // Neither the setup run, nor the other scenario, nor the earlier run of "ok" is counted.
    expect(v.requests).toEqual({ total: 120_024, errors: 24, errorRatePercent: expect.closeTo(0.019996, 5), runners: 2, warmupRequests: 0, seconds: 120, perSecond: 1000.2, worstRunnerMs: { p50: 5, p95: 40, p99: 90 }, allRunnersMs: {} });
  });

  it('says in text which runner the percentiles are from, and that they are an upper bound', () => {
    const r = verdict('--scenario', scenarioFile('ok', THRESHOLDS), '--at', new Date(END * 1000).toISOString());
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/PASS {2}p\(95\) < 50 ms\s+actual 40\.0 ms \(worst runner\)/);
    expect(r.stdout).toContain('requests   120,024 from 2 runners in 120.0 s, 1,000.2 req/s');
    expect(r.stdout).toContain("latency    p50 5.0 ms, p95 40.0 ms, p99 90.0 ms: the worst runner's, an upper bound for the whole run");
    expect(r.stdout.trim().split('\n').at(-1)).toBe('PASS (4 of 4 thresholds met)');
  });

  it("one runner's p95 over the limit: exit 2, as a failed threshold of apistack loadtest, and that threshold failed", () => {
    const r = verdict('--scenario', scenarioFile('slow', THRESHOLDS), '--at', String(END), '--format', 'json');
    expect(EXIT_THRESHOLD_FAILED).toBe(2);
    expect(r.status).toBe(EXIT_THRESHOLD_FAILED);
    const v = JSON.parse(r.stdout);
    expect(v.passed).toBe(false);
    expect(v.thresholds.map((t: { name: string; passed: boolean }) => [t.name, t.passed])).toEqual([
      ['p(95) < 50 ms', false],
      ['p(99) < 200 ms', true],
      ['errors < 0.1%', true],
      ['throughput >= 100 req/s', true],
    ]);
    expect(v.thresholds[0].actual).toBe(80);
    const text = verdict('--scenario', scenarioFile('slow', THRESHOLDS), '--at', String(END));
    expect(text.status).toBe(2);
    expect(text.stdout).toMatch(/FAIL {2}p\(95\) < 50 ms\s+actual 80\.0 ms/);
    expect(text.stdout.trim().split('\n').at(-1)).toBe('FAIL (1 of 4 thresholds not met)');
  });

  it('asked after the run, it judges the whole run: the same verdict an hour later as at its end', () => {
    const atEnd = JSON.parse(verdict('--scenario', scenarioFile('ok', THRESHOLDS), '--at', String(END), '--format', 'json').stdout);
    const later = verdict('--scenario', scenarioFile('ok', THRESHOLDS), '--at', String(END + 3600), '--format', 'json');
    expect(later.status).toBe(0);
    expect(JSON.parse(later.stdout)).toEqual(atEnd);
    const text = verdict('--scenario', scenarioFile('ok', THRESHOLDS), '--at', String(END + 120));
    expect(text.stdout).toMatch(/PASS {2}throughput >= 100 req\/s\s+actual 1,000\.2 req\/s over the measured run/);
    expect(text.stdout.split('\n')[0]).toBe(`ok: verdict over every runner, from Prometheus at ${prometheus.url}, the run up to ${new Date(END * 1000).toISOString()}`);
  });

  it('a scenario without thresholds says so and exits 0, as apistack loadtest does', () => {
    const r = verdict('--scenario', scenarioFile('ok', {}), '--at', String(END));
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('no thresholds');
    expect(r.stdout).toContain('requests   120,024 from 2 runners');
  });

  it('no series with the testid: exit 1, one line that says where the runners should have written', () => {
    const r = verdict('--scenario', 'soak', '--at', String(END));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLineError(r.stderr)).toBe(
      `error: no k6 series with testid=soak in Prometheus at ${prometheus.url}: did the runners remote-write there (K6_PROMETHEUS_RW_SERVER_URL), and is the run within Prometheus' retention?`,
    );
  });

  it('series of the testid, but none in the day before --at: exit 1, saying to pass a time during or after the run', () => {
    const r = verdict('--scenario', scenarioFile('ok', THRESHOLDS), '--at', String(T0 - 1200));
    expect(r.status).toBe(1);
    expect(oneLineError(r.stderr)).toMatch(/^error: k6 series with testid=ok are in Prometheus at .*, but none has a sample in the day before .*: pass --at with a time during the run or after it$/);
  });

  it('Prometheus not listening: exit 1, one line, no stack trace', async () => {
    const port = await freePort();
    const r = cli(['loadtest', 'verdict', '--prometheus', `http://127.0.0.1:${port}`, '--scenario', 'mixed']);
    expect(r.status).toBe(1);
    expect(oneLineError(r.stderr)).toMatch(new RegExp(`^error: cannot reach Prometheus at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });

  it("an answer that is not Prometheus' is one line too; bad flags are refused before any request", () => {
    const notProm = cli(['loadtest', 'verdict', '--prometheus', `${prometheus.url}/graph`, '--scenario', 'mixed']);
    expect(notProm.status).toBe(1);
    expect(oneLineError(notProm.stderr)).toMatch(/did not answer like Prometheus \(HTTP \d+ to \/api\/v1\/query\): is it Prometheus' base URL\?$/);
    const badAt = verdict('--scenario', 'mixed', '--at', 'yesterday');
    expect(badAt.status).toBe(1);
    expect(oneLineError(badAt.stderr)).toContain('--at must be an RFC 3339 time');
    const noUrl = cli(['loadtest', 'verdict', '--scenario', 'mixed']);
    expect(noUrl.status).toBe(1);
    expect(oneLineError(noUrl.stderr)).toContain('--prometheus URL');
  });
});
