/**
 * Renderers of a load-test report: text for a terminal, markdown for a pull request, JSON (the
 * contract), and one self-contained HTML page (render-html.ts). Pure: report in, text out.
 */
import { parseChoice } from '../errors.ts';
import type { HistogramBucket } from './histogram.ts';
import { errorRatePercent, thresholdsPassed, type LoadTestReport } from './report.ts';
import { renderHtml } from './render-html.ts';
import { costLine, errorPercentText, fixed, generatorLine, int, LATENCY_KEYS, msText, percentText, runShape, saturationWarning, thresholdActual, thresholdLabel, usd, warmupLine } from './wording.ts';

export const REPORT_FORMATS = ['text', 'json', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function parseReportFormat(value: string, allowed: readonly ReportFormat[] = REPORT_FORMATS): ReportFormat {
  return parseChoice('--format', value, allowed);
}

export function renderReport(r: LoadTestReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(r, null, 2)}\n`;
    case 'md':
      return renderMarkdown(r);
    case 'html':
      return renderHtml(r);
    case 'text':
      return renderText(r);
  }
}

function verdict(r: LoadTestReport): string {
  const failed = r.thresholds.filter((t) => !t.passed).length;
  if (r.thresholds.length === 0) return 'no thresholds';
  return thresholdsPassed(r) ? `PASS (${r.thresholds.length} of ${r.thresholds.length} thresholds met)` : `FAIL (${failed} of ${r.thresholds.length} thresholds not met)`;
}

const entries = (m: Readonly<Record<string, number>>) => Object.entries(m).sort(([a], [b]) => a.localeCompare(b));

function bucketLabel(b: HistogramBucket): string {
  return `${msText(b.fromMs)}–${msText(b.toMs)} ms`;
}

// ---- text ---------------------------------------------------------------------------------------

export function renderText(r: LoadTestReport): string {
  const out: string[] = [];
  out.push(`load test ${r.scenario} → ${r.target}${r.profile ? ` (profile ${r.profile})` : ''}${r.interrupted ? '  [INTERRUPTED]' : ''}`);
  out.push(`started ${r.startedAt}, ${runShape(r)}`);
  if (r.setup) out.push(`setup: ${int(r.setup.users)} users, ${int(r.setup.apiKeys)} API keys in ${fixed(r.setup.seconds, 1)} s (once, before the load)`);
  const warmup = warmupLine(r);
  if (warmup) out.push(`warm-up: ${warmup}`);
  out.push('');
  const kinds = r.requests.byKind && Object.keys(r.requests.byKind).length > 1 ? `  (${entries(r.requests.byKind).map(([k, n]) => `${k} ${int(n)}`).join(', ')})` : '';
  out.push(`requests      ${int(r.requests.total)} total, ${fixed(r.requests.perSecond, 1)} req/s${kinds}`);
  out.push(`success rate  ${percentText(r.successRate)}`);
  out.push(`latency (ms)  ${LATENCY_KEYS.map((k) => `${k} ${msText(r.latencyMs[k])}`).join('  ')}`);
  out.push(`status codes  ${entries(r.statusCodes).map(([c, n]) => `${c}: ${int(n)}`).join(', ') || 'none'}`);
  out.push(`errors        ${entries(r.errors).map(([k, n]) => `${k}: ${int(n)}`).join(', ') || 'none'}`);
  const cost = costLine(r);
  if (cost) out.push(`cost          ${cost}`);
  const generator = generatorLine(r);
  if (generator) out.push(`generator     ${generator}`);
  const saturated = saturationWarning(r);
  if (saturated) out.push('', `WARNING: ${saturated}`);
  if (r.histogram.length > 0) {
    out.push('', 'response times');
    const max = Math.max(...r.histogram.map((b) => b.count));
    const width = Math.max(...r.histogram.map((b) => bucketLabel(b).length));
    for (const b of r.histogram) out.push(`  ${bucketLabel(b).padStart(width)}  ${'█'.repeat(max === 0 ? 0 : Math.round((b.count / max) * 40)).padEnd(40)} ${int(b.count)}`);
  }
  if (r.thresholds.length > 0) {
    out.push('', 'thresholds');
    const width = Math.max(...r.thresholds.map((t) => thresholdLabel(t).length));
    for (const t of r.thresholds) out.push(`  ${t.passed ? 'PASS' : 'FAIL'}  ${thresholdLabel(t).padEnd(width)}  actual ${thresholdActual(t)}`);
  }
  out.push('', `verdict: ${verdict(r)}`);
  return `${out.join('\n')}\n`;
}

// ---- markdown -----------------------------------------------------------------------------------

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

function mdTable(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = head.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [head, sep, ...rows].map((row) => `| ${row.map(mdCell).join(' | ')} |`).join('\n');
}

export function renderMarkdown(r: LoadTestReport): string {
  const out: string[] = [];
  out.push(`## Load test \`${r.scenario}\`${r.interrupted ? ' (interrupted)' : ''}`, '');
  out.push(`Target ${r.target}${r.profile ? `, profile \`${r.profile}\`` : ''}; started ${r.startedAt}; ${runShape(r)}.`);
  if (r.description) out.push('', r.description);
  if (r.setup) out.push('', `Setup (once, before the load): ${int(r.setup.users)} users, ${int(r.setup.apiKeys)} API keys in ${fixed(r.setup.seconds, 1)} s.`);
  const warmup = warmupLine(r);
  if (warmup) out.push('', `Warm-up: ${warmup}.`);
  const saturated = saturationWarning(r);
  if (saturated) out.push('', `> **Warning:** ${saturated}`);
  out.push('', `**Verdict: ${verdict(r)}**`, '');
  out.push(
    mdTable(
      ['requests', 'req/s', 'success rate', 'error rate', ...(r.cost ? ['cost per hour', 'cost per million requests'] : [])],
      [
        [
          int(r.requests.total),
          fixed(r.requests.perSecond, 1),
          percentText(r.successRate),
          errorPercentText(errorRatePercent(r)),
          ...(r.cost ? [usd(r.cost.perHour), r.cost.perMillionRequests === null ? '–' : usd(r.cost.perMillionRequests)] : []),
        ],
      ],
      ['r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push('', '### Latency (ms)', '');
  out.push(mdTable([...LATENCY_KEYS], [LATENCY_KEYS.map((k) => msText(r.latencyMs[k]))], LATENCY_KEYS.map(() => 'r')));
  if (r.thresholds.length > 0) {
    out.push('', '### Thresholds', '');
    out.push(mdTable(['threshold', 'actual', 'result'], r.thresholds.map((t) => [thresholdLabel(t), thresholdActual(t), t.passed ? 'pass' : '**FAIL**'])));
  }
  out.push('', '### Status codes and errors', '');
  const rows = [...entries(r.statusCodes).map(([c, n]) => [`status ${c}`, int(n)]), ...entries(r.errors).map(([k, n]) => [`error: ${k}`, int(n)])];
  out.push(mdTable(['', 'count'], rows.length > 0 ? rows : [['none', '0']], ['l', 'r']));
  if (r.histogram.length > 0) {
    out.push('', '### Response times', '');
    out.push(mdTable(['latency', 'requests'], r.histogram.map((b) => [bucketLabel(b), int(b.count)]), ['l', 'r']));
  }
  const cost = costLine(r);
  if (cost) out.push('', `Cost: ${cost}.`);
  const generator = generatorLine(r);
  if (generator) out.push('', `Generator: ${generator}.`);
  return `${out.join('\n')}\n`;
}
