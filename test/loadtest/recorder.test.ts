/** The recorder on its own: events in, counts, percentiles and the timeline out, no sockets. */
import { describe, expect, it } from 'vitest';
import { RunRecorder } from '../../lib/loadtest/recorder.ts';

describe('run recorder', () => {
  it('counts answers by status and kind, failures by kind, and one histogram over the run', () => {
    const r = new RunRecorder({ connections: 4 });
    for (let i = 0; i < 90; i++) r.response(10 + i * 10, 200, 5, 'read');
    for (let i = 0; i < 8; i++) r.response(100 + i * 10, 503, 50, 'status');
    r.failure(500, 'timeout');
    r.failure(600, 'connection-reset');
    const out = r.result(1000);
    expect(out.responses).toBe(98);
    expect(out.socketErrors).toBe(2);
    expect(out.statusCodes).toEqual({ 200: 90, 503: 8 });
    expect(out.errors).toEqual({ 'non-2xx': 8, timeout: 1, 'connection-reset': 1 });
    expect(out.requestsByKind).toEqual({ read: 90, status: 8 });
    expect(out.latency.count).toBe(98);
    expect(out.latency.percentile(50)).toBeCloseTo(5, 1);
    expect(out.latency.max).toBe(50);
    expect(out.durationSeconds).toBe(1);
    expect(out.warmup).toEqual({ seconds: 0, requests: 0 });
  });

  it('one timeline point per second, labelled with the connections held when it began; a short tail joins the second before', () => {
    const r = new RunRecorder({ connections: 10 });
    for (let i = 0; i < 100; i++) r.response(i * 10, 200, 2);
    r.connections = 40;
    for (let i = 0; i < 400; i++) r.response(1000 + i * 2.5, 200, 8);
    r.failure(1999, 'timeout');
    // 2.2 s: the last 0.2 s (two answers) belongs to the second before it.
    r.response(2100, 200, 9);
    r.response(2150, 500, 9);
    const out = r.result(2200);
    expect(out.timeline.map((p) => p.connections)).toEqual([10, 40]);
    expect(out.timeline.map((p) => p.requests)).toEqual([100, 403]);
    expect(out.timeline.map((p) => p.failed)).toEqual([0, 2]);
    expect(out.timeline[1]!.seconds).toBeCloseTo(1.2, 3);
    expect(out.timeline[1]!.requestsPerSecond).toBeCloseTo(403 / 1.2, 3);
    expect(out.timeline[0]!.latencyMs.p50).toBeCloseTo(2, 1);
    expect(out.timeline[1]!.latencyMs.max).toBe(9);
    expect(out.timeline.some((p) => p.warmup)).toBe(false);
  });

  it('warm-up requests are on the timeline, marked, and in no total', () => {
    const r = new RunRecorder({ connections: 5, warmupSeconds: 2 });
    // A slow start: 50 answers at 100 ms in the first two seconds, with one error and one failure.
    for (let i = 0; i < 50; i++) r.response(i * 40, i === 7 ? 500 : 200, 100, 'status');
    r.failure(1500, 'connection-refused');
    // Steady: 300 answers at 4 ms in the next three seconds.
    for (let i = 0; i < 300; i++) r.response(2000 + i * 10, 200, 4, 'status');
    const out = r.result(5000);
    expect(out.responses).toBe(300);
    expect(out.socketErrors).toBe(0);
    expect(out.statusCodes).toEqual({ 200: 300 });
    expect(out.errors).toEqual({});
    expect(out.requestsByKind).toEqual({ status: 300 });
    expect(out.latency.max).toBe(4);
    expect(out.latency.percentile(99)).toBeCloseTo(4, 1);
    expect(out.durationSeconds).toBe(3);
    expect(out.warmup).toEqual({ seconds: 2, requests: 51 });
    expect(out.timeline.map((p) => p.warmup === true)).toEqual([true, true, false, false, false]);
    expect(out.timeline.map((p) => p.requests)).toEqual([25, 26, 100, 100, 100]);
    expect(out.timeline[0]!.latencyMs.p50).toBe(100);
    expect(out.timeline[0]!.failed).toBe(1);
    // Progress counts everything sent so far, the warm-up too.
    expect(r.progress(5000).requests).toBe(351);
  });

  it('a run stopped inside its warm-up measured nothing', () => {
    const r = new RunRecorder({ connections: 1, warmupSeconds: 3 });
    r.response(100, 200, 1);
    const out = r.result(1000);
    expect(out.responses).toBe(0);
    expect(out.warmup).toEqual({ seconds: 1, requests: 1 });
    expect(out.timeline).toHaveLength(1);
    expect(out.timeline[0]!.warmup).toBe(true);
  });
});
