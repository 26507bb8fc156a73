/**
 * Generator accounting: a target that answers faster than the runner can ask (nginx's own
 * `return 200`) makes the runner the limit, and the report says so in every format; the runner
 * measures its CPU and event-loop delay as they are, and a warm-up is sent, charted and left out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, chooseEngine, generatorSaturated, renderReport, runScenario, SATURATED_CPU_PERCENT, SATURATED_DEMAND_PERCENT, SATURATED_EVENT_LOOP_P99_MS, type Scenario } from '../../lib/loadtest/index.ts';
import { findWrk, runWrkScenario } from '../../lib/loadtest/wrk-engine.ts';
import { startTestNginx } from '../helpers/servers.ts';

const status = (o: Partial<Scenario>): Scenario => ({ name: 'status', description: 'nginx return 200', connections: 50, mix: [{ kind: 'status', weight: 1 }], thresholds: { p95Ms: 50 }, ...o });

describe('generator saturation', () => {
  it('is the CPU near a full core or a lagging event loop', () => {
    expect(generatorSaturated({ cpuPercent: SATURATED_CPU_PERCENT, eventLoopDelayP99Ms: 0 })).toBe(true);
    expect(generatorSaturated({ cpuPercent: SATURATED_CPU_PERCENT - 1, eventLoopDelayP99Ms: 0 })).toBe(false);
    expect(generatorSaturated({ cpuPercent: 20, eventLoopDelayP99Ms: SATURATED_EVENT_LOOP_P99_MS })).toBe(true);
    expect(generatorSaturated({ cpuPercent: 20, eventLoopDelayP99Ms: SATURATED_EVENT_LOOP_P99_MS - 1 })).toBe(false);
    // On a shared machine: running 60% of the run and waiting for a core the rest is saturated too.
    expect(generatorSaturated({ cpuPercent: 60, runQueuePercent: SATURATED_DEMAND_PERCENT - 60, eventLoopDelayP99Ms: 0 })).toBe(true);
    expect(generatorSaturated({ cpuPercent: 60, runQueuePercent: SATURATED_DEMAND_PERCENT - 61, eventLoopDelayP99Ms: 0 })).toBe(false);
  });
});

describe('a run against nginx return 200', () => {
  let nginx: Awaited<ReturnType<typeof startTestNginx>>;
  beforeAll(async () => {
    nginx = await startTestNginx(
      (port, dir) => `worker_processes 1;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;
  server { listen 127.0.0.1:${port}; location / { return 200 'ok'; } }
}
`,
    );
  });
  afterAll(async () => {
    await nginx?.cleanup();
  });

  it('is reported saturated in every format, with the way to a true figure', async () => {
    const run = await runScenario({ url: nginx.url, scenario: status({ durationSeconds: 3, warmupSeconds: 1 }), runId: 'saturate' });
    const report = buildReport(run, { scenario: status({ durationSeconds: 3 }), target: nginx.url, generator: 'autocannon under test' });
    expect(report.generator, JSON.stringify(report.generator)).toMatchObject({ engine: 'autocannon under test', saturated: true });
    const g = report.generator as { cpuPercent: number; eventLoopDelayP99Ms: number; runQueuePercent?: number };
    // The runner wanted its core all along: CPU near 100%, or running and waiting for a core, or its loop could not keep up.
    expect(
      g.cpuPercent >= SATURATED_CPU_PERCENT || g.cpuPercent + (g.runQueuePercent ?? 0) >= SATURATED_DEMAND_PERCENT || g.eventLoopDelayP99Ms >= SATURATED_EVENT_LOOP_P99_MS,
      JSON.stringify(g),
    ).toBe(true);
    expect(g.cpuPercent).toBeLessThan(150);
    expect(run.responses).toBeGreaterThan(1000);
    expect(renderReport(report, 'text')).toMatch(/^WARNING: the load generator was the limit of this run \(\d+% of a core.*lower bound.*faster engine.*more runners.*another machine/m);
    expect(renderReport(report, 'md')).toContain('> **Warning:** the load generator was the limit of this run');
    expect(renderReport(report, 'html')).toContain('id="generator-saturated"');
    expect(JSON.parse(renderReport(report, 'json')).generator.saturated).toBe(true);
  }, 60_000);

  it('a warm-up is on the timeline and in no total, percentile or threshold', async () => {
    const scenario = status({ durationSeconds: 2, warmupSeconds: 2 });
    const run = await runScenario({ url: nginx.url, scenario, runId: 'warmup' });
    const report = buildReport(run, { scenario, target: nginx.url });
    const warm = report.timeline!.filter((p) => p.warmup);
    const measured = report.timeline!.filter((p) => !p.warmup);
    expect(warm.map((p) => p.t)).toEqual([0, 1]);
    expect(measured.length).toBeGreaterThanOrEqual(1);
    expect(report.warmup!.seconds).toBe(2);
    expect(report.warmup!.requests).toBeGreaterThan(0);
    expect(warm.reduce((s, p) => s + p.requests, 0)).toBe(report.warmup!.requests);
    expect(measured.reduce((s, p) => s + p.requests, 0)).toBe(report.requests.total);
    expect(report.histogram.reduce((s, b) => s + b.count, 0)).toBe(report.requests.total);
    // The measured part alone sets the rate: two seconds, whatever the warm-up.
    expect(report.durationSeconds).toBeCloseTo(2, 1);
    expect(report.requests.perSecond).toBeCloseTo(report.requests.total / report.durationSeconds, 0);
    expect(report.thresholds[0]!.actual).toBe(report.latencyMs.p95);
    expect(renderReport(report, 'text')).toMatch(/^warm-up: 2\.0 s, [\d,]+ requests before the measured run/m);
    const html = renderReport(report, 'html');
    expect(html).toContain('id="warmup"');
    expect(html).toContain('class="warmup"');
  }, 60_000);
});

describe('the wrk engine', () => {
  let nginx: Awaited<ReturnType<typeof startTestNginx>>;
  beforeAll(async () => {
    nginx = await startTestNginx(
      (port, dir) => `worker_processes 1;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; location = /api/status { return 200 'ok'; } location ~ ^/api/users/(5|6|7|12|13)$ { return 200 'user'; } location / { return 404; } }
}
`,
    );
  });
  afterAll(async () => {
    await nginx?.cleanup();
  });

  it('runs where the scenario allows it (auto), and says why not otherwise', () => {
    expect(chooseEngine(status({ durationSeconds: 2 }), 'auto')).toMatchObject({ kind: 'wrk', name: expect.stringMatching(/^wrk /) });
    expect(chooseEngine(status({ durationSeconds: 2, rate: 100 }), 'auto')).toMatchObject({ kind: 'autocannon', note: 'engine autocannon: wrk cannot run this scenario (it drives a fixed rate)' });
    expect(chooseEngine(status({ durationSeconds: 2 }), 'auto', { PATH: '/nonexistent', APISTACK_WRK: '/nonexistent/wrk' }).kind).toBe(findWrk({ PATH: '/nonexistent' }) ? 'wrk' : 'autocannon');
    expect(chooseEngine({ ...status({ durationSeconds: 2 }), mix: [{ kind: 'read', weight: 1 }], setup: { users: 10 } }, 'auto').kind).toBe('wrk');
    expect(() => chooseEngine({ ...status({ durationSeconds: 2 }), mix: [{ kind: 'write', weight: 1 }], setup: { apiKeys: 1 } }, 'wrk')).toThrow(
      '--engine wrk cannot run scenario status: its mix is not status or read alone (wrk counts no kinds, and its writes would need per-request keys); use --engine autocannon (or auto) for it',
    );
  });

  it('keeps the report in one shape: a timeline per second with the warm-up first, percentiles from its own histogram', async () => {
    const scenario = status({ durationSeconds: 2, warmupSeconds: 1, connections: 20 });
    const wrk = findWrk()!;
    const run = await runWrkScenario({ url: nginx.url, scenario, runId: 'wrk', wrk });
    const report = buildReport(run, { scenario, target: nginx.url, generator: 'wrk' });
    expect(report.timeline!.map((p) => p.warmup === true)).toEqual([true, false, false]);
    expect(report.timeline!.every((p) => p.connections === 20)).toBe(true);
    expect(report.warmup).toEqual({ seconds: 1, requests: report.timeline![0]!.requests });
    expect(report.warmup!.requests).toBeGreaterThan(100);
    expect(report.requests.total).toBe(report.timeline![1]!.requests + report.timeline![2]!.requests);
    expect(report.statusCodes).toEqual({ '2xx-3xx': report.requests.total });
    expect(report.successRate).toBe(1);
    expect(report.histogram.reduce((s, b) => s + b.count, 0)).toBeGreaterThanOrEqual(report.requests.total * 0.99);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99);
    expect(report.durationSeconds).toBe(2);
    const g = report.generator as { engine: string; cpuPercent: number };
    expect(g.engine).toBe('wrk');
    // wrk's own thread was measured (it reaps as a child of this process).
    expect(g.cpuPercent).toBeGreaterThan(5);
    // The 404 of another path is a failure, counted as wrk counts it.
    const missing = await runWrkScenario({ url: `${nginx.url}/nope`, scenario: status({ durationSeconds: 1, warmupSeconds: 0, connections: 5 }), runId: 'wrk404', wrk });
    expect(missing.statusCodes['2xx-3xx'] ?? 0).toBe(0);
    expect(missing.responses).toBeGreaterThan(0);
    expect(missing.errors['non-2xx']).toBe(missing.responses);
  }, 60_000);

  it('reads only the seeded users, drawn over every range', async () => {
    const scenario: Scenario = { ...status({ durationSeconds: 1, warmupSeconds: 0, connections: 5 }), mix: [{ kind: 'read', weight: 1 }], setup: { users: 5 } };
    const seed = { userIdRanges: [{ first: 5, last: 7 }, { first: 12, last: 13 }], apiKeys: [] };
    const run = await runWrkScenario({ url: nginx.url, scenario, seed, runId: 'wrk-read', wrk: findWrk()! });
    expect(run.responses).toBeGreaterThan(100);
    // Any id outside the ranges would be a 404, a failure.
    expect(run.errors).toEqual({});
    expect(run.statusCodes).toEqual({ '2xx-3xx': run.responses });
    expect(run.requestsByKind).toEqual({ read: run.responses });
  }, 60_000);
});
