/**
 * Two runs side by side (a baseline and a change): throughput, latency percentiles, error rate
 * and cost per million requests, each with its difference and % change, and whether the change
 * is for the better.
 */
import { parseChoice } from '../errors.ts';
import { errorRatePercent, type LoadTestReport } from './report.ts';
import { errorPercentText, fixed, msText, usd } from './wording.ts';

export interface ComparisonRow {
  readonly metric: string;
  readonly unit: string;
  readonly a: number | null;
  readonly b: number | null;
  /** b − a. */
  readonly difference: number | null;
  /** (b − a) ÷ a × 100; null when a is 0 or a value is missing. */
  readonly changePercent: number | null;
  /** Which direction is an improvement. */
  readonly better: 'higher' | 'lower';
  readonly verdict: 'better' | 'worse' | 'same' | 'n/a';
}

export interface RunSummary {
  readonly label: string;
  readonly scenario: string;
  readonly target: string;
  readonly profile?: string;
  readonly startedAt: string;
}

export interface Comparison {
  readonly a: RunSummary;
  readonly b: RunSummary;
  readonly rows: readonly ComparisonRow[];
}

/** Changes smaller than this (in %) are "same": run-to-run noise, not a result. */
export const SAME_WITHIN_PERCENT = 1;

function row(metric: string, unit: string, better: 'higher' | 'lower', a: number | null | undefined, b: number | null | undefined): ComparisonRow {
  const va = a ?? null;
  const vb = b ?? null;
  const difference = va !== null && vb !== null ? Number((vb - va).toFixed(6)) : null;
  const changePercent = difference !== null && va !== 0 ? Number(((difference / va!) * 100).toFixed(2)) : null;
  let verdict: ComparisonRow['verdict'] = 'n/a';
  if (difference !== null) {
    const size = changePercent ?? (difference === 0 ? 0 : Number.POSITIVE_INFINITY);
    if (Math.abs(size) < SAME_WITHIN_PERCENT) verdict = 'same';
    else verdict = (difference > 0) === (better === 'higher') ? 'better' : 'worse';
  }
  return { metric, unit, a: va, b: vb, difference, changePercent, better, verdict };
}

function summary(label: string, r: LoadTestReport): RunSummary {
  return { label, scenario: r.scenario, target: r.target, ...(r.profile !== undefined ? { profile: r.profile } : {}), startedAt: r.startedAt };
}

export function compareReports(a: LoadTestReport, b: LoadTestReport, labels: { a: string; b: string } = { a: 'A', b: 'B' }): Comparison {
  return {
    a: summary(labels.a, a),
    b: summary(labels.b, b),
    rows: [
      row('requests/s', 'req/s', 'higher', a.requests.perSecond, b.requests.perSecond),
      row('p50', 'ms', 'lower', a.latencyMs.p50, b.latencyMs.p50),
      row('p95', 'ms', 'lower', a.latencyMs.p95, b.latencyMs.p95),
      row('p99', 'ms', 'lower', a.latencyMs.p99, b.latencyMs.p99),
      row('error rate', '%', 'lower', errorRatePercent(a), errorRatePercent(b)),
      row('cost per million requests', 'USD', 'lower', a.cost?.perMillionRequests, b.cost?.perMillionRequests),
    ],
  };
}

export const COMPARE_FORMATS = ['text', 'md', 'json'] as const;
export type CompareFormat = (typeof COMPARE_FORMATS)[number];

export function parseCompareFormat(value: string): CompareFormat {
  return parseChoice('--format', value, COMPARE_FORMATS);
}

function valueText(unit: string, v: number | null): string {
  if (v === null) return '–';
  if (unit === 'ms') return msText(v);
  if (unit === 'USD') return usd(v);
  if (unit === '%') return errorPercentText(v);
  return fixed(v, 1);
}

function differenceText(r: ComparisonRow): string {
  if (r.difference === null) return '–';
  const sign = r.difference > 0 ? '+' : r.difference < 0 ? '−' : '±';
  return `${sign}${valueText(r.unit, Math.abs(r.difference))}`;
}

function changeText(r: ComparisonRow): string {
  if (r.changePercent === null) return r.difference === null || r.difference === 0 ? '–' : 'new';
  const sign = r.changePercent > 0 ? '+' : r.changePercent < 0 ? '−' : '±';
  return `${sign}${fixed(Math.abs(r.changePercent), 1)}%`;
}

function describe(s: RunSummary): string {
  return `${s.label}: ${s.scenario} → ${s.target}${s.profile ? ` (profile ${s.profile})` : ''}, ${s.startedAt}`;
}

export function renderComparison(c: Comparison, format: CompareFormat): string {
  if (format === 'json') return `${JSON.stringify(c, null, 2)}\n`;
  const head = ['metric', c.a.label, c.b.label, 'difference', 'change', ''];
  const rows = c.rows.map((r) => [r.unit === 'ms' ? `${r.metric} (ms)` : r.metric, valueText(r.unit, r.a), valueText(r.unit, r.b), differenceText(r), changeText(r), r.verdict === 'n/a' ? '' : r.verdict]);
  if (format === 'md') {
    const line = (cells: string[]) => `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
    return `${[`- ${describe(c.a)}`, `- ${describe(c.b)}`, '', line(head), line(['---', '---:', '---:', '---:', '---:', '---']), ...rows.map(line)].join('\n')}\n`;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((x, i) => (i === 0 || i === cells.length - 1 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  return `${[describe(c.a), describe(c.b), '', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n')}\n`;
}
