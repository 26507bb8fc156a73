/**
 * One run's percentiles over every k6 runner: two runners with different latency distributions
 * remote-write their latencies as native histograms (as k6 does with
 * K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM) to a real Prometheus started with the flags the
 * stack's Prometheus runs with, and `apistack loadtest verdict` reports the percentiles of the
 * combined samples (to a bucket's width), where the per-runner stats give only the worst runner's.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prometheusArgs } from '../../lib/monitoring/index.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { cli } from '../helpers/cli.ts';
import { bucketUpperBound, nativeHistogram, remoteWrite, type RemoteSeries } from '../helpers/remote-write.ts';
import { removeTempDir, startTestPrometheus, tempDir } from '../helpers/servers.ts';

/** k6 writes native histograms with a bucket factor of 1.1: schema 3, 8 buckets per power of two, each 9% wide. */
const SCHEMA = 3;
const BUCKET_WIDTH = bucketUpperBound(1, SCHEMA) - 1;

// Deterministic samples: runner a fast and busy (3,000 requests, 10-30 ms), runner b slow (1,000, 50-150 ms, skewed).
const runnerA = Array.from({ length: 3000 }, (_, i) => 0.01 + 0.02 * ((i * 7919) % 3000) / 3000);
const runnerB = Array.from({ length: 1000 }, (_, i) => 0.05 + 0.1 * (((i * 104729) % 1000) / 1000) ** 2);

/** The nearest-rank percentile of samples, in ms. */
function percentileMs(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1]! * 1000;
}

const dir = tempDir('apistack-cluster-percentiles-');
let prometheus: Awaited<ReturnType<typeof startTestPrometheus>>;
const now = Date.now();
const at = Math.floor(now / 1000);

beforeAll(async () => {
  // The flags the targets give their Prometheus for load tests, without the container paths.
  const flags = prometheusArgs(loadProfile('optimized'), { remoteWriteReceiver: true }).filter((a) => a.startsWith('--web.enable-remote-write') || a.startsWith('--enable-feature'));
  expect(flags).toEqual(['--web.enable-remote-write-receiver', '--enable-feature=native-histograms']);
  prometheus = await startTestPrometheus({ tsdbDir: join(dir, 'tsdb'), args: flags });
  // Two pushes per runner, 10 s apart: half the requests, then all of them (k6 writes cumulative histograms).
  const pushes = [now - 20_000, now - 10_000];
  const series: RemoteSeries[] = [];
  for (const [runner, samples] of [['a', runnerA], ['b', runnerB]] as const) {
    const labels = { testid: 'spread', scenario: 'spread', runner, name: 'GET /api/status' };
    const upTo = (k: number) => samples.slice(0, k === 0 ? samples.length / 2 : samples.length);
    series.push({ labels: { __name__: 'k6_vus', testid: 'spread', runner }, samples: pushes.map((t) => ({ value: 5, timestampMs: t })) });
    series.push({ labels: { __name__: 'k6_http_reqs_total', ...labels, status: '200', expected_response: 'true' }, samples: pushes.map((t, k) => ({ value: upTo(k).length, timestampMs: t })) });
    series.push({ labels: { __name__: 'k6_http_req_duration_seconds', ...labels }, histograms: pushes.map((t, k) => ({ histogram: nativeHistogram(upTo(k), SCHEMA), timestampMs: t })) });
    // The per-runner stat a runner without native histograms writes: its own p95.
    series.push({ labels: { __name__: 'k6_http_req_duration_p95', ...labels }, samples: pushes.map((t, k) => ({ value: percentileMs(upTo(k), 0.95) / 1000, timestampMs: t })) });
  }
  await remoteWrite(prometheus.url, series);
}, 120_000);
afterAll(async () => {
  await prometheus?.cleanup();
  removeTempDir(dir);
});

describe('a run\'s percentiles over every runner, from native histograms', () => {
  it('equal the percentiles of the combined samples to a bucket\'s width; the threshold judges them, not the worst runner\'s', async () => {
    const scenario = join(dir, 'spread.json');
    writeFileSync(scenario, JSON.stringify({ name: 'spread', description: 'two runners', durationSeconds: 20, connections: 10, parallelism: 2, mix: [{ kind: 'status', weight: 1 }], thresholds: { p95Ms: 120 } }));
    const r = cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', scenario, '--at', String(at), '--format', 'json']);
    expect(r.stderr).toBe('');
    const verdict = JSON.parse(r.stdout) as { passed: boolean; thresholds: { actual: number; passed: boolean }[]; requests: { total: number; runners: number; allRunnersMs: Record<string, number>; worstRunnerMs: Record<string, number> } };
    expect(verdict.requests).toMatchObject({ total: 4000, runners: 2 });
    const combined = [...runnerA, ...runnerB];
    for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      const exact = percentileMs(combined, q);
      expect(Math.abs(verdict.requests.allRunnersMs[key]! - exact) / exact, `${key}: ${verdict.requests.allRunnersMs[key]} ms against ${exact} ms`).toBeLessThanOrEqual(BUCKET_WIDTH);
    }
    // The same numbers as Prometheus' own histogram_quantile over the summed histograms.
    for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      const query = new URLSearchParams({ query: `histogram_quantile(${q}, sum(k6_http_req_duration_seconds{testid="spread"}))`, time: String(at) });
      const answer = (await (await fetch(`${prometheus.url}/api/v1/query?${query}`)).json()) as { data: { result: { value: [number, string] }[] } };
      expect(verdict.requests.allRunnersMs[key], key).toBeCloseTo(Number(answer.data.result[0]!.value[1]) * 1000, 2);
    }
    // The worst runner's p95 (runner b's own) is an upper bound far above the run's.
    expect(verdict.requests.worstRunnerMs.p95).toBeCloseTo(percentileMs(runnerB, 0.95), 1);
    expect(verdict.requests.worstRunnerMs.p95).toBeGreaterThan(120);
    // So the run meets p95 < 120 ms (three quarters of its requests came from the fast runner), which the worst runner's would fail.
    expect(verdict.thresholds[0]).toMatchObject({ passed: true, actual: verdict.requests.allRunnersMs.p95 });
    expect(verdict.passed).toBe(true);

    const text = cli(['loadtest', 'verdict', '--prometheus', prometheus.url, '--scenario', scenario, '--at', String(at)]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/PASS {2}p\(95\) < 120 ms {2}actual [\d.]+ ms \(every runner\)/);
    expect(text.stdout).toMatch(/latency {4}p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms: over every runner's requests \(native histograms\)/);
  }, 120_000);
});
