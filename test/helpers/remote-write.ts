/**
 * Prometheus remote write as k6's output sends it: a snappy-compressed protobuf WriteRequest
 * (prompb/types.proto) with float samples and native histograms, written by hand so the tests need
 * no protobuf or snappy package. Native histograms use exponential buckets: at schema s, bucket i
 * holds (2^((i-1)/2^s), 2^(i/2^s)].
 */

/** One series: its labels and either float samples or cumulative native histograms. */
export interface RemoteSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples?: readonly { readonly value: number; readonly timestampMs: number }[];
  readonly histograms?: readonly { readonly histogram: NativeHistogram; readonly timestampMs: number }[];
}

/** An integer native histogram with positive observations only (latencies). */
export interface NativeHistogram {
  readonly schema: number;
  readonly count: number;
  readonly sum: number;
  /** Bucket index → observations in it. */
  readonly buckets: ReadonlyMap<number, number>;
}

/** The native histogram of these observations (all > 0) at a schema, as a k6 runner builds it. */
export function nativeHistogram(values: readonly number[], schema: number): NativeHistogram {
  const buckets = new Map<number, number>();
  for (const v of values) {
    const index = Math.ceil(Math.log2(v) * 2 ** schema);
    buckets.set(index, (buckets.get(index) ?? 0) + 1);
  }
  return { schema, count: values.length, sum: values.reduce((a, b) => a + b, 0), buckets };
}

/** The upper bound of a bucket at a schema: the relative width every quantile is exact to. */
export const bucketUpperBound = (index: number, schema: number) => 2 ** (index / 2 ** schema);

/** POST a WriteRequest to Prometheus' remote-write receiver; throws with its answer when refused. */
export async function remoteWrite(prometheusUrl: string, series: readonly RemoteSeries[]): Promise<void> {
  const body = snappyLiteral(writeRequest(series));
  const res = await fetch(`${prometheusUrl}/api/v1/write`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
    body,
  });
  if (res.status >= 300) throw new Error(`remote write refused: ${res.status} ${await res.text()}`);
}

// Protobuf wire format: varint (0), 64-bit (1) and length-delimited (2) fields.
class Writer {
  private readonly parts: number[] = [];
  varint(n: number | bigint): this {
    let v = BigInt(n);
    if (v < 0n) v = BigInt.asUintN(64, v);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (v > 0n);
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  uint(field: number, n: number): this {
    return this.tag(field, 0).varint(n);
  }
  sint(field: number, n: number): this {
    return this.tag(field, 0).varint(zigzag(n));
  }
  double(field: number, n: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(n);
    this.tag(field, 1);
    this.parts.push(...b);
    return this;
  }
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.parts.push(...data);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  message(field: number, build: (w: Writer) => void): this {
    const w = new Writer();
    build(w);
    return this.bytes(field, w.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const zigzag = (n: number) => (BigInt(n) << 1n) ^ (BigInt(n) < 0n ? -1n : 0n);

function writeRequest(series: readonly RemoteSeries[]): Uint8Array {
  const w = new Writer();
  for (const s of series) {
    w.message(1, (ts) => {
      // Labels sorted by name, __name__ first, as Prometheus requires.
      for (const [name, value] of Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) ts.message(1, (l) => l.string(1, name).string(2, value));
      for (const sample of s.samples ?? []) ts.message(2, (m) => m.double(1, sample.value).uint(2, sample.timestampMs));
      for (const { histogram, timestampMs } of s.histograms ?? []) ts.message(4, (h) => histogramMessage(h, histogram, timestampMs));
    });
  }
  return w.done();
}

/** prompb.Histogram: count_int 1, sum 3, schema 4, zero_threshold 5, zero_count_int 6, positive_spans 11, positive_deltas 12, timestamp 15. */
function histogramMessage(w: Writer, h: NativeHistogram, timestampMs: number): void {
  w.uint(1, h.count).double(3, h.sum).sint(4, h.schema).double(5, 2 ** -128).uint(6, 0);
  const indices = [...h.buckets.keys()].sort((a, b) => a - b);
  // Spans of consecutive buckets: each span's offset is the gap after the previous one.
  const spans: { offset: number; length: number }[] = [];
  let previousEnd: number | undefined;
  for (const i of indices) {
    if (previousEnd !== undefined && i === previousEnd + 1) spans.at(-1)!.length++;
    else spans.push({ offset: previousEnd === undefined ? i : i - previousEnd - 1, length: 1 });
    previousEnd = i;
  }
  for (const span of spans) w.message(11, (m) => m.sint(1, span.offset).uint(2, span.length));
  // Deltas: each bucket's count minus the previous bucket's (packed sint64).
  const deltas = new Writer();
  let previous = 0;
  for (const i of indices) {
    const count = h.buckets.get(i)!;
    deltas.varint(zigzag(count - previous));
    previous = count;
  }
  w.bytes(12, deltas.done());
  w.uint(15, timestampMs);
}

/** Snappy's block format with literals only: valid input for any decoder, just not smaller. */
function snappyLiteral(data: Uint8Array): Buffer {
  const out: number[] = [];
  let n = data.length;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  for (let at = 0; at < data.length; at += 65536) {
    const chunk = data.subarray(at, at + 65536);
    const len = chunk.length - 1;
    if (len < 60) out.push(len << 2);
    else if (len < 256) out.push(60 << 2, len);
    else out.push(61 << 2, len & 0xff, len >> 8);
    out.push(...chunk);
  }
  return Buffer.from(out);
}
