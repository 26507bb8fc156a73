/**
 * `apistack loadtest compare A.json B.json`: the differences between two runs as a table, with
 * the % change and whether it is for the better, in text, markdown and JSON; files that are not
 * reports are refused with what is wrong.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareReports, type Comparison, type LoadTestReport } from '../../lib/loadtest/index.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

const dir = tempDir('apistack-compare-');

function report(over: { perSecond: number; p50: number; p95: number; p99: number; successRate: number; perMillion?: number; total?: number }): LoadTestReport {
  const total = over.total ?? Math.round(over.perSecond * 10);
  return {
    scenario: 'read',
    target: 'http://127.0.0.1:8080',
    profile: 'optimized',
    startedAt: '2025-01-01T00:00:00.000Z',
    durationSeconds: 10,
    connections: 50,
    requests: { total, perSecond: over.perSecond },
    latencyMs: { p10: 1, p25: 2, p50: over.p50, p75: 4, p90: 5, p95: over.p95, p99: over.p99, max: 90, mean: 3 },
    histogram: [{ fromMs: 0, toMs: 100, count: total }],
    statusCodes: { 200: Math.round(total * over.successRate), 503: total - Math.round(total * over.successRate) },
    errors: over.successRate < 1 ? { 'non-2xx': total - Math.round(total * over.successRate) } : {},
    successRate: over.successRate,
    thresholds: [{ name: 'p95Ms', limit: 50, actual: over.p95, passed: over.p95 <= 50 }],
    ...(over.perMillion !== undefined ? { cost: { perHour: (over.perMillion * over.perSecond * 3600) / 1e6, perMillionRequests: over.perMillion } } : {}),
  };
}

const baseline = report({ perSecond: 4000, p50: 10, p95: 40, p99: 80, successRate: 0.998, perMillion: 0.05 });
const optimized = report({ perSecond: 5000, p50: 8, p95: 30, p99: 88, successRate: 1, perMillion: 0.04 });

function write(name: string, data: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof data === 'string' ? data : JSON.stringify(data));
  return path;
}

describe('compareReports', () => {
  it('gives each metric its difference, % change and direction', () => {
    const c = compareReports(baseline, optimized, { a: 'baseline', b: 'optimized' });
    expect(c.rows.map((r) => [r.metric, r.a, r.b, r.difference, r.changePercent, r.verdict])).toEqual([
      ['requests/s', 4000, 5000, 1000, 25, 'better'],
      ['p50', 10, 8, -2, -20, 'better'],
      ['p95', 40, 30, -10, -25, 'better'],
      ['p99', 80, 88, 8, 10, 'worse'],
      ['error rate', 0.2, 0, -0.2, -100, 'better'],
      ['cost per million requests', 0.05, 0.04, -0.01, -20, 'better'],
    ]);
  });

  it('a change under 1% is "same"; a missing cost is n/a, not $0', () => {
    const noCost = { ...optimized, cost: undefined };
    const c = compareReports(baseline, { ...noCost, requests: { total: 40_000, perSecond: 4020 } });
    expect(c.rows[0]).toMatchObject({ metric: 'requests/s', changePercent: 0.5, verdict: 'same' });
    expect(c.rows.at(-1)).toMatchObject({ metric: 'cost per million requests', a: 0.05, b: null, difference: null, changePercent: null, verdict: 'n/a' });
  });
});

describe('apistack loadtest compare', () => {
  const a = write('baseline.json', baseline);
  const b = write('optimized.json', optimized);

  it('prints the table of differences', () => {
    const r = cli(['loadtest', 'compare', a, b]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`${a}: read → http://127.0.0.1:8080 (profile optimized), 2025-01-01T00:00:00.000Z`);
    const row = (metric: string) => lines.find((l) => l.startsWith(metric))!.split(/\s{2,}/);
    expect(row('requests/s')).toEqual(['requests/s', '4,000.0', '5,000.0', '+1,000.0', '+25.0%', 'better']);
    expect(row('p95')).toEqual(['p95 (ms)', '40.0', '30.0', '−10.0', '−25.0%', 'better']);
    expect(row('p99')).toEqual(['p99 (ms)', '80.0', '88.0', '+8.0', '+10.0%', 'worse']);
    expect(row('error rate')).toEqual(['error rate', '0.200%', '0.000%', '−0.200%', '−100.0%', 'better']);
    expect(row('cost per million requests')).toEqual(['cost per million requests', '$0.0500', '$0.0400', '−$0.0100', '−20.0%', 'better']);
  });

  it('writes markdown and JSON with the same numbers', () => {
    const md = cli(['loadtest', 'compare', a, b, '--format', 'md']);
    expect(md.status).toBe(0);
    expect(md.stdout).toContain('| metric | ' + a + ' | ' + b + ' | difference | change |  |');
    expect(md.stdout).toContain('| p50 (ms) | 10.0 | 8.0 | −2.0 | −20.0% | better |');
    const json = cli(['loadtest', 'compare', a, b, '--format', 'json']);
    expect(json.status).toBe(0);
    const c = JSON.parse(json.stdout) as Comparison;
    expect(c.rows.find((r) => r.metric === 'requests/s')).toMatchObject({ a: 4000, b: 5000, difference: 1000, changePercent: 25 });
  });

  it('refuses what is not a report, naming the file and the problem, exit 1', () => {
    const notJson = write('notes.json', 'p95 was 40');
    const partial = write('partial.json', { scenario: 'read', target: 'x' });
    const missing = join(dir, 'absent.json');
    const run = (x: string) => {
      const r = cli(['loadtest', 'compare', x, b]);
      expect(r.status).toBe(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      return r.stderr;
    };
    expect(run(missing).trim()).toBe(`error: report not found: ${missing}`);
    expect(run(notJson)).toMatch(new RegExp(`^error: ${notJson} is not JSON \\(.*\\); write reports with \`apistack loadtest --format json --out FILE\``));
    const partialError = run(partial);
    expect(partialError).toMatch(new RegExp(`^error: ${partial} is not a load-test report \\(\\d+ problems\\):`));
    expect(partialError).toContain('  - requests: ');
    expect(partialError).toContain('  - latencyMs: ');
    const r = cli(['loadtest', 'compare', a, b, '--format', 'html']);
    expect(r.stderr.trim()).toBe('error: --format must be one of text, md, json, got "html"');
  });
});
