/**
 * Prometheus metrics. Workers record into prom-client's default registry; the primary
 * aggregates every worker's registry over the cluster IPC (cluster-metrics.ts) and adds its own
 * (worker restarts, live workers), served on METRICS_PORT, never on the public port.
 */
import type { ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';
import { HTTP_DURATION_BUCKETS_SECONDS, LABELS, METRICS } from './metrics-contract.ts';

/**
 * Request durations by method, route and status code, in the exact shape prom-client's Histogram
 * exports (so the primary aggregates it like any other), without its per-observation cost:
 * prom-client validates and hashes the label set and looks buckets up by their string form on
 * every observe(), a measurable share of a fast request. Here each route gets a recorder up
 * front, and an observation is two Map lookups and an array increment.
 */
export class RouteHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series: Series[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
    registers: readonly client.Registry[],
  ) {
    for (const r of registers) r.registerMetric(this as unknown as client.Metric);
  }

  /** A recorder for one route: (method, status code, seconds). */
  route(route: string): (method: string, statusCode: number, seconds: number) => void {
    const byMethod = new Map<string, Map<number, Series>>();
    return (method, statusCode, seconds) => {
      let byStatus = byMethod.get(method);
      if (!byStatus) byMethod.set(method, (byStatus = new Map()));
      let series = byStatus.get(statusCode);
      if (!series) {
        series = { labels: { [LABELS.method]: method, [LABELS.route]: route, [LABELS.statusCode]: String(statusCode) }, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
        byStatus.set(statusCode, series);
        this.#series.push(series);
      }
      let i = 0;
      while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
      if (i < this.buckets.length) series.counts[i]!++;
      series.sum += seconds;
      series.count++;
    };
  }

  /** prom-client's JSON form: cumulative buckets (le first), +Inf, _sum, _count per label set. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SampleJson[] }> {
    const values: SampleJson[] = [];
    for (const s of this.#series) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** One sample as prom-client's registry reads it. */
interface SampleJson {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Responses being produced. A Set rather than a counter, so a request whose client went away
 * (no response ever finishes) is pruned when counted, and a drain can reach the ones in flight.
 */
export class InFlight {
  readonly #responses = new Set<ServerResponse>();
  add(res: ServerResponse): void {
    this.#responses.add(res);
  }
  delete(res: ServerResponse): void {
    this.#responses.delete(res);
  }
  /** The responses not yet finished, dropping those that finished or whose socket is gone. */
  pending(): ServerResponse[] {
    const out: ServerResponse[] = [];
    for (const res of this.#responses) {
      if (res.writableFinished || res.destroyed) this.#responses.delete(res);
      else out.push(res);
    }
    return out;
  }
}

export interface Metrics {
  readonly httpDuration: RouteHistogram;
  readonly inFlight: InFlight;
  readonly cache: client.Counter<string>;
  readonly poolInUse: client.Gauge<string>;
  readonly poolWaiting: client.Gauge<string>;
  readonly poolMax: client.Gauge<string>;
  readonly rateLimited: client.Counter<string>;
  readonly idempotentReplays: client.Counter<string>;
  readonly eventsAccepted: client.Counter<string>;
  readonly ready: client.Gauge<string>;
}

export function workerMetrics(registry: client.Registry = client.register, workerId = String(process.pid)): Metrics {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const worker = { [LABELS.worker]: workerId };
  new client.Gauge({
    name: METRICS.eventLoopLag,
    help: 'Event-loop delay p99 over the last scrape interval, seconds',
    labelNames: [LABELS.worker],
    registers: [registry],
    collect() {
      this.set(worker, lag.percentile(99) / 1e9);
      lag.reset();
    },
  });
  new client.Gauge({
    name: METRICS.heapUsedBytes,
    help: 'V8 heap used, bytes',
    labelNames: [LABELS.worker],
    registers: [registry],
    collect() {
      this.set(worker, process.memoryUsage().heapUsed);
    },
  });
  new client.Gauge({
    name: METRICS.residentMemoryBytes,
    help: 'Resident set size, bytes',
    labelNames: [LABELS.worker],
    registers: [registry],
    collect() {
      this.set(worker, process.memoryUsage.rss());
    },
  });
  const inFlight = new InFlight();
  new client.Gauge({
    name: METRICS.httpRequestsInFlight,
    help: 'Requests being served',
    registers: [registry],
    collect() {
      this.set(inFlight.pending().length);
    },
  });
  return {
    httpDuration: new RouteHistogram(METRICS.httpRequestDuration, 'HTTP request duration by route and status, seconds', HTTP_DURATION_BUCKETS_SECONDS, [registry]),
    inFlight,
    cache: new client.Counter({ name: METRICS.cacheRequests, help: 'Cache lookups by layer and result', labelNames: [LABELS.cacheLayer, LABELS.cacheResult], registers: [registry] }),
    poolInUse: new client.Gauge({ name: METRICS.dbPoolConnectionsInUse, help: 'Postgres pool connections in use', registers: [registry] }),
    poolWaiting: new client.Gauge({ name: METRICS.dbPoolConnectionsWaiting, help: 'Queries waiting for a pool connection', registers: [registry] }),
    poolMax: new client.Gauge({ name: METRICS.dbPoolConnectionsMax, help: 'Pool size', registers: [registry] }),
    rateLimited: new client.Counter({ name: METRICS.rateLimited, help: 'Requests refused by the per-key rate limit', labelNames: [LABELS.rateLimitMode], registers: [registry] }),
    idempotentReplays: new client.Counter({ name: METRICS.idempotentReplays, help: 'Idempotency-Key replays answered from the stored result', registers: [registry] }),
    eventsAccepted: new client.Counter({ name: METRICS.eventsAccepted, help: 'Events committed', registers: [registry] }),
    ready: new client.Gauge({ name: METRICS.ready, help: '1 when the worker is ready', labelNames: [LABELS.worker], registers: [registry] }),
  };
}

export interface PrimaryMetrics {
  readonly registry: client.Registry;
  readonly restarts: client.Counter<string>;
  readonly alive: client.Gauge<string>;
}

export function primaryMetrics(): PrimaryMetrics {
  const registry = new client.Registry();
  return {
    registry,
    restarts: new client.Counter({ name: METRICS.workerRestarts, help: 'Worker replacements by reason', labelNames: [LABELS.restartReason], registers: [registry] }),
    alive: new client.Gauge({ name: METRICS.workersAlive, help: 'Workers that are listening (started, not yet draining or exited)', registers: [registry] }),
  };
}
