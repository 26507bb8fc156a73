/**
 * The runner measures what is there. Against a server whose latency is known (every answer after
 * a fixed 20 ms), 50 connections can complete at most 50 / 20 ms = 2,500 requests per second with
 * a median of 20 ms plus loopback and parsing: the runner must measure 2,500 req/s within 10% and
 * a p50 from 20 to 24 ms, and wrk (an independent generator in C) must agree with it within 10%.
 * (A CPU-bound target would not do: on 2 cores every generator measures its own cost there.)
 */
import { readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatorSaturated, runScenario, type RunResult, type Scenario } from '../../lib/loadtest/index.ts';
import { startFixedLatencyServer, type FixedLatencyServer } from '../helpers/fixed-latency-server.ts';
import { runWrk, socketErrorCount, type WrkResult } from '../helpers/wrk.ts';

const DELAY_MS = 20;
const CONNECTIONS = 50;
const SECONDS = 4;
const EXPECTED_RPS = CONNECTIONS * (1000 / DELAY_MS);

const scenario = (durationSeconds: number): Scenario => ({
  name: 'accuracy',
  description: 'fixed-latency target',
  durationSeconds,
  connections: CONNECTIONS,
  mix: [{ kind: 'status', weight: 1 }],
  thresholds: {},
});

interface Attempt {
  readonly runner: { rps: number; p50: number; errors: number; cpuPercent: number; eventLoopDelayP99Ms: number; saturated: boolean };
  readonly wrk: { rps: number; p50: number; errors: number };
}

/** Idle CPU, in cores, over the next `ms` (from /proc/stat). */
async function idleCores(ms = 1000): Promise<number> {
  const sample = () => {
    const cpus = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l));
    let idle = 0;
    let total = 0;
    for (const line of cpus) {
      const v = line.split(/\s+/).slice(1).map(Number);
      idle += v[3]! + v[4]!;
      total += v.reduce((a, b) => a + b, 0);
    }
    return { idle, total, cores: cpus.length };
  };
  const a = sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = sample();
  return ((b.idle - a.idle) / Math.max(1, b.total - a.total)) * a.cores;
}

/** Wait (bounded) until a core is free: other suites running beside this one slow every generator alike. */
async function quietMachine(timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let idle = await idleCores();
  while (idle < 1 && Date.now() < deadline) idle = await idleCores();
  return idle;
}

function within(actual: number, expected: number, fraction: number): boolean {
  return Math.abs(actual - expected) <= expected * fraction;
}

function meets(a: Attempt): boolean {
  return (
    // Little's law: 50 connections at the latency wrk measured independently (20 ms plus this
    // machine's loopback and timer overhead) bound the rate; EXPECTED_RPS is the zero-overhead ceiling.
    within(a.runner.rps, Math.min(EXPECTED_RPS, (CONNECTIONS * 1000) / a.wrk.p50), 0.1) &&
    // What the test asserts in the end: a try short of it is tried again, not taken.
    within(a.runner.rps, EXPECTED_RPS, 0.1) &&
    a.runner.p50 >= 20 &&
    a.runner.p50 <= 24 &&
    within(a.runner.rps, a.wrk.rps, 0.1) &&
    within(a.runner.p50, a.wrk.p50, 0.1) &&
    a.runner.errors === 0 &&
    !a.runner.saturated &&
    a.wrk.errors === 0
  );
}

describe('runner accuracy against a 20 ms target', () => {
  let server: FixedLatencyServer;
  const attempts: Attempt[] = [];
  const priority = getPriority();

  beforeAll(async () => {
    // Best effort (it needs the privilege): the target, the runner and wrk (children inherit it)
    // ahead of whatever else runs on the machine.
    try {
      setPriority(-10);
    } catch {
      // an unprivileged user keeps the default priority
    }
    server = await startFixedLatencyServer(DELAY_MS);
    // JIT warm-up of the runner's own code, unmeasured.
    await runScenario({ url: server.url, scenario: scenario(1), runId: 'warmup' });
  });

  afterAll(async () => {
    await server?.stop();
    try {
      setPriority(priority);
    } catch {
      // unchanged
    }
  });

  it(`measures ${EXPECTED_RPS} req/s within 10% and p50 within 20–24 ms, agrees with wrk within 10%, and the generator is not saturated`, async () => {
    // Noise on a shared machine only ever slows a run down (no generator can finish more than
    // 50 requests per 20 ms here), so each try waits for a free core, the runner gets up to
    // three tries, and every try is reported.
    for (let i = 0; i < 3; i++) {
      const idle = await quietMachine();
      const r: RunResult = await runScenario({ url: server.url, scenario: scenario(SECONDS), runId: `accuracy-${i}` });
      const w: WrkResult = await runWrk({ url: `${server.url}/api/status`, seconds: SECONDS, connections: CONNECTIONS, threads: 1 });
      const attempt: Attempt = {
        runner: {
          rps: r.responses / r.durationSeconds,
          p50: r.latency.percentile(50),
          errors: r.socketErrors + (r.errors['non-2xx'] ?? 0),
          cpuPercent: r.generator.cpuPercent,
          eventLoopDelayP99Ms: r.generator.eventLoopDelayP99Ms,
          saturated: generatorSaturated(r.generator),
        },
        wrk: { rps: w.requestsPerSecond, p50: w.latencyMs.p50, errors: w.non2xx + socketErrorCount(w) },
      };
      attempts.push(attempt);
      console.log(
        `accuracy try ${i + 1} (${idle.toFixed(1)} cores idle before): runner ${attempt.runner.rps.toFixed(0)} req/s p50 ${attempt.runner.p50.toFixed(2)} ms ` +
          `(CPU ${attempt.runner.cpuPercent}%, loop p99 ${attempt.runner.eventLoopDelayP99Ms} ms); ` +
          `wrk ${attempt.wrk.rps.toFixed(0)} req/s p50 ${attempt.wrk.p50.toFixed(2)} ms`,
      );
      if (meets(attempt)) break;
    }
    const best = attempts.find(meets) ?? attempts.at(-1)!;
    expect(best.runner.errors, JSON.stringify(attempts)).toBe(0);
    // The target set the pace, not the runner: the report does not call it saturated.
    expect(best.runner.saturated, JSON.stringify(attempts)).toBe(false);
    expect(best.wrk.errors, JSON.stringify(attempts)).toBe(0);
    expect(best.runner.rps, JSON.stringify(attempts)).toBeGreaterThanOrEqual(EXPECTED_RPS * 0.9);
    expect(best.runner.rps, JSON.stringify(attempts)).toBeLessThanOrEqual(EXPECTED_RPS * 1.1);
    expect(best.runner.p50, JSON.stringify(attempts)).toBeGreaterThanOrEqual(20);
    expect(best.runner.p50, JSON.stringify(attempts)).toBeLessThanOrEqual(24);
    expect(Math.abs(best.runner.rps - best.wrk.rps) / best.wrk.rps, JSON.stringify(attempts)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(best.runner.p50 - best.wrk.p50) / best.wrk.p50, JSON.stringify(attempts)).toBeLessThanOrEqual(0.1);
  }, 240_000);

  it('bounds a run by request count: exactly that many answered', async () => {
    const r = await runScenario({ url: server.url, scenario: { ...scenario(1), durationSeconds: undefined, requests: 500 }, runId: 'count' });
    expect(r.responses).toBe(500);
    expect(r.statusCodes).toEqual({ 200: 500 });
    // 500 requests over 50 connections at 20 ms each: ten rounds, about 0.2 s.
    expect(r.durationSeconds).toBeGreaterThan(0.19);
    expect(r.durationSeconds).toBeLessThan(1.5);
  });

  it('holds a fixed arrival rate', async () => {
    const r = await runScenario({ url: server.url, scenario: { ...scenario(3), rate: 500 }, runId: 'rate' });
    // autocannon releases each connection's share every second: 500/s, not the 2,500/s the target could take.
    expect(r.responses / r.durationSeconds).toBeGreaterThan(500 * 0.9);
    expect(r.responses / r.durationSeconds).toBeLessThan(500 * 1.1);
  });

  it('runs ramp stages with their own connections on one clock', async () => {
    const r = await runScenario({
      url: server.url,
      scenario: { ...scenario(1), durationSeconds: undefined, warmupSeconds: 0, stages: [{ durationSeconds: 1, connections: 10 }, { durationSeconds: 1, connections: 40 }] },
      runId: 'stages',
    });
    expect(r.connections).toBe(40);
    expect(r.durationSeconds).toBeGreaterThanOrEqual(2);
    expect(r.durationSeconds).toBeLessThan(2.6);
    expect(r.timeline.map((p) => p.connections).slice(0, 2)).toEqual([10, 40]);
    // 10 connections: ≤ 500/s; 40 connections: ≤ 2,000/s; noise only lowers either.
    expect(r.timeline[0]!.requestsPerSecond).toBeLessThanOrEqual(500 * 1.05);
    expect(r.timeline[1]!.requestsPerSecond).toBeGreaterThan(r.timeline[0]!.requestsPerSecond * 2);
  });
});

describe('runner against a server that closes keep-alive connections', () => {
  it('reconnects when an answer says Connection: close, as nginx sends every keepalive_requests: no error, no 503', async () => {
    const server = await startFixedLatencyServer(1, { maxRequestsPerConnection: 20 });
    try {
      const r = await runScenario({ url: server.url, scenario: { ...scenario(2), connections: 20 }, runId: 'close' });
      // Every connection is closed by the server many times over.
      expect(r.responses).toBeGreaterThan(20 * 20 * 3);
      expect(r.errors).toEqual({});
      expect(r.statusCodes).toEqual({ 200: r.responses });
    } finally {
      await server.stop();
    }
  });
});
