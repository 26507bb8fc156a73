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

/** k6 writes native histograms with a bucket factor of 1.1, which is schema 3: buckets 9% wide. */
const SCHEMA = 3;
const BUCKET_WIDTH = bucketUpperBound(1, SCHEMA) - 1;
const PUSH_MS = 5000;
/** Over 5 minutes: series that stop early (the warm-up's, the 503s') have gone stale by its end. */
const PUSHES = 82;
const WARMUP_PUSHES = 2;
const WARMUP_SECONDS = 10;
const MEASURED_PUSHES = PUSHES - WARMUP_PUSHES;

/** Deterministic latencies in seconds, spread over [from, from + width], skewed by `power`. */
const spread = (n: number, from: number, width: number, power = 1, prime = 7919) => Array.from({ length: n }, (_, i) => from + width * (((i * prime) % n) / n) ** power);

interface Runner {
  readonly name: string;
  /** Where its pushes fall, relative to the run's start (runners push at their own moments). */
  readonly offsetMs: number;
  /** How much later than its k6_vus sample a push stamps its request series (k6 stamps each series with its latest sample). */
  readonly requestLagMs: number;
  readonly vus: number;
  readonly warmup: readonly number[];
  /** Latencies of the answered measured requests, in order. */
  readonly answered: readonly number[];
  /** Answered 503 in the first `pushes` measured pushes, `perPush` a push (then never again). */
  readonly status503: { readonly perPush: number; readonly pushes: number };
  /** No answer (k6: status 0, error_code 1050), likewise. */
  readonly timeouts: { readonly perPush: number; readonly pushes: number };
}

// Runner a: 4,000 answered requests at 10-30 ms (10 of them 503s); runner b: 1,590 at 50-150 ms, skewed, and 10 timeouts.
const runners: Runner[] = [
  { name: 'runner-a', offsetMs: 0, requestLagMs: 800, vus: 6, warmup: spread(500, 0.2, 0.1), answered: spread(4000, 0.01, 0.02), status503: { perPush: 2, pushes: 5 }, timeouts: { perPush: 0, pushes: 0 } },
  { name: 'runner-b', offsetMs: -1300, requestLagMs: 0, vus: 4, warmup: spread(200, 0.3, 0.05), answered: spread(1590, 0.05, 0.1, 2, 104729), status503: { perPush: 0, pushes: 0 }, timeouts: { perPush: 1, pushes: 10 } },
];

function percentileMs(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1]! * 1000;
}

const dir = tempDir('apistack-cluster-report-');
let prometheus: Awaited<ReturnType<typeof startTestPrometheus>>;
const runStart = Date.now() - (PUSHES * PUSH_MS + 3000);
const lastPush = runStart + PUSHES * PUSH_MS;
/** Runner a's last request samples, the run's last sample of all. */
const lastSample = lastPush + 800;
const scenarioFile = join(dir, 'spread.json');
const shortFile = join(dir, 'short.json');

type Labels = Record<string, string>;

/**
 * What a k6 runner remote-writes: at every push, k6_vus, and every series that got requests since
 * the last push (cumulative); a series without new requests is not pushed, and no staleness
 * marker is written.
 */
function seriesOf(r: Runner): RemoteSeries[] {
  const base = { testid: 'spread', runner: r.name, name: 'GET /api/status', kind: 'status', method: 'GET' };
  const at = (i: number) => runStart + r.offsetMs + (i + 1) * PUSH_MS;
  const counters = new Map<string, { labels: Labels; samples: { value: number; timestampMs: number }[]; n: number }>();
  const histograms = new Map<string, { labels: Labels; histograms: { histogram: ReturnType<typeof nativeHistogram>; timestampMs: number }[]; values: number[] }>();
  const record = (labels: Labels, latencies: readonly number[], i: number) => {
    if (latencies.length === 0) return;
    const key = JSON.stringify(labels);
    const c = counters.get(key) ?? { labels: { __name__: 'k6_http_reqs_total', ...labels }, samples: [], n: 0 };
    c.n += latencies.length;
    c.samples.push({ value: c.n, timestampMs: at(i) + r.requestLagMs });
    counters.set(key, c);
    const h = histograms.get(key) ?? { labels: { __name__: 'k6_http_req_duration_seconds', ...labels }, histograms: [], values: [] };
    h.values.push(...latencies);
    h.histograms.push({ histogram: nativeHistogram(h.values, SCHEMA), timestampMs: at(i) + r.requestLagMs });
    histograms.set(key, h);
  };
  let next = 0;
  const take = (n: number) => r.answered.slice(next, (next += n));
  const perPush = (total: number) => Math.round(total / MEASURED_PUSHES);
  for (let i = 0; i < PUSHES; i++) {
    if (i < WARMUP_PUSHES) {
      const share = r.warmup.length / WARMUP_PUSHES;
      record({ ...base, scenario: 'spread-warmup', status: '200', expected_response: 'true' }, r.warmup.slice(i * share, (i + 1) * share), i);
      continue;
    }
    const m = i - WARMUP_PUSHES;
    const n503 = m < r.status503.pushes ? r.status503.perPush : 0;
    const nTimeouts = m < r.timeouts.pushes ? r.timeouts.perPush : 0;
    const answered = perPush(r.answered.length + r.timeouts.perPush * r.timeouts.pushes);
    record({ ...base, scenario: 'spread', status: '503', expected_response: 'false', error_code: '1503' }, take(n503), i);
    record({ ...base, scenario: 'spread', status: '200', expected_response: 'true' }, take(answered - n503 - nTimeouts), i);
    // k6 records a duration for a request without an answer too (until it failed): 10 s here, in no latency.
    record({ ...base, scenario: 'spread', status: '0', expected_response: 'false', error_code: '1050' }, Array(nTimeouts).fill(10), i);
  }
  const vus: RemoteSeries = { labels: { __name__: 'k6_vus', testid: 'spread', runner: r.name }, samples: Array.from({ length: PUSHES }, (_, i) => ({ value: r.vus, timestampMs: at(i) })) };
  return [...counters.values(), ...[...histograms.values()].map(({ labels, histograms: h }) => ({ labels, histograms: h })), vus];
}

/**
 * Scenario "short": a run by runner x-0, then, 70 s later, a run by y-0 and y-1. The first run's
 * series are still fresh (under 5 minutes old) at the second's end, and count in none of its numbers.
 */
function shortRuns(): RemoteSeries[] {
  const series: RemoteSeries[] = [];
  const run = (runner: string, pushes: number[], latency: number) => {
    const labels = { testid: 'short', runner, scenario: 'short', name: 'GET /api/status', kind: 'status', status: '200', expected_response: 'true' };
    series.push({ labels: { __name__: 'k6_vus', testid: 'short', runner }, samples: pushes.map((t) => ({ value: 2, timestampMs: t })) });
    series.push({ labels: { __name__: 'k6_http_reqs_total', ...labels }, samples: pushes.map((t, i) => ({ value: 30 * (i + 1), timestampMs: t })) });
    series.push({ labels: { __name__: 'k6_http_req_duration_seconds', ...labels }, histograms: pushes.map((t, i) => ({ histogram: nativeHistogram(Array(30 * (i + 1)).fill(latency), SCHEMA), timestampMs: t })) });
  };
  const end = Date.now() - 10_000;
  run('x-0', [end - 95_000, end - 90_000, end - 85_000], 0.5);
  run('y-0', [end - 10_000, end - 5_000, end], 0.01);
  run('y-1', [end - 10_600, end - 5_600, end - 600], 0.012);
  return series;
}

beforeAll(async () => {
  const flags = prometheusArgs(loadProfile('optimized'), { remoteWriteReceiver: true }).filter((a) => a.startsWith('--web.enable-remote-write') || a.startsWith('--enable-feature'));
  prometheus = await startTestPrometheus({ tsdbDir: join(dir, 'tsdb'), args: flags });
  await remoteWrite(prometheus.url, [...runners.flatMap(seriesOf), ...shortRuns()]);
  writeFileSync(scenarioFile, JSON.stringify({ name: 'spread', description: 'two runners far apart', durationSeconds: 400, warmupSeconds: WARMUP_SECONDS, connections: 10, parallelism: 2, mix: [{ kind: 'status', weight: 1 }], thresholds: { p95Ms: 130, errorRatePercent: 0.1 } }));
  writeFileSync(shortFile, JSON.stringify({ name: 'short', description: 'two runs a minute apart', durationSeconds: 15, warmupSeconds: 0, connections: 4, parallelism: 2, mix: [{ kind: 'status', weight: 1 }], thresholds: { p50Ms: 100 } }));
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
    // Up to runner a's last counters, which come after its last k6_vus sample.
    expect(r.stderr).toContain(`the run of spread up to ${new Date(lastSample).toISOString()}`);
    const report = readReport(out);

    // Latencies of the answered requests; the timeouts' 10 s durations are in none.
    const answered = runners.flatMap((x) => x.answered);
    for (const [key, q] of [['p10', 0.1], ['p50', 0.5], ['p90', 0.9], ['p95', 0.95], ['p99', 0.99]] as const) {
      const exact = percentileMs(answered, q);
      expect(Math.abs(report.latencyMs[key] - exact) / exact, `${key}: ${report.latencyMs[key]} ms against ${exact} ms`).toBeLessThanOrEqual(BUCKET_WIDTH);
    }
    // The warm-up's slow requests would have made the p99 above 200 ms.
    expect(percentileMs([...answered, ...runners.flatMap((x) => x.warmup)], 0.99)).toBeGreaterThan(200);
    // Max is the top bucket's upper bound: at or above the slowest request, within a bucket's width.
    const slowest = Math.max(...answered) * 1000;
    expect(report.latencyMs.max).toBeGreaterThanOrEqual(slowest);
    expect(report.latencyMs.max).toBeLessThanOrEqual(slowest * (1 + BUCKET_WIDTH));
    expect(report.latencyMs.mean).toBeCloseTo((answered.reduce((a, b) => a + b, 0) / answered.length) * 1000, 1);
    expect(report.histogram.reduce((n, b) => n + b.count, 0)).toBe(answered.length);

    // Every series counted whole, the 503s' and the warm-up's too, though none was pushed in the run's last 5 minutes.
    expect(report.requests.total).toBe(5600);
    expect(report.statusCodes).toEqual({ 200: 5580, 503: 10 });
    expect(report.errors).toEqual({ 'non-2xx': 10, timeout: 10 });
    expect(report.successRate).toBeCloseTo(5580 / 5600, 6);
    expect(report.requests.byKind).toEqual({ status: 5590 });
    expect(report.connections).toBe(10);
    expect(report.warmup).toEqual({ seconds: WARMUP_SECONDS, requests: 700 });
    // From runner b's first push less one interval to runner a's last, less the warm-up.
    expect(report.durationSeconds).toBeCloseTo((lastSample - (runStart - 1300)) / 1000 - WARMUP_SECONDS, 1);
    expect(report.requests.perSecond).toBeCloseTo(5600 / report.durationSeconds, 1);
    expect(report.generator).toBe('k6 on 2 runners (scenario parallelism 2)');

    // One point per push interval; each holds what the runners pushed in it, warm-up included and marked.
    const timeline = report.timeline!;
    expect(timeline.every((p) => p.seconds === 5)).toBe(true);
    expect(timeline.reduce((n, p) => n + p.requests, 0)).toBe(6300);
    // Each runner's n-th push in the n-th point, though runner b pushes 1.3 s before runner a.
    expect(timeline).toHaveLength(PUSHES);
    expect(timeline.map((p) => p.requests).slice(0, 3)).toEqual([350, 350, 70]);
    expect(timeline.filter((p) => p.warmup).map((p) => p.t)).toEqual([0, 5]);
    expect(timeline[1]!.latencyMs.p50).toBeGreaterThan(200);
    for (const p of timeline.slice(2)) {
      expect(p.requests, `at ${p.t} s`).toBe(70);
      expect(p.latencyMs.p50).toBeLessThan(60);
      expect(p.connections).toBe(10);
    }

    expect(report.thresholds).toEqual([
      { name: 'p95Ms', limit: 130, actual: report.latencyMs.p95, passed: true, comparison: '<=' },
      { name: 'errorRatePercent', limit: 0.1, actual: expect.closeTo((20 / 5600) * 100, 4), passed: false, comparison: '<=' },
    ]);
    // The summary on standard output says so too.
    expect(r.stdout).toMatch(/requests {6}5,600 total/);
    expect(r.stdout).toMatch(/warm-up: 10\.0 s, 700 requests before the measured run/);
    expect(r.stdout).toMatch(/verdict: FAIL \(1 of 2 thresholds not met\)/);
  }, 120_000);

  it('prices the run under a profile: the cost per million requests at the measured throughput', () => {
    const report = JSON.parse(cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'json', '--profile', 'optimized', '--cost-target', 'k8s']).stdout);
    expect(report.profile).toBe('optimized');
    expect(report.cost).toMatchObject({ target: 'k8s', perHour: expect.any(Number) });
    expect(report.cost.perMillionRequests).toBeCloseTo((report.cost.perHour / (report.requests.perSecond * 3600)) * 1e6, 2);
  }, 120_000);

  it('agrees with the verdict, which leaves the warm-up out too', () => {
    const report = JSON.parse(cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'json']).stdout);
    const verdict = JSON.parse(cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'json']).stdout);
    expect(verdict.requests).toMatchObject({ total: 5600, errors: 20, runners: 2, warmupRequests: 700 });
    for (const key of ['p50', 'p95', 'p99'] as const) expect(verdict.requests.allRunnersMs[key]).toBe(report.latencyMs[key]);
    expect(verdict.requests.seconds).toBeCloseTo(report.durationSeconds, 2);
    expect(verdict.thresholds.map((t: { passed: boolean }) => t.passed)).toEqual([true, false]);
    const text = cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', scenarioFile]);
    expect(text.stdout).toMatch(/requests {3}5,600 from 2 runners in [\d.]+ s, [\d.]+ req\/s \(after a warm-up of 700 requests, in no total\)/);
  }, 120_000);

  it('reads this run only: an earlier run of the scenario a minute before, still fresh in Prometheus, adds nothing', () => {
    const report = JSON.parse(cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', shortFile, '--format', 'json']).stdout);
    expect(report.requests.total).toBe(180);
    expect(report.generator).toMatch(/^k6 on 2 runners/);
    expect(report.latencyMs.p99).toBeLessThan(13);
    expect(report.thresholds[0]).toMatchObject({ name: 'p50Ms', passed: true });
    const v = cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', shortFile, '--format', 'json']);
    expect(v.stderr).toBe('');
    const verdict = JSON.parse(v.stdout);
    expect(verdict.requests).toMatchObject({ total: 180, runners: 2, errors: 0 });
    expect(verdict.passed).toBe(true);
    // A scenario that planned another number of runners is told so: runs are told apart by time alone.
    const three = join(dir, 'short-3.json');
    writeFileSync(three, readFileSync(shortFile, 'utf8').replace('"parallelism":2', '"parallelism":3'));
    expect(cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', three]).stderr).toContain('· note: 2 runners wrote this run, the scenario runs 3');
  }, 120_000);

  it('with --at within the run, reports the run up to then', () => {
    const at = runStart + 201_000;
    const report = JSON.parse(cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--at', String(at / 1000), '--format', 'json']).stdout);
    // Runner a's pushes up to 200.8 s (40: 2 of warm-up, 38 measured), runner b's up to 198.7 s (40 too).
    expect(report.requests.total).toBe(38 * 50 + 38 * 20);
    expect(report.timeline.reduce((n: number, p: { requests: number }) => n + p.requests, 0)).toBe(700 + 38 * 70);
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
    const before = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--at', String(runStart / 1000 - 60)]);
    expect(before.status).toBe(1);
    expect(before.stderr).toMatch(/none has a sample in the day before .*: pass --at with a time during the run or after it/);
    const costOnly = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--cost-target', 'k8s']);
    expect(costOnly.status).toBe(1);
    expect(costOnly.stderr).toMatch(/--cost-target prices the stack under a profile: give --profile too/);
    const format = cli(['loadtest', 'report', '--prometheus', prometheus.url, '--scenario', scenarioFile, '--format', 'pdf']);
    expect(format.status).toBe(1);
    expect(format.stderr).toMatch(/--format/);
  }, 120_000);
});
