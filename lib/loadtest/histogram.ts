/**
 * Latency histogram with bounded relative error: values go into logarithmic buckets 1% wide, so
 * any percentile is within 0.5% of the exact one whatever the range (10 µs to minutes), in memory
 * proportional to the distinct buckets used, never to the number of requests. The same idea as
 * HdrHistogram and DDSketch, small enough to keep one per second of a run for the timeline.
 */

/** Each bucket is this much wider than the one below it. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Values below this (ms) share the lowest bucket. */
const MIN_MS = 0.001;

function bucketOf(ms: number): number {
  return ms <= MIN_MS ? 0 : Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH);
}

/** A bucket's representative value: the middle of [lower, upper], in ms. */
function valueOf(bucket: number): number {
  if (bucket === 0) return MIN_MS;
  const upper = MIN_MS * GROWTH ** bucket;
  return (upper + upper / GROWTH) / 2;
}

export interface HistogramBucket {
  /** Lower bound, inclusive, in ms. */
  readonly fromMs: number;
  /** Upper bound, exclusive (inclusive for the last bucket), in ms. */
  readonly toMs: number;
  readonly count: number;
}

export class LatencyHistogram {
  private readonly buckets = new Map<number, number>();
  private total = 0;
  private sum = 0;
  private maxValue = 0;
  private minValue = Number.POSITIVE_INFINITY;

  record(ms: number, times = 1): void {
    if (!Number.isFinite(ms) || ms < 0 || !(times > 0)) return;
    const b = bucketOf(ms);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + times);
    this.total += times;
    this.sum += ms * times;
    if (ms > this.maxValue) this.maxValue = ms;
    if (ms < this.minValue) this.minValue = ms;
  }

  add(other: LatencyHistogram): void {
    for (const [b, n] of other.buckets) this.buckets.set(b, (this.buckets.get(b) ?? 0) + n);
    this.total += other.total;
    this.sum += other.sum;
    this.maxValue = Math.max(this.maxValue, other.maxValue);
    this.minValue = Math.min(this.minValue, other.minValue);
  }

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxValue;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minValue;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  /** The value at percentile p (0–100): the smallest v with at least p% of values ≤ v. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (const b of [...this.buckets.keys()].sort((x, y) => x - y)) {
      seen += this.buckets.get(b)!;
      // Clamped to what was seen: the ends of the distribution are exact.
      if (seen >= rank) return Math.min(this.maxValue, Math.max(this.minValue, valueOf(b)));
    }
    return this.maxValue;
  }

  /**
   * For display: about `target` equal-width buckets with round edges from the minimum to the
   * 99.9th percentile, and one more up to the maximum when the tail reaches beyond, so one slow
   * request does not squash the shape of the rest into a single bar.
   */
  displayBuckets(target = 30): HistogramBucket[] {
    if (this.total === 0) return [];
    const tailStart = this.percentile(99.9);
    const step = niceStep(Math.max(tailStart - this.min, 0.001) / target);
    const from = Math.floor(this.min / step) * step;
    const body = Math.max(1, Math.ceil((tailStart - from) / step + 1e-9));
    const withTail = this.maxValue >= from + body * step;
    const counts = new Array<number>(body + (withTail ? 1 : 0)).fill(0);
    for (const [b, n] of this.buckets) {
      const v = Math.min(this.maxValue, Math.max(this.minValue, valueOf(b)));
      const i = Math.min(counts.length - 1, Math.max(0, Math.floor((v - from) / step)));
      counts[i]! += n;
    }
    const round = (x: number) => Number(x.toFixed(6));
    return counts.map((count, i) => ({
      fromMs: round(from + i * step),
      toMs: round(i === body ? this.maxValue : from + (i + 1) * step),
      count,
    }));
  }
}

/** The smallest of 1, 2, 2.5, 5 × 10^k that is at least `raw`. */
export function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= raw - 1e-12) return m * magnitude;
  return 10 * magnitude;
}
