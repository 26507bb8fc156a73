/** Aggregation over workers that come, go and stall: sums must never dip (no false counter resets). */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ClusterMetrics, type MetricsRequest } from '../../app/src/cluster-metrics.ts';

/** A stand-in for a cluster worker: answers metric requests from its own registry, unless stalled. */
class FakeWorker extends EventEmitter {
  readonly registry = new client.Registry();
  readonly requests = new client.Counter({ name: 'requests_total', help: 'x', registers: [this.registry] });
  readonly inFlight = new client.Gauge({ name: 'in_flight', help: 'x', registers: [this.registry] });
  stalled = false;
  readonly unanswered: MetricsRequest[] = [];
  constructor(readonly id: number) {
    super();
  }
  isConnected(): boolean {
    return true;
  }
  send(msg: MetricsRequest): boolean {
    if (this.stalled) this.unanswered.push(msg);
    else void this.answer(msg);
    return true;
  }
  async answer(msg: MetricsRequest): Promise<void> {
    const metrics = await this.registry.getMetricsAsJSON();
    this.emit('message', { type: 'metrics-response', id: msg.id, metrics });
  }
}

const asWorkers = (ws: FakeWorker[]) => ws as unknown as Worker[];
const value = (text: string, name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? Number.NaN);

describe('cluster metrics', () => {
  it('sums live workers, keeps a retired worker’s counters (not its gauges), and uses a stalled worker’s last answer', async () => {
    const metrics = new ClusterMetrics(50);
    const [a, b] = [new FakeWorker(1), new FakeWorker(2)];
    for (const w of [a, b]) metrics.attach(w as unknown as Worker);
    a.requests.inc(10);
    b.requests.inc(5);
    a.inFlight.set(3);
    expect(value(await metrics.collect(asWorkers([a, b])), 'requests_total')).toBe(15);

    // b stalls: its previous answer stands in, so the sum does not dip.
    b.stalled = true;
    a.requests.inc(1);
    expect(value(await metrics.collect(asWorkers([a, b])), 'requests_total')).toBe(16);
    b.stalled = false;

    // a retires with its final totals and exits; a replacement starts from zero.
    a.requests.inc(4); // 15 in a
    await metrics.retire(a.id, await a.registry.getMetricsAsJSON());
    a.emit('exit');
    const c = new FakeWorker(3);
    metrics.attach(c as unknown as Worker);
    c.requests.inc(2);
    const text = await metrics.collect(asWorkers([b, c]));
    expect(value(text, 'requests_total')).toBe(15 + 5 + 2);
    // The retired worker's in-flight gauge is not carried over.
    expect(value(text, 'in_flight')).toBe(0);
  });

  it('does not count a worker twice when its live answer and its retirement meet in one scrape', async () => {
    const metrics = new ClusterMetrics(1000);
    const a = new FakeWorker(1);
    metrics.attach(a as unknown as Worker);
    a.requests.inc(7);
    a.stalled = true;
    const scraping = metrics.collect(asWorkers([a]));
    // Retirement lands first, then the live answer the scrape asked for.
    await metrics.retire(a.id, await a.registry.getMetricsAsJSON());
    await a.answer(a.unanswered[0]!);
    expect(value(await scraping, 'requests_total')).toBe(7);
  });
});
