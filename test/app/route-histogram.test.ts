/**
 * RouteHistogram stands in for prom-client's Histogram on the request path: the same observations
 * must give the same exposition text, the same JSON and the same aggregate over workers, or
 * dashboards and alerts would read something else than a real histogram would have given them.
 */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HTTP_DURATION_BUCKETS_SECONDS, LABELS } from '../../app/src/metrics-contract.ts';
import { RouteHistogram } from '../../app/src/metrics.ts';

const NAME = 'parity_http_request_duration_seconds';
const HELP = 'Request duration';

/** Observations on bucket edges, between them, above the last one and at zero, over routes, methods and codes. */
function observations(): [route: string, method: string, statusCode: number, seconds: number][] {
  const out: [string, string, number, number][] = [];
  const edges = HTTP_DURATION_BUCKETS_SECONDS;
  const values = [0, ...edges, ...edges.map((b) => b * 1.5), edges.at(-1)! * 10, 0.0001234];
  for (const [route, method, code] of [
    ['/api/status', 'GET', 200],
    ['/api/users/:id', 'GET', 200],
    ['/api/users/:id', 'GET', 404],
    ['/api/users/:id', 'PATCH', 200],
    ['unmatched', 'POST', 404],
  ] as const) {
    for (const v of values) out.push([route, method, code, v]);
  }
  return out;
}

function both() {
  const ours = new client.Registry();
  const theirs = new client.Registry();
  const histogram = new RouteHistogram(NAME, HELP, HTTP_DURATION_BUCKETS_SECONDS, [ours]);
  const reference = new client.Histogram({ name: NAME, help: HELP, buckets: [...HTTP_DURATION_BUCKETS_SECONDS], labelNames: [LABELS.method, LABELS.route, LABELS.statusCode], registers: [theirs] });
  const recorders = new Map<string, ReturnType<RouteHistogram['route']>>();
  for (const [route, method, code, seconds] of observations()) {
    if (!recorders.has(route)) recorders.set(route, histogram.route(route));
    recorders.get(route)!(method, code, seconds);
    reference.observe({ [LABELS.method]: method, [LABELS.route]: route, [LABELS.statusCode]: String(code) }, seconds);
  }
  return { ours, theirs };
}

/** Exposition lines in a stable order; label order inside a line is normalised too. */
function normalisedText(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^([^{\s]+)\{([^}]*)\}\s+(.*)$/.exec(line);
      if (!m) return line;
      const labels = m[2]!.match(/\w+="[^"]*"/g)!.sort().join(',');
      return `${m[1]}{${labels}} ${m[3]}`;
    })
    .sort();
}

function normalisedJson(metrics: client.MetricObjectWithValues<client.MetricValue<string>>[]) {
  return metrics.map((m) => ({
    name: m.name,
    help: m.help,
    type: m.type,
    aggregator: m.aggregator,
    values: m.values
      .map((v) => ({ metricName: (v as { metricName?: string }).metricName, value: v.value, labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]).sort()) }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  }));
}

describe('RouteHistogram against prom-client Histogram', () => {
  it('exports the same exposition text', async () => {
    const { ours, theirs } = both();
    const text = await ours.metrics();
    expect(normalisedText(text)).toEqual(normalisedText(await theirs.metrics()));
    // Not vacuous: every bucket of every series is there.
    expect(text.split('\n').filter((l) => l.startsWith(`${NAME}_bucket{`))).toHaveLength(5 * (HTTP_DURATION_BUCKETS_SECONDS.length + 1));
  });

  it('exports the same JSON, and aggregates over workers to the same sums', async () => {
    const { ours, theirs } = both();
    const [oursJson, theirsJson] = [await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON()];
    expect(normalisedJson(oursJson)).toEqual(normalisedJson(theirsJson));
    // What the primary does with two workers' answers.
    const aggregatedOurs = client.AggregatorRegistry.aggregate([oursJson, oursJson]);
    const aggregatedTheirs = client.AggregatorRegistry.aggregate([theirsJson, theirsJson]);
    expect(normalisedText(await aggregatedOurs.metrics())).toEqual(normalisedText(await aggregatedTheirs.metrics()));
    expect(await aggregatedOurs.metrics()).toMatch(new RegExp(`${NAME}_count\\{[^}]*route="/api/status"[^}]*\\} ${2 * (2 * HTTP_DURATION_BUCKETS_SECONDS.length + 3)}`));
  });
});
