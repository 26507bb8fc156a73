/** Renderers: pure functions from breakdowns and comparisons to text. */
import { UserError } from '../profile/errors.ts';
import type { Breakdown, Component, CostLine } from './model.ts';
import type { Comparison, SavingsRow } from './savings.ts';

export const FORMATS = ['table', 'md', 'csv', 'json', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: string): Format {
  if ((FORMATS as readonly string[]).includes(value)) return value as Format;
  throw new UserError(`unknown format "${value}"; use one of ${FORMATS.join(', ')}`);
}

export interface AutoscalingTotals {
  readonly min: number;
  readonly max: number;
  readonly expected?: number;
}

const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const money = (n: number) => `${usd(n)}/month`;
const pct = (n: number | null) => (n === null ? 'n/a' : `${n}%`);
const qty = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

function flags(l: CostLine): string {
  return `${l.assumption ? ' *' : ''}${l.uncertain ? ' †' : ''}`;
}

function footnotes(breakdowns: readonly Breakdown[]): string[] {
  const notes: string[] = [];
  const lines = breakdowns.flatMap((b) => b.components.flatMap((c) => c.lines));
  const assumptions = [...new Set(lines.filter((l) => l.assumption).map((l) => l.assumption!))];
  if (assumptions.length) notes.push(`* quantity is an assumption: ${assumptions.join('; ')}`);
  if (lines.some((l) => l.uncertain)) notes.push('† price is uncertain (varies or could not be verified): check it, or override it with --prices');
  return notes;
}

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function header(b: Breakdown): string {
  return `${b.profile} on ${b.target === 'aws' ? 'AWS' : 'Kubernetes (EKS)'} in ${b.region}, ${b.apiReplicas} API replicas, ${b.hoursPerMonth} h/month, prices as of ${b.pricesAsOf}`;
}

function escapeCsv(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function jsonLine(l: CostLine) {
  return { name: l.name, quantity: l.quantity, unit: l.unit, unitPrice: l.unitPrice, period: l.period, monthly: l.monthly, priceItem: l.priceItem, ...(l.assumption ? { assumption: l.assumption } : {}), ...(l.uncertain ? { uncertain: true } : {}) };
}
function jsonComponents(cs: readonly Component[]) {
  return cs.map((c) => ({ name: c.name, monthly: c.monthly, lines: c.lines.map(jsonLine) }));
}

export function renderBreakdown(b: Breakdown, format: Format, autoscaling?: AutoscalingTotals): string {
  switch (format) {
    case 'json':
      return JSON.stringify(
        { currency: 'USD', region: b.region, hoursPerMonth: b.hoursPerMonth, pricesAsOf: b.pricesAsOf, target: b.target, profile: b.profile, apiReplicas: b.apiReplicas, total: b.total, components: jsonComponents(b.components), ...(autoscaling ? { autoscaling } : {}) },
        null,
        2,
      );
    case 'csv': {
      const out = ['component,line,quantity,unit,unit_price_usd,monthly_usd,assumption,uncertain'];
      for (const c of b.components) for (const l of c.lines) out.push([c.name, l.name, String(l.quantity), l.unit, String(l.unitPrice), l.monthly.toFixed(2), l.assumption ?? '', l.uncertain ? 'yes' : ''].map(escapeCsv).join(','));
      out.push(['Total', '', '', '', '', b.total.toFixed(2), '', ''].join(','));
      return out.join('\n');
    }
    case 'md': {
      const out = [`### ${header(b)}`, '', '| Component | Line | Quantity | Unit price | Monthly |', '|---|---|---:|---:|---:|'];
      for (const c of b.components) {
        for (const l of c.lines) out.push(`| ${c.name} | ${l.name}${flags(l)} | ${qty(l.quantity)} ${l.unit} | $${l.unitPrice} | ${usd(l.monthly)} |`);
        out.push(`| **${c.name}** | | | | **${usd(c.monthly)}** |`);
      }
      out.push(`| **Total** | | | | **${money(b.total)}** |`);
      if (autoscaling) out.push('', autoscalingText(autoscaling));
      out.push('', ...footnotes([b]));
      return out.join('\n');
    }
    case 'html':
      return html(`${b.profile}: monthly cost`, header(b), b.components.map((c) => ({ label: c.name, values: [c.monthly] })), [b.profile], renderBreakdown(b, 'md', autoscaling));
    case 'table': {
      const rows: string[][] = [['Component / line', 'Quantity', 'Unit price', 'Monthly']];
      for (const c of b.components) {
        rows.push([c.name, '', '', usd(c.monthly)]);
        for (const l of c.lines) rows.push([`  ${l.name}${flags(l)}`, `${qty(l.quantity)} ${l.unit}`, `$${l.unitPrice}`, usd(l.monthly)]);
      }
      rows.push(['Total', '', '', money(b.total)]);
      return [header(b), '', table(rows, ['l', 'r', 'r', 'r']), ...(autoscaling ? ['', autoscalingText(autoscaling)] : []), '', ...footnotes([b])].join('\n').trimEnd();
    }
  }
}

function autoscalingText(a: AutoscalingTotals): string {
  return `Autoscaling: ${money(a.min)} at minimum replicas${a.expected !== undefined ? `, ${money(a.expected)} at the expected average` : ''}, ${money(a.max)} at maximum replicas`;
}

function savingsCells(r: SavingsRow): string[] {
  return [r.component, money(r.current), money(r.optimized), money(r.savings), pct(r.savingsPct)];
}

export function renderComparison(c: Comparison, format: Format): string {
  const { current: cur, optimized: opt } = c;
  switch (format) {
    case 'json':
      return JSON.stringify(
        {
          currency: 'USD',
          region: cur.region,
          hoursPerMonth: cur.hoursPerMonth,
          pricesAsOf: [cur.pricesAsOf, opt.pricesAsOf].sort()[0],
          target: cur.target,
          current: { profile: cur.profile, apiReplicas: cur.apiReplicas, total: cur.total, components: jsonComponents(cur.components) },
          optimized: { profile: opt.profile, apiReplicas: opt.apiReplicas, total: opt.total, components: jsonComponents(opt.components) },
          rows: c.rows,
          total: { current: c.total.current, optimized: c.total.optimized, savings: c.total.savings, savingsPct: c.total.savingsPct },
          ...(c.roi ? { roi: c.roi } : {}),
        },
        null,
        2,
      );
    case 'csv':
      return ['component,current_usd_month,optimized_usd_month,savings_usd_month,savings_pct', ...[...c.rows, c.total].map((r) => [r.component, r.current.toFixed(2), r.optimized.toFixed(2), r.savings.toFixed(2), r.savingsPct ?? ''].map(String).map(escapeCsv).join(','))].join('\n');
    case 'md': {
      const out = [
        `### ${cur.profile} vs ${opt.profile} on ${cur.target === 'aws' ? 'AWS' : 'Kubernetes (EKS)'} (${cur.region}, prices as of ${[cur.pricesAsOf, opt.pricesAsOf].sort()[0]})`,
        '',
        '| Component | Current | Optimized | Savings | Savings % |',
        '|---|---:|---:|---:|---:|',
        ...c.rows.map((r) => `| ${savingsCells(r).join(' | ')} |`),
        `| **Total** | **${money(c.total.current)}** | **${money(c.total.optimized)}** | **${money(c.total.savings)}** | **${pct(c.total.savingsPct)}** |`,
      ];
      if (c.roi) out.push('', roiText(c.roi));
      out.push('', ...footnotes([cur, opt]));
      return out.join('\n');
    }
    case 'html':
      return html(
        `${cur.profile} vs ${opt.profile}: monthly cost`,
        `${cur.target === 'aws' ? 'AWS' : 'Kubernetes (EKS)'}, ${cur.region}`,
        c.rows.map((r) => ({ label: r.component, values: [r.current, r.optimized] })),
        [cur.profile, opt.profile],
        renderComparison(c, 'md'),
      );
    case 'table': {
      const rows = [['Component', 'Current', 'Optimized', 'Savings', 'Savings %'], ...c.rows.map(savingsCells), savingsCells(c.total)];
      const title = `${cur.profile} (${cur.apiReplicas} API replicas) vs ${opt.profile} (${opt.apiReplicas}) on ${cur.target === 'aws' ? 'AWS' : 'Kubernetes (EKS)'}, ${cur.region}, prices as of ${[cur.pricesAsOf, opt.pricesAsOf].sort()[0]}`;
      return [title, '', table(rows, ['l', 'r', 'r', 'r', 'r']), ...(c.roi ? ['', roiText(c.roi)] : []), '', ...footnotes([cur, opt])].join('\n').trimEnd();
    }
  }
}

function roiText(r: NonNullable<Comparison['roi']>): string {
  return `Implementation ${usd(r.implementationCost)}; annual savings ${usd(r.annualSavings)}; ROI ${pct(r.roiPct)}; payback ${r.paybackMonths === null ? 'never' : `${r.paybackMonths} months`}`;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One self-contained page: a bar chart (inline SVG) and the markdown table as preformatted text. */
function html(title: string, subtitle: string, bars: { label: string; values: number[] }[], series: string[], detail: string): string {
  const colors = ['#d9534f', '#5cb85c'];
  const max = Math.max(1, ...bars.flatMap((b) => b.values));
  const rowHeight = 18 * series.length + 12;
  const width = 760;
  const labelWidth = 170;
  const scale = (width - labelWidth - 120) / max;
  const rects = bars
    .map((b, i) =>
      b.values
        .map((v, j) => {
          const y = i * rowHeight + j * 18;
          return `<rect x="${labelWidth}" y="${y}" width="${(v * scale).toFixed(1)}" height="16" fill="${colors[j % 2]}"><title>${escapeHtml(series[j]!)}: ${usd(v)}</title></rect><text x="${labelWidth + v * scale + 4}" y="${y + 12}" font-size="11">${usd(v)}</text>`;
        })
        .join('') + `<text x="0" y="${i * rowHeight + 12}" font-size="12">${escapeHtml(b.label)}</text>`,
    )
    .join('\n');
  const legend = series.map((s, j) => `<span style="color:${colors[j % 2]}">■</span> ${escapeHtml(s)}`).join(' &nbsp; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(subtitle)}</p><p>${legend}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${bars.length * rowHeight}" role="img" aria-label="${escapeHtml(title)}">
${rects}
</svg>
<pre>${escapeHtml(detail)}</pre>
</body></html>
`;
}
