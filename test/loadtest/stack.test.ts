/**
 * `apistack loadtest --target` against a real local stack (`apistack local up --profile
 * loadtest`: Postgres, Redis, two API replicas, nginx): each built-in request kind for a few
 * seconds with no failed request, setup done once, writes committed, thresholds evaluated and
 * the exit codes a CI job relies on.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import { requireBinary } from '../../lib/local/binaries.ts';
import type { LocalState } from '../../lib/local/env.ts';
import { reportSchema, type LoadTestReport } from '../../lib/loadtest/index.ts';
import { cli, stateDirFor } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

const stateDir = stateDirFor('loadtest-stack');
const outDir = tempDir('apistack-loadtest-');
let state: LocalState;

function sql(query: string): string {
  const r = spawnSync(requireBinary('psql'), [state.databaseUrl, '-tAc', query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

const count = (table: string) => Number(sql(`SELECT count(*) FROM ${table}`));

function loadtest(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string; report: LoadTestReport } {
  const out = join(outDir, `${name}.json`);
  const r = cli(['loadtest', '--target', state.url, '--format', 'json', '--out', out, ...args], env);
  const report = existsSync(out) ? reportSchema.parse(JSON.parse(readFileSync(out, 'utf8'))) : (undefined as unknown as LoadTestReport);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, report };
}

/** Latency thresholds depend on what else the machine runs: the exit code must follow the verdict. */
function expectExitFollowsThresholds(r: { status: number | null; stderr: string; report: LoadTestReport }): void {
  expect(r.report.thresholds.length).toBeGreaterThan(0);
  for (const t of r.report.thresholds) expect(t.passed, t.name).toBe(t.comparison === '>=' ? t.actual >= t.limit : t.actual <= t.limit);
  expect(r.status, r.stderr).toBe(r.report.thresholds.every((t) => t.passed) ? 0 : 2);
}

function expectNoFailures(report: LoadTestReport): void {
  expect(report.errors).toEqual({});
  expect(report.successRate).toBe(1);
  expect(Object.values(report.statusCodes).reduce((a, b) => a + b, 0)).toBe(report.requests.total);
}

beforeAll(() => {
  ensureAppBundle(() => {});
  const up = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus']);
  expect(up.stderr + up.stdout).toContain('apistack local is up');
  state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LocalState;
}, 240_000);

afterAll(() => {
  if (existsSync(join(stateDir, 'state.json'))) {
    const down = cli(['local', 'down', '--state-dir', stateDir]);
    expect(down.status).toBe(0);
  }
}, 120_000);

describe('apistack loadtest against a local stack', () => {
  it('status: GET /api/status for 3 s, no failure, thresholds evaluated, the exit code follows them, cost under the profile', () => {
    // autocannon counts every status code and records each answer once (wrk: classes, and a corrected histogram).
    const r = loadtest('status', ['--scenario', 'status', '--duration', '3s', '--profile', 'loadtest', '--engine', 'autocannon']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expectExitFollowsThresholds(r);
    const report = r.report;
    expectNoFailures(report);
    expect(report).toMatchObject({ scenario: 'status', target: state.url, profile: 'loadtest', connections: 50, statusCodes: { 200: report.requests.total } });
    expect(report.durationSeconds).toBeCloseTo(3, 1);
    expect(report.requests.total).toBeGreaterThan(1000);
    // durationSeconds is rounded to the millisecond in the report.
    expect(Math.abs(report.requests.perSecond - report.requests.total / report.durationSeconds) / report.requests.perSecond).toBeLessThan(0.001);
    expect(report.thresholds.map((t) => [t.name, t.limit])).toEqual([
      ['p95Ms', 50],
      ['errorRatePercent', 0.1],
    ]);
    expect(report.thresholds[1]!.actual).toBe(0);
    expect(report.thresholds[0]!.actual).toBe(report.latencyMs.p95);
    const l = report.latencyMs;
    expect([l.p10, l.p25, l.p50, l.p75, l.p90, l.p95, l.p99, l.max]).toEqual([...[l.p10, l.p25, l.p50, l.p75, l.p90, l.p95, l.p99, l.max]].sort((a, b) => a - b));
    expect(report.histogram.reduce((sum, b) => sum + b.count, 0)).toBe(report.requests.total);
    // The default warm-up of a closed-loop run: on the timeline, in no total.
    expect(report.warmup?.seconds).toBe(3);
    expect(report.timeline!.filter((p) => !p.warmup).reduce((sum, p) => sum + p.requests, 0)).toBe(report.requests.total);
    expect(report.timeline!.filter((p) => p.warmup).reduce((sum, p) => sum + p.requests, 0)).toBe(report.warmup!.requests);
    // A remote target may have scaled: the replicas that ran are not claimed, only what is priced.
    expect(report.environment).toBeUndefined();
    expect(report.cost).toMatchObject({ target: 'aws', apiReplicas: 3 });
    expect(report.cost!.perHour).toBeGreaterThan(0);
    expect(report.cost!.perMillionRequests).toBeCloseTo((report.cost!.perHour / (report.requests.perSecond * 3600)) * 1e6, 3);
    // With --out, standard output still gets the summary a person reads.
    expect(r.stdout).toMatch(/^verdict: (PASS \(2 of 2 thresholds met\)|FAIL \(1 of 2 thresholds not met\))$/m);
  });

  it('read: seeds 10,000 users once, then reads only them for 3 s with no miss', () => {
    const usersBefore = count('users');
    // Seeding users is a write: it takes the admin token.
    const r = loadtest('read', ['--scenario', 'read', '--duration', '3s'], { ...process.env, APISTACK_ADMIN_TOKEN: state.adminToken });
    expectExitFollowsThresholds(r);
    expectNoFailures(r.report);
    // A read-only timed run: wrk drives it by default, and counts answers below 400 as one class.
    expect(r.report.generator).toMatchObject({ engine: expect.stringMatching(/^wrk /) });
    expect(r.report.statusCodes).toEqual({ '2xx-3xx': r.report.requests.total });
    expect(r.report.requests.byKind).toEqual({ read: r.report.requests.total });
    // Setup ran once for the run, not once per connection or per stage.
    expect(count('users') - usersBefore).toBe(10_000);
    expect(r.report.setup).toMatchObject({ users: 10_000, apiKeys: 0 });
    expect(r.stderr.match(/setup: seeding 10000 users/g)).toHaveLength(1);
  });

  it('write: every accepted event is committed once, with API keys used in turn, setup once', () => {
    const keysBefore = count('api_keys');
    const eventsBefore = count('events');
    // Bounded by request count, so every request sent is answered and counted.
    const r = loadtest('write', ['--scenario', 'write', '--requests', '4000'], { ...process.env, APISTACK_ADMIN_TOKEN: state.adminToken });
    expectExitFollowsThresholds(r);
    expectNoFailures(r.report);
    expect(r.report.statusCodes).toEqual({ 202: 4000 });
    expect(count('api_keys') - keysBefore).toBe(200);
    expect(r.report.setup).toMatchObject({ users: 0, apiKeys: 200 });
    expect(count('events') - eventsBefore).toBe(4000);
    const perKey = sql(`SELECT count(DISTINCT api_key_id) || '|' || min(n) || '|' || max(n) FROM (SELECT api_key_id, count(*) AS n FROM events WHERE type = 'loadtest' GROUP BY api_key_id) k`);
    // 4,000 writes round-robin over 200 keys: 20 each, so none nears the per-key rate limit.
    expect(perKey).toBe('200|20|20');
    // One Idempotency-Key per request: no replay, no duplicate.
    expect(sql("SELECT count(*) = count(DISTINCT idempotency_key) FROM events WHERE type = 'loadtest'")).toBe('t');
  });

  it('thresholds that hold: the report says so and the exit code is 0', () => {
    const file = join(outDir, 'lenient.yaml');
    writeFileSync(
      file,
      ['name: lenient', 'description: status with limits any run meets', 'durationSeconds: 1', 'connections: 10', 'mix: [{ kind: status, weight: 1 }]', 'thresholds: { p99Ms: 10000, errorRatePercent: 0.1, minRequestsPerSecond: 1 }'].join('\n'),
    );
    const r = loadtest('lenient', ['--scenario', file]);
    expect(r.status, r.stderr).toBe(0);
    expectNoFailures(r.report);
    expect(r.report.thresholds).toEqual([
      { name: 'p99Ms', limit: 10000, actual: r.report.latencyMs.p99, passed: true, comparison: '<=' },
      { name: 'errorRatePercent', limit: 0.1, actual: 0, passed: true, comparison: '<=' },
      { name: 'minRequestsPerSecond', limit: 1, actual: r.report.requests.perSecond, passed: true, comparison: '>=' },
    ]);
    expect(r.stdout).toContain('verdict: PASS (3 of 3 thresholds met)');
    // A status-only timed run: wrk drives it by default, after the default warm-up, and the report says which engine ran.
    expect(r.report.generator).toMatchObject({ engine: expect.stringMatching(/^wrk /) });
    expect(r.report.warmup?.seconds).toBe(3);
    expect(r.stdout).toMatch(/^generator {5}wrk .*% of a core/m);
  });

  it('a threshold that fails: the report says so and the exit code is 2', () => {
    const file = join(outDir, 'strict.yaml');
    writeFileSync(
      file,
      ['name: strict', 'description: status with a p50 no stack can meet', 'durationSeconds: 1', 'connections: 10', 'mix: [{ kind: status, weight: 1 }]', 'thresholds:', '  p50Ms: 0.001', '  errorRatePercent: 1'].join('\n'),
    );
    const r = loadtest('strict', ['--scenario', file]);
    expect(r.status, r.stderr).toBe(2);
    expectNoFailures(r.report);
    expect(r.report.thresholds).toEqual([
      { name: 'p50Ms', limit: 0.001, actual: r.report.latencyMs.p50, passed: false, comparison: '<=' },
      { name: 'errorRatePercent', limit: 1, actual: 0, passed: true, comparison: '<=' },
    ]);
    expect(r.stdout).toMatch(/FAIL {2}p50 ≤ 0\.001 ms/);
    expect(r.stdout).toContain('verdict: FAIL (1 of 2 thresholds not met)');
  });

  it('a write scenario without the admin token stops before any load, exit 1, one line', () => {
    const eventsBefore = count('events');
    const env = { ...process.env };
    delete env.APISTACK_ADMIN_TOKEN;
    const r = loadtest('no-token', ['--scenario', 'write', '--duration', '1s'], env);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      "error: scenario write creates 200 API keys before the run, which needs the stack's admin token: pass --admin-token T or set APISTACK_ADMIN_TOKEN (with --local it is read from the local environment)",
    );
    expect(count('events')).toBe(eventsBefore);
  });

  it('a wrong admin token: setup fails with what the API answered, exit 1', () => {
    const r = loadtest('bad-token', ['--scenario', 'write', '--duration', '1s', '--admin-token', 'not-the-token']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: setup failed: POST \/api\/keys at http:\/\/127\.0\.0\.1:\d+\/api\/keys answered 401: .*the admin token was refused/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
