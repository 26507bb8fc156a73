/** How numbers, thresholds and costs of a report are worded, the same in every format. */
import type { LoadTestReport, ThresholdResult } from './report.ts';

export const LATENCY_KEYS = ['p10', 'p25', 'p50', 'p75', 'p90', 'p95', 'p99', 'max', 'mean'] as const;

export const int = (n: number) => Math.round(n).toLocaleString('en-US');
export const fixed = (n: number, digits: number) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** Milliseconds with three significant digits or more: 0.412, 21.3, 153. */
export const msText = (n: number) => (n === 0 ? '0' : n < 1 ? fixed(n, 3) : n < 100 ? fixed(n, 1) : int(n));
export const usd = (n: number) => `$${n < 1 ? fixed(n, 4) : fixed(n, 2)}`;
/** A success rate in percent: never shown as 100.00% when something failed. */
export function percentText(fraction: number): string {
  let digits = 2;
  while (fraction < 1 && digits < 6 && Number((fraction * 100).toFixed(digits)) >= 100) digits++;
  return `${fixed(fraction * 100, digits)}%`;
}

/** An error rate (already in percent): never shown as 0.000% when something failed. */
export function errorPercentText(percent: number): string {
  let digits = 3;
  while (percent > 0 && digits < 7 && Number(percent.toFixed(digits)) === 0) digits++;
  return `${fixed(percent, digits)}%`;
}

export function thresholdLabel(t: Pick<ThresholdResult, 'name' | 'limit'>): string {
  const p = /^p(\d+)Ms$/.exec(t.name);
  if (p) return `p${p[1]} ≤ ${t.limit} ms`;
  if (t.name === 'errorRatePercent') return `error rate ≤ ${t.limit}%`;
  if (t.name === 'minRequestsPerSecond') return `throughput ≥ ${t.limit.toLocaleString('en-US')} req/s`;
  return `${t.name} ${t.limit}`;
}

export function thresholdActual(t: Pick<ThresholdResult, 'name' | 'actual'>): string {
  if (/^p\d+Ms$/.test(t.name)) return `${msText(t.actual)} ms`;
  if (t.name === 'errorRatePercent') return errorPercentText(t.actual);
  if (t.name === 'minRequestsPerSecond') return `${fixed(t.actual, 1)} req/s`;
  return String(t.actual);
}

export function runShape(r: LoadTestReport): string {
  const parts = [`${fixed(r.durationSeconds, 1)} s`, r.stages ? `connections ${r.stages.map((s) => s.connections).join(' → ')} in ${r.stages.length} stages` : `${int(r.connections)} connections`];
  if (r.rate !== undefined) parts.push(`fixed rate ${int(r.rate)} req/s`);
  return parts.join(', ');
}

export function costLine(r: LoadTestReport): string | undefined {
  if (!r.cost) return undefined;
  const env = [r.profile, r.cost.target, r.cost.apiReplicas !== undefined ? `${r.cost.apiReplicas} API replicas` : undefined].filter(Boolean).join(', ');
  const perMillion = r.cost.perMillionRequests === null ? 'no requests answered' : `${usd(r.cost.perMillionRequests)} per million requests at ${fixed(r.requests.perSecond, 1)} req/s`;
  return `${usd(r.cost.perHour)} per hour${env ? ` (${env})` : ''}, ${perMillion}`;
}

/** The engine that drove the load (a report of an older writer names it alone). */
export function generatorEngine(r: Pick<LoadTestReport, 'generator'>): string {
  if (r.generator === undefined) return 'apistack loadtest';
  return typeof r.generator === 'string' ? r.generator : r.generator.engine;
}

/** What the run cost the generator: `autocannon 8.0.0, 97% of a core, event-loop p99 delay 12 ms`. */
export function generatorLine(r: Pick<LoadTestReport, 'generator'>): string | undefined {
  const g = r.generator;
  if (g === undefined) return undefined;
  // k6 runners in a cluster, or a report from before the accounting: the engine alone.
  if (typeof g === 'string') return `${g}, its own load not measured`;
  const lag = g.eventLoopDelayP99Ms > 0 ? `, event-loop delay p99 ${msText(g.eventLoopDelayP99Ms)} ms` : '';
  const wait = g.runQueuePercent ? `, waited for a core ${int(g.runQueuePercent)}% of the run` : '';
  return `${g.engine}: ${int(g.cpuPercent)}% of a core${wait}${lag}${g.saturated ? ' (saturated)' : ''}`;
}

/** Said plainly when the generator was the limit of the run; undefined otherwise. */
export function saturationWarning(r: Pick<LoadTestReport, 'generator'>): string | undefined {
  const g = r.generator;
  if (g === undefined || typeof g === 'string' || !g.saturated) return undefined;
  return (
    `the load generator was the limit of this run (${int(g.cpuPercent)}% of a core${g.runQueuePercent ? `, ${int(g.runQueuePercent)}% more waiting for one` : ''}, event-loop delay p99 ${msText(g.eventLoopDelayP99Ms)} ms): ` +
    'the throughput is a lower bound of what the target serves, not its capacity, and latency includes time the answers waited for the generator. ' +
    'For a true figure: drive the load with a faster engine (--engine wrk), split it over more runners, or run the generator on another machine than the stack.'
  );
}

/** The warm-up, when the run had one: `3.0 s, 41,210 requests (on the charts, in no total)`. */
export function warmupLine(r: Pick<LoadTestReport, 'warmup'>): string | undefined {
  if (!r.warmup || r.warmup.seconds <= 0) return undefined;
  return `${fixed(r.warmup.seconds, 1)} s, ${int(r.warmup.requests)} requests before the measured run (on the charts; in no total, percentile or threshold)`;
}
