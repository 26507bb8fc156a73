/**
 * Metrics over node:cluster that survive worker turnover.
 *
 * prom-client's AggregatorRegistry waits for every worker it asked; a worker that exits while
 * being asked (recycling does this all the time) fails the whole scrape after 5 s. And a summed
 * counter that loses a recycled worker's share drops, which Prometheus reads as a reset and
 * turns into a rate spike. So here each worker is asked separately (an exiting worker simply
 * stops counting), and a worker that retires hands its final counters and histograms to the
 * primary, which keeps adding them in: totals stay monotonic across recycles.
 */
import type { Worker } from 'node:cluster';
import client, { AggregatorRegistry } from 'prom-client';

export type MetricJson = Awaited<ReturnType<client.Registry['getMetricsAsJSON']>>[number];

export type MetricsRequest = { type: 'metrics-request'; id: number };
export type MetricsResponse = { type: 'metrics-response'; id: number; metrics: MetricJson[] };

/** How long one worker may take to answer before the scrape goes on without it. */
const WORKER_ANSWER_TIMEOUT_MS = 2000;

/** Only totals carry over from a retired worker; its gauges (in flight, heap) died with it. */
const monotonic = (metrics: MetricJson[]): MetricJson[] =>
  // At run time the type is the string prom-client prints, whatever its typings say.
  metrics.filter((m) => ['counter', 'histogram'].includes(String(m.type)));

export class ClusterMetrics {
  constructor(private readonly answerTimeoutMs = WORKER_ANSWER_TIMEOUT_MS) {}

  #nextId = 0;
  #retired: MetricJson[] = [];
  readonly #retiredWorkers = new Set<number>();
  /** Each live worker's latest answer, used when it is too busy to answer in time. */
  readonly #lastAnswer = new Map<number, MetricJson[]>();
  readonly #pending = new Map<number, Map<number, (metrics: MetricJson[] | undefined) => void>>();

  /** Wire a newly forked worker's messages in. */
  attach(worker: Worker): void {
    worker.on('message', (msg: MetricsResponse) => {
      if (msg?.type === 'metrics-response') this.#pending.get(msg.id)?.get(worker.id)?.(msg.metrics);
    });
    // A worker that goes away mid-scrape answers "nothing" rather than holding the scrape up.
    worker.once('exit', () => {
      // Retired: its totals live on in #retired. Crashed: they are gone, a true counter reset.
      this.#lastAnswer.delete(worker.id);
      for (const waiting of this.#pending.values()) waiting.get(worker.id)?.(undefined);
      // Remembered a while longer than any scrape in flight could still hold its answer.
      setTimeout(() => this.#retiredWorkers.delete(worker.id), this.answerTimeoutMs * 5).unref();
    });
  }

  /** Keep a retiring worker's final totals, and stop counting its live answers. */
  async retire(workerId: number, metrics: MetricJson[]): Promise<void> {
    this.#retired = await AggregatorRegistry.aggregate([this.#retired, monotonic(metrics)]).getMetricsAsJSON();
    // Only now stop counting its live answers, so no scrape sees its share twice or not at all.
    this.#retiredWorkers.add(workerId);
  }

  /** Every live worker's metrics plus the retired totals, in the Prometheus text format. */
  async collect(workers: Worker[]): Promise<string> {
    const id = this.#nextId++;
    const waiting = new Map<number, (metrics: MetricJson[] | undefined) => void>();
    this.#pending.set(id, waiting);
    try {
      const answers = await Promise.all(
        workers
          .filter((w) => w.isConnected())
          .map(
            (w) =>
              new Promise<{ workerId: number; metrics: MetricJson[] | undefined }>((resolve) => {
                // A worker too busy to answer counts with its previous answer: leaving it out would
                // make the sums dip, which Prometheus reads as a counter reset.
                const timer = setTimeout(() => resolve({ workerId: w.id, metrics: this.#lastAnswer.get(w.id) }), this.answerTimeoutMs);
                waiting.set(w.id, (metrics) => {
                  clearTimeout(timer);
                  if (metrics) this.#lastAnswer.set(w.id, metrics);
                  resolve({ workerId: w.id, metrics });
                });
                try {
                  w.send({ type: 'metrics-request', id } satisfies MetricsRequest);
                } catch {
                  waiting.get(w.id)?.(undefined);
                }
              }),
          ),
      );
      // A worker that retired while answering is already in the retired totals: count it once.
      const live = answers.filter((a) => a.metrics && !this.#retiredWorkers.has(a.workerId)).map((a) => a.metrics!);
      return await AggregatorRegistry.aggregate([this.#retired, ...live]).metrics();
    } finally {
      this.#pending.delete(id);
    }
  }
}

/** Worker side: answer the primary's requests from the default registry. */
export function answerMetricsRequests(registry: client.Registry = client.register): void {
  process.on('message', (msg: MetricsRequest) => {
    if (msg?.type !== 'metrics-request') return;
    void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: 'metrics-response', id: msg.id, metrics } satisfies MetricsResponse));
  });
}
