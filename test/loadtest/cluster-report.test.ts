/**
 * The full report of a cluster run, from a real Prometheus (started with the flags the stack's
 * Prometheus runs with) that two k6 runners remote-wrote to as k6 does: cumulative counters and
 * native histograms every 5 s, each runner at its own moments, a warm-up as its own k6 scenario,
 * the runners' latency distributions far apart, a few 503s and timeouts. `apistack loadtest
 * report` gives the percentiles of the combined measured samples (to a bucket's width), totals
 * without the warm-up, the warm-up on the timeline, and the same report shape as a local run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReport } from '../../lib/loadtest/report.ts';
import { prometheusArgs } from '../../lib/monitoring/index.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { cli } from '../helpers/cli.ts';
import { bucketUpperBound, nativeHistogram, remoteWrite, type RemoteSeries } from '../helpers/remote-write.ts';
import { removeTempDir, startTestPrometheus, tempDir } from '../helpers/servers.ts';

const SCHEMA = 8;
const BUCKET_WIDTH = bucketUpperBound(1, SCHEMA) - 1;
const PUSH_MS = 5000;
const PUSHES = 12;
const WARMUP_SECONDS = 10;

/** Deterministic latencies in seconds, spread over [from, from + width], skewed by `power`. */
const spread = (n: number, from: number, width: number, power = 1, prime = 7919) => Array.from({ length: n }, (_, i) => from + width * (((i * prime) % n) / n) ** power);

interface Runner {
  readonly name: string;
  /** Where its pushes fall, relative to the run's start (runners push at their own moments). */
  readonly offsetMs: number;
  readonly vus: number;
  readonly warmup: readonly number[];
  readonly measured: readonly number[];
  /** Measured requests answered 503, and unanswered ones (k6 status 0, error_code 1050: timeout). */
  readonly failures: { readonly status503: number; readonly timeouts: number };
}

const runners: Runner[] = [
  { name: 'runner-a', offsetMs: 0, vus: 6, warmup: spread(500, 0.2, 0.1), measured: spread(3000, 0.01, 0.02), failures: { status503: 10, timeouts: 0 } },
  { name: 'runner-b', offsetMs: -1300, vus: 4, warmup: spread(200, 0.3, 0.05), measured: spread(1000, 0.05, 0.1, 2, 104729), failures: { status503: 0, timeouts: 10 } },
];

function percentileMs(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1]! * 1000;
}

const dir = tempDir('apistack-cluster-report-');
let prometheus: Awaited<ReturnType<typeof startTestPrometheus>>;
const runStart = Date.now() - (PUSHES * PUSH_MS + 3000);
const lastPush = runStart + PUSHES * PUSH_MS;
const warmupPushes = (WARMUP_SECONDS * 1000) / PUSH_MS;
const scenarioFile = join(dir, 'spread.json');

/** The first `k` of `total` pushes' share of `items`: k6 writes what was done so far. */
const upTo = <T,>(items: readonly T[], k: number, total: number) => items.slice(0, Math.round((items.length * k) / total));

function seriesOf(r: Runner): RemoteSeries[] {
  const base = { testid: 'spread', runner: r.name, name: 'GET /api/status', kind: 'status' };
  const times = Array.from({ length: PUSHES }, (_, i) => runStart + r.offsetMs + (i + 1) * PUSH_MS);
  // Push i (0-based) covers the warm-up while i < warmupPushes, the measured part after.
  const warm = (i: number) => Math.min(i + 1, warmupPushes);
  const meas = (i: number) => Math.max(0, i + 1 - warmupPushes);
  const measuredPushes = PUSHES - warmupPushes;
  const ok = r.measured.length - r.failures.status503 - r.failures.timeouts;
  const counter = (labels: Record<string, string>, value: (i: number) => number, from = 0): RemoteSeries => ({
    labels: { __name__: 'k6_http_reqs_total', ...base, ...labels },
    samples: times.slice(from).map((t, j) => ({ value: value(j + from), timestampMs: t })),
  });
  return [
    counter({ scenario: 'spread-warmup', status: '200', expected_response: 'true' }, (i) => upTo(r.warmup, warm(i), warmupPushes).length),
    { labels: { __name__: 'k6_http_req_duration_seconds', ...base, scenario: 'spread-warmup' }, histograms: times.map((t, i) => ({ histogram: nativeHistogram(upTo(r.warmup, warm(i), warmupPushes), SCHEMA), timestampMs: t })) },
    // The measured scenario's series appear with its first requests.
    counter({ scenario: 'spread', status: '200', expected_response: 'true' }, (i) => Math.round((ok * meas(i)) / measuredPushes), warmupPushes),
    ...(r.failures.status503 > 0 ? [counter({ scenario: 'spread', status: '503', expected_response: 'false', error_code: '1503' }, (i) => Math.round((r.failures.status503 * meas(i)) / measuredPushes), warmupPushes)] : []),
    ...(r.failures.timeouts > 0 ? [counter({ scenario: 'spread', status: '0', expected_response: 'false', error_code: '1050' }, (i) => Math.round((r.failures.timeouts * meas(i)) / measuredPushes), warmupPushes)] : []),
    { labels: { __name__: 'k6_http_req_duration_seconds', ...base, scenario: 'spread' }, histograms: times.slice(warmupPushes).map((t, j) => ({ histogram: nativeHistogram(upTo(r.measured, j + 1, measuredPushes), SCHEMA), timestampMs: t })) },
    { labels: { __name__: 'k6_vus', testid: 'spread', runner: r.name }, samples: times.map((t) => ({ value: r.vus, timestampMs: t })) },
  ];
}

beforeAll(async () => {
  const flags = prometheusArgs(loadProfile('optimized'), { remoteWriteReceiver: true }).filter((a) => a.startsWith('--web.enable-remote-write') || a.startsWith('--enable-feature'));
  prometheus = await startTestPrometheus({ tsdbDir: join(dir, 'tsdb'), args: flags });
  // An earlier run of the same scenario by another runner, its series still fresh when this run started: in none of its numbers.
  const earlier: RemoteSeries = { labels: { __name__: 'k6_http_reqs_total', testid: 'spread', runner: 'old-runner', scenario: 'spread', status: '200', expected_response: 'true', name: 'GET /api/status', kind: 'status' }, samples: [{ value: 99_999, timestampMs: runStart - 275_000 }, { value: 100_000, timestampMs: runStart - 270_000 }] };
  await remoteWrite(prometheus.url, [earlier, ...runners.flatMap(seriesOf)]);
  writeFileSync(scenarioFile, JSON.stringify({ name: 'spread', description: 'two runners far apart', durationSeconds: 50, warmupSeconds: WARMUP_SECONDS, connections: 10, parallelism: 2, mix: [{ kind: 'status', weight: 1 }], thresholds: { p95Ms: 120, errorRatePercent: 0.1 } }));
}, 120_000);
afterAll(async () => {
  await prometheus?.cleanup();
  removeTempDir(dir);
});

describe('apistack loadtest report --prometheus', () => {
  it("reports the run over every runner: the combined samples' percentiles, totals without the warm-up, the warm-up on the timeline", () => {
    const out = join(dir, 'report.json');
    const r = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'json', '--out', out]);
    // The 503s and the timeouts break the error-rate threshold: exit 2, as for a local run.
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/the latest run of spread, read at /);
    const report = readReport(out);

    const measured = runners.flatMap((x) => x.measured);
    expect(report.requests.total).toBe(measured.length);
    for (const [key, q] of [['p10', 0.1], ['p50', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99]] as const) {
      const exact = percentileMs(measured, q);
      expect(Math.abs(report.latencyMs[key] - exact) / exact, `${key}: ${report.latencyMs[key]} ms against ${exact} ms`).toBeLessThanOrEqual(BUCKET_WIDTH);
    }
    // The warm-up's slow requests would have made the p99 above 200 ms.
    expect(percentileMs([...measured, ...runners.flatMap((x) => x.warmup)], 0.99)).toBeGreaterThan(200);
    expect(report.latencyMs.max).toBeCloseTo(Math.max(...measured) * 1000, -0.5);
    expect(report.latencyMs.mean).toBeCloseTo((measured.reduce((a, b) => a + b, 0) / measured.length) * 1000, 1);
    expect(report.histogram.reduce((n, b) => n + b.count, 0)).toBe(measured.length);

    expect(report.statusCodes).toEqual({ 200: 3980, 503: 10 });
    expect(report.errors).toEqual({ 'non-2xx': 10, timeout: 10 });
    expect(report.successRate).toBeCloseTo(3980 / 4000, 6);
    expect(report.requests.byKind).toEqual({ status: 3990 });
    expect(report.connections).toBe(10);
    expect(report.warmup).toEqual({ seconds: WARMUP_SECONDS, requests: 700 });
    // From runner b's first push less one interval to runner a's last, less the warm-up.
    expect(report.durationSeconds).toBeCloseTo((lastPush - (runStart - 1300)) / 1000 - WARMUP_SECONDS, 1);
    expect(report.requests.perSecond).toBeCloseTo(4000 / report.durationSeconds, 1);
    expect(report.generator).toBe('k6 on 2 runners (scenario parallelism 2)');

    // Every request pushed is on the timeline, warm-up included; the warm-up's points are marked and slow.
    const timeline = report.timeline!;
    expect(timeline.reduce((n, p) => n + p.requests, 0)).toBe(4700);
    expect(timeline.every((p) => p.seconds === 5)).toBe(true);
    const warm = timeline.filter((p) => p.warmup);
    expect(warm.length).toBeGreaterThan(0);
    expect(warm.every((p) => p.t < WARMUP_SECONDS)).toBe(true);
    expect(warm[0]!.latencyMs.p50).toBeGreaterThan(200);
    // Each runner adds 300 and 100 requests a push; the last point holds only runner a's last push.
    const steady = timeline.filter((p) => p.t >= 15).slice(0, -1);
    expect(steady.length).toBe(9);
    for (const p of steady) {
      expect(p.requests).toBe(400);
      expect(p.latencyMs.p50).toBeLessThan(60);
    }

    expect(report.thresholds).toEqual([
      { name: 'p95Ms', limit: 120, actual: report.latencyMs.p95, passed: true, comparison: '<=' },
      { name: 'errorRatePercent', limit: 0.1, actual: 0.5, passed: false, comparison: '<=' },
    ]);
    // The summary on standard output says so too.
    expect(r.stdout).toMatch(/requests {6}4,000 total/);
    expect(r.stdout).toMatch(/warm-up: 10\.0 s, 700 requests before the measured run/);
    expect(r.stdout).toMatch(/verdict: FAIL \(1 of 2 thresholds not met\)/);
  }, 120_000);

  it('agrees with the verdict, which leaves the warm-up out too', () => {
    const at = String(lastPush / 1000);
    const report = JSON.parse(cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--at', at, '--format', 'json']).stdout);
    const v = cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--at', at, '--format', 'json']);
    const verdict = JSON.parse(v.stdout);
    expect(verdict.requests).toMatchObject({ total: 4000, errors: 20, runners: 2, warmupRequests: 700 });
    for (const key of ['p50', 'p95', 'p99'] as const) expect(verdict.requests.allRunnersMs[key]).toBeCloseTo(report.latencyMs[key], 2);
    expect(verdict.requests.seconds).toBeCloseTo(report.durationSeconds, 1);
    expect(verdict.thresholds.map((t: { passed: boolean }) => t.passed)).toEqual([true, false]);
    const text = cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--at', at]);
    expect(text.stdout).toMatch(/requests {3}4,000 from 2 runners in [\d.]+ s, [\d.]+ req\/s \(after a warm-up of 700 requests, in no total\)/);
  }, 120_000);

  it('writes the HTML report with its charts, the warm-up shaded, and markdown', () => {
    const html = join(dir, 'report.html');
    cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'html', '--out', html]);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg class="chart" id="throughput"');
    expect(page).toContain('<svg class="chart" id="latency"');
    expect(page).toMatch(/<rect class="warmup"/);
    expect(page).toMatch(/status 503<\/td><td>10</);
    expect(page).toMatch(/error: timeout<\/td><td>10</);
    const md = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'md']);
    expect(md.stdout).toMatch(/^## Load test `spread`/m);
  }, 120_000);

  it('says what is missing, without a stack trace', () => {
    const none = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', 'soak']);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no k6 series with testid=soak in Prometheus at http:\/\/127\.0\.0\.1:\d+/);
    expect(none.stderr).not.toMatch(/\n\s+at /);
    const stale = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--at', String(lastPush / 1000 + 3600)]);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(/none has a sample in the 5 minutes before .*: pass --at with a time during the run/);
    const format = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'pdf']);
    expect(format.status).toBe(1);
    expect(format.stderr).toMatch(/--format/);
  }, 120_000);
});
