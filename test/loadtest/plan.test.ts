/** Capacity planning: per-worker throughput from measured runs, the cheapest variant that serves a rate. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, priceProfile } from '../../lib/cost/index.ts';
import { plan, workerCapacity, type MeasuredRun } from '../../lib/loadtest/plan.ts';
import { loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

const catalog = Catalog.load();
const loadtest = loadProfile('loadtest');

function run(perSecond: number, p95: number, successRate = 1, extra: Partial<MeasuredRun> = {}): MeasuredRun {
  return { scenario: 'read', profile: 'loadtest', requests: { total: perSecond * 10, perSecond }, latencyMs: { p95 }, successRate, ...extra };
}

describe('throughput per worker', () => {
  it('takes the fastest run that met the threshold with no failures, per worker of what served it', () => {
    // loadtest runs locally as 2 replicas × 1 worker.
    const c = workerCapacity([run(20_000, 4), run(26_000, 70), run(30_000, 9, 0.98), run(12_000, 2)], loadtest, 50);
    expect(c.perWorker).toBe(10_000);
    expect(c.run).toEqual({ scenario: 'read', perSecond: 20_000, p95Ms: 4, replicas: 2, workersPerReplica: 1 });
    expect(c.rejected).toEqual([
      'run 2 (read, 26000 req/s, p95 70 ms): p95 above 50 ms',
      'run 3 (read, 30000 req/s, p95 9 ms): success rate 98.00% is below 99.9%',
      'run 4 (read, 12000 req/s, p95 2 ms): a faster run met the threshold',
    ]);
  });

  it('uses the environment a runner recorded over the profile', () => {
    const c = workerCapacity([run(24_000, 10, 1, { environment: { apiReplicas: 3, workersPerReplica: 2, vcpuPerReplica: 2 } })], loadtest, 50);
    expect(c.perWorker).toBe(4_000);
    expect(c.vcpuPerWorker).toBe(1);
  });

  it('says how to measure when no run qualifies', () => {
    expect(() => workerCapacity([run(26_000, 70)], loadtest, 50)).toThrow('no run meets p95 < 50 ms with at least 99.9% success: run 1 (read, 26000 req/s, p95 70 ms): p95 above 50 ms; measure at fewer connections (or a lower --rate) so the threshold holds');
  });
});

describe('the cheapest variant', () => {
  const price = (p: ReturnType<typeof loadProfile>) => priceProfile(p, 'aws', catalog).total;

  it('serves the rate with the headroom the CPU target leaves, priced as a profile, cheapest first', () => {
    const answer = plan([run(20_000, 4)], loadtest, { requestsPerSecond: 50_000, p95Ms: 50, target: 'aws' }, price);
    // 70% CPU target: 100/70 − 1 = 43% above 50,000 = 71,500 req/s at 10,000 per worker → 8 workers.
    expect(answer.minHeadroomPercent).toBe(43);
    const cheapest = answer.variants[0]!;
    expect(cheapest).toMatchObject({ replicas: 8, workersPerReplica: 1, vcpuPerReplica: 1, memoryMiBPerReplica: 2048, capacity: 80_000, headroomPercent: 60 });
    const fleet = resolveProfileLayer({ extends: 'loadtest', name: 'fleet', api: { replicasMin: 8, replicasMax: 8, replicasExpected: 8 } });
    expect(cheapest.monthly).toBe(priceProfile(fleet, 'aws', catalog).total);
    for (const v of answer.variants) {
      expect(v.capacity).toBeGreaterThanOrEqual(50_000 * 1.43);
      expect(v.replicas).toBeGreaterThanOrEqual(loadtest.api.replicasMin);
    }
    const costs = answer.variants.map((v) => v.monthly);
    expect(costs).toEqual([...costs].sort((a, b) => a - b));
    // A variant the connection budget refuses is listed with the profile's own reason.
    expect(answer.refused.some((r) => r.includes('connection budget exceeded'))).toBe(true);
  });

  it('keeps the profile\'s minimum replicas even when fewer would serve the rate', () => {
    const answer = plan([run(20_000, 4)], loadtest, { requestsPerSecond: 1_000, p95Ms: 50, target: 'aws', minHeadroomPercent: 0 }, price);
    expect(answer.variants[0]).toMatchObject({ replicas: 2, workersPerReplica: 1, capacity: 20_000, headroomPercent: 1900 });
  });
});

describe('apistack plan', () => {
  const dir = tempDir('apistack-plan-');
  const write = (name: string, data: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(data));
    return file;
  };
  const fast = write('fast.json', { ...run(20_000, 4), target: 'http://127.0.0.1:8080', startedAt: '2026-11-27T04:00:00Z', durationSeconds: 10, connections: 50 });
  const slow = write('slow.json', { ...run(26_000, 70), target: 'http://127.0.0.1:8080', startedAt: '2026-11-27T04:01:00Z', durationSeconds: 10, connections: 400 });

  it('prints the table and the JSON of the same answer', () => {
    const table = cli(['plan', '--runs', fast, slow, '--rps', '50000', '--p95', '50']);
    expect(table.status).toBe(0);
    expect(table.stdout).toContain('50,000 req/s at p95 < 50 ms on AWS, from profile loadtest');
    expect(table.stdout).toMatch(/cheapest\s+8\s+1\s+1\s+2048\s+80,000\s+60%\s+\$/);
    const json = cli(['plan', '--runs', fast, slow, '--rps', '50000', '--p95', '50', '--format', 'json']);
    const answer = JSON.parse(json.stdout) as { variants: { monthly: number }[]; capacity: { perWorker: number } };
    expect(answer.capacity.perWorker).toBe(10_000);
    expect(table.stdout).toContain(`$${answer.variants[0]!.monthly.toLocaleString('en-US', { minimumFractionDigits: 2 })}`);
  });

  it.each([
    [['--runs', join(dir, 'none.json'), '--rps', '10', '--p95', '50'], `error: ${join(dir, 'none.json')}: not a JSON load-test report (no such file); write one with apistack loadtest --format json --out FILE`],
    [['--runs', write('other.json', { hello: 1 }), '--rps', '10', '--p95', '50'], `error: ${join(dir, 'other.json')}: not a load-test report, it lacks scenario, requests.perSecond, latencyMs.p95, successRate; write one with apistack loadtest --format json --out FILE`],
    [['--runs', slow, '--rps', '10', '--p95', '50'], 'error: no run meets p95 < 50 ms'],
    [['--runs', fast, '--rps', '-3', '--p95', '50'], 'error: --rps must be a positive number, got "-3"'],
    [['--runs', fast, write('base.json', { ...run(5_000, 9), profile: 'baseline' }), '--rps', '10', '--p95', '50'], 'error: the reports were measured under different profiles (loadtest, baseline); plan from runs of one profile, or pass --profile P'],
  ])('refuses bad input clearly: %j', (args, message) => {
    const r = cli(['plan', ...args]);
    expect(r.status).toBe(1);
    expect(r.stderr.startsWith(message)).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
