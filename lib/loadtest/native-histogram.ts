/**
 * Arithmetic on Prometheus native histograms as the API returns them (k6 writes its latencies so):
 * sums over series, the difference of two cumulative values (what one interval added), quantiles
 * interpolated within a bucket as Prometheus 2's histogram_quantile does, and the bridge to the
 * report's own LatencyHistogram for the display buckets.
 */
import { LatencyHistogram } from './histogram.ts';
import type { NativeHistogramValue } from './prometheus.ts';

export const EMPTY_HISTOGRAM: NativeHistogramValue = { count: 0, sum: 0, buckets: [] };

const key = (b: { lower: number; upper: number }) => `${b.lower}/${b.upper}`;

/** Two histograms' observations together (several series, or runners, summed). */
export function histogramSum(a: NativeHistogramValue, b: NativeHistogramValue): NativeHistogramValue {
  const buckets = new Map<string, { lower: number; upper: number; count: number }>();
  for (const x of [...a.buckets, ...b.buckets]) buckets.set(key(x), { lower: x.lower, upper: x.upper, count: (buckets.get(key(x))?.count ?? 0) + x.count });
  return { count: a.count + b.count, sum: a.sum + b.sum, buckets: [...buckets.values()].sort((x, y) => x.lower - y.lower) };
}

/** What `later` holds beyond `earlier` (both cumulative, of the same runners): one interval's observations. */
export function histogramDelta(later: NativeHistogramValue, earlier: NativeHistogramValue): NativeHistogramValue {
  const before = new Map(earlier.buckets.map((b) => [key(b), b.count]));
  const buckets = later.buckets.map((b) => ({ ...b, count: Math.max(0, b.count - (before.get(key(b)) ?? 0)) })).filter((b) => b.count > 0);
  return { count: Math.max(0, later.count - earlier.count), sum: Math.max(0, later.sum - earlier.sum), buckets };
}

/**
 * The q-quantile (0–1): the bucket holding rank q × count, interpolated linearly within it, as
 * Prometheus 2's histogram_quantile does for native histograms. NaN for an empty histogram.
 */
export function histogramQuantile(h: NativeHistogramValue, q: number): number {
  const total = h.buckets.reduce((sum, b) => sum + b.count, 0);
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let seen = 0;
  for (const b of h.buckets) {
    seen += b.count;
    if (seen >= rank) return Math.max(0, b.lower) + (b.upper - Math.max(0, b.lower)) * ((rank - (seen - b.count)) / b.count);
  }
  return h.buckets.at(-1)!.upper;
}

/** The largest observation, to a bucket's width: the upper bound of the highest populated bucket. */
export function histogramMax(h: NativeHistogramValue): number {
  return h.buckets.at(-1)?.upper ?? 0;
}

export function histogramMean(h: NativeHistogramValue): number {
  return h.count > 0 ? h.sum / h.count : 0;
}

/** The observations (seconds) as the report's latency histogram (ms), each bucket at its middle. */
export function toLatencyHistogramMs(h: NativeHistogramValue): LatencyHistogram {
  const out = new LatencyHistogram();
  for (const b of h.buckets) out.record(((Math.max(0, b.lower) + b.upper) / 2) * 1000, b.count);
  return out;
}
