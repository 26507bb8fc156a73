/**
 * The text and markdown renderings of one report, and the live progress: a bar redrawn in place
 * on a terminal, plain lines every few seconds otherwise.
 */
import { describe, expect, it } from 'vitest';
import { progressPrinter, renderReport, type LoadTestReport, type RunProgress } from '../../lib/loadtest/index.ts';

const report: LoadTestReport = {
  scenario: 'mixed',
  target: 'http://127.0.0.1:8080',
  profile: 'loadtest',
  startedAt: '2025-01-01T00:00:00.000Z',
  durationSeconds: 20,
  connections: 50,
  requests: { total: 100_000, perSecond: 5000, byKind: { read: 80_000, status: 15_000, write: 4_995 } },
  latencyMs: { p10: 1.2, p25: 2.5, p50: 6.4, p75: 12.7, p90: 21.5, p95: 28.7, p99: 47.2, max: 110, mean: 9.5 },
  histogram: [
    { fromMs: 0, toMs: 25, count: 90_000 },
    { fromMs: 25, toMs: 110, count: 10_000 },
  ],
  statusCodes: { 200: 95_000, 202: 4_995, 429: 5 },
  errors: { 'non-2xx': 5 },
  successRate: 0.99995,
  thresholds: [
    { name: 'p95Ms', limit: 50, actual: 28.7, passed: true },
    { name: 'errorRatePercent', limit: 0.001, actual: 0.005, passed: false },
  ],
  cost: { perHour: 0.36, perMillionRequests: 0.02, target: 'aws', apiReplicas: 2 },
  setup: { users: 10_000, apiKeys: 200, seconds: 0.4 },
};

describe('text and markdown reports', () => {
  it('text: what people read first, then the histogram, thresholds and the verdict', () => {
    const text = renderReport(report, 'text');
    expect(text).toContain('load test mixed → http://127.0.0.1:8080 (profile loadtest)');
    expect(text).toContain('setup: 10,000 users, 200 API keys in 0.4 s (once, before the load)');
    expect(text).toContain('requests      100,000 total, 5,000.0 req/s  (read 80,000, status 15,000, write 4,995)');
    expect(text).toContain('success rate  99.995%');
    expect(text).toContain('latency (ms)  p10 1.2  p25 2.5  p50 6.4  p75 12.7  p90 21.5  p95 28.7  p99 47.2  max 110  mean 9.5');
    expect(text).toContain('status codes  200: 95,000, 202: 4,995, 429: 5');
    expect(text).toContain('errors        non-2xx: 5');
    expect(text).toContain('cost          $0.3600 per hour (loadtest, aws, 2 API replicas), $0.0200 per million requests at 5,000.0 req/s');
    expect(text).toMatch(/ {2}0–25\.0 ms {2}█{40} 90,000/);
    expect(text).toContain('  PASS  p95 ≤ 50 ms          actual 28.7 ms');
    expect(text).toContain('  FAIL  error rate ≤ 0.001%  actual 0.005%');
    expect(text.trimEnd().split('\n').at(-1)).toBe('verdict: FAIL (1 of 2 thresholds not met)');
  });

  it('markdown: the same numbers as tables', () => {
    const md = renderReport(report, 'md');
    expect(md).toContain('## Load test `mixed`');
    expect(md).toContain('**Verdict: FAIL (1 of 2 thresholds not met)**');
    expect(md).toContain('| 100,000 | 5,000.0 | 99.995% | 0.005% | $0.3600 | $0.0200 |');
    expect(md).toContain('| 1.2 | 2.5 | 6.4 | 12.7 | 21.5 | 28.7 | 47.2 | 110 | 9.5 |');
    expect(md).toContain('| error rate ≤ 0.001% | 0.005% | **FAIL** |');
    expect(md).toContain('| status 429 | 5 |');
  });

  it('json: the report itself', () => {
    expect(JSON.parse(renderReport(report, 'json'))).toEqual(report);
  });
});

describe('live progress', () => {
  const at = (elapsedSeconds: number): RunProgress => ({
    elapsedSeconds,
    plannedSeconds: 20,
    requests: Math.round(elapsedSeconds * 5000),
    failed: 0,
    requestsPerSecond: 5000,
    p95Ms: 28.7,
    connections: 50,
    stage: 1,
    stages: 1,
  });

  it('on a terminal: one line redrawn in place with a bar, ended once', () => {
    let out = '';
    const printer = progressPrinter({ write: (t: string) => (out += t) }, { tty: true, columns: 120 });
    printer.update(at(5));
    printer.update(at(10));
    printer.done();
    const frames = out.split('\r\x1b[2K').filter(Boolean);
    expect(frames).toHaveLength(2);
    expect(frames[1]).toBe('[###############---------------]  50% 10.0/20 s, 50,000 requests, 5,000 req/s, p95 28.7 ms, 0 failed, 50 connections\n');
    expect(out.split('\n')).toHaveLength(2);
  });

  it('elsewhere: a plain line every few seconds (a tenth of the run)', () => {
    const lines: string[] = [];
    const printer = progressPrinter({ write: (t: string) => lines.push(t) }, { tty: false });
    for (let t = 0.25; t <= 20; t += 0.25) printer.update(at(t));
    printer.done();
    expect(lines).toHaveLength(10);
    expect(lines[0]).toBe('loadtest: 2.0/20 s, 10,000 requests, 5,000 req/s, p95 28.7 ms, 0 failed, 50 connections\n');
    expect(lines.every((l) => !l.includes('\r'))).toBe(true);
  });

  it('elsewhere: one line per interval even when the timer fires just before a boundary', () => {
    const lines: string[] = [];
    const printer = progressPrinter({ write: (t: string) => lines.push(t) }, { tty: false, everySeconds: 1 });
    for (const t of [0.25, 0.5, 0.75, 0.9995, 1.2495, 1.4995, 1.7495, 1.9995, 2.2495]) printer.update({ ...at(t), plannedSeconds: 2 });
    expect(lines.map((l) => l.split(',')[0])).toEqual(['loadtest: 1.0/2 s', 'loadtest: 2.0/2 s']);
  });
});
