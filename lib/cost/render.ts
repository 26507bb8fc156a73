/** Renderers: pure functions from breakdowns and comparisons to text. */
import { UserError } from '../errors.ts';
import type { Assumption, Breakdown, Component, CostLine, FreeAllowanceNotApplied } from './model.ts';
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

/** The autoscaling range of each side of a comparison. */
export interface ComparisonAutoscaling {
  readonly current: AutoscalingTotals;
  readonly optimized: AutoscalingTotals;
}

const usd = (n: number) => `${n < 0 ? '-' : ''}$${Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const money = (n: number) => `${usd(n)}/month`;
// One decimal always, so a column of percentages lines up (69.0%, not 69%).
const pct = (n: number | null) => (n === null ? 'n/a' : `${n.toFixed(1)}%`);
const qty = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 4 });
const targetName = (b: Breakdown) => (b.target === 'aws' ? 'AWS' : 'Kubernetes (EKS)');

function flags(l: CostLine): string {
  return `${l.assumption ? ' *' : ''}${l.uncertain ? ' †' : ''}`;
}

/** Assumptions and exclusions of one group: one breakdown, what two share, or what only one of them has. */
interface NoteGroup {
  /** "" for a single breakdown; "both profiles", or "<profile> only", in a comparison. */
  readonly label: string;
  readonly assumptions: Assumption[];
  readonly notIncluded: string[];
}

/** What the figures rest on and leave out, over the breakdowns shown together. */
interface Notes {
  readonly groups: NoteGroup[];
  readonly allowances: FreeAllowanceNotApplied[];
  readonly anyAssumedLine: boolean;
  readonly anyUncertain: boolean;
}

/**
 * Two breakdowns' notes are grouped, never interleaved: what both rest on once, then what only
 * each side rests on (the same assumption with another figure belongs to its own side).
 */
function groupNotes(breakdowns: readonly Breakdown[]): NoteGroup[] {
  if (breakdowns.length === 1) return [{ label: '', assumptions: [...breakdowns[0]!.assumptions], notIncluded: [...breakdowns[0]!.notIncluded] }];
  const names = breakdowns.map((b) => b.profile);
  const sides = new Set(names).size === names.length ? names : names.map((n, i) => `${n} (${i === 0 ? 'current' : 'optimized'})`);
  const inAll = <T>(pick: (b: Breakdown) => readonly T[], key: (t: T) => string) => (t: T) => breakdowns.every((b) => pick(b).some((o) => key(o) === key(t)));
  const sharedA = inAll((b) => b.assumptions, (a: Assumption) => a.text);
  const sharedN = inAll((b) => b.notIncluded, (t: string) => t);
  const groups: NoteGroup[] = [{ label: 'both profiles', assumptions: breakdowns[0]!.assumptions.filter(sharedA), notIncluded: breakdowns[0]!.notIncluded.filter(sharedN) }];
  breakdowns.forEach((b, i) => groups.push({ label: `${sides[i]} only`, assumptions: b.assumptions.filter((a) => !sharedA(a)), notIncluded: b.notIncluded.filter((t) => !sharedN(t)) }));
  return groups;
}

function notesOf(breakdowns: readonly Breakdown[]): Notes {
  const lines = breakdowns.flatMap((b) => b.components.flatMap((c) => c.lines));
  const allowances = new Map<string, FreeAllowanceNotApplied>();
  for (const b of breakdowns) for (const a of b.freeAllowancesNotApplied) if (!allowances.has(a.item) || allowances.get(a.item)!.worth < a.worth) allowances.set(a.item, a);
  return {
    groups: groupNotes(breakdowns),
    allowances: [...allowances.values()],
    anyAssumedLine: lines.some((l) => l.assumption),
    anyUncertain: lines.some((l) => l.uncertain),
  };
}

const allowanceText = (a: FreeAllowanceNotApplied) => `${a.note}: ${qty(a.quantity)} ${a.unit} a month, worth up to ${usd(a.worth)} on "${a.line}"`;
const assumptionText = (a: Assumption) => `${a.text} (set by ${a.field})`;
const groupTitle = (title: string, g: NoteGroup) => (g.label ? `${title}, ${g.label}` : title);

/** Text and markdown: every assumption, exclusion and allowance on its own line, grouped per profile. */
function footnotes(breakdowns: readonly Breakdown[], bullet: string): string[] {
  const n = notesOf(breakdowns);
  const out: string[] = [];
  const section = (title: string, items: string[]) => {
    if (items.length === 0) return;
    out.push('', `${title}:`, ...items.map((i) => `${bullet}${i}`));
  };
  if (n.anyAssumedLine) out.push('* quantity is an assumption (listed below)');
  if (n.anyUncertain) out.push('† price is uncertain (varies or could not be verified): check it, or override it with --prices');
  for (const g of n.groups) section(groupTitle('Assumptions', g), g.assumptions.map(assumptionText));
  for (const g of n.groups) section(groupTitle('Not included', g), g.notIncluded);
  section('Free allowances not applied (each is per account, shared with everything else in it)', n.allowances.map(allowanceText));
  return out;
}

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function header(b: Breakdown): string {
  return `${b.profile} on ${targetName(b)} in ${b.region}, ${b.apiReplicas} API replicas, ${b.hoursPerMonth} h/month, prices as of ${b.pricesAsOf}`;
}

function escapeCsv(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function jsonLine(l: CostLine) {
  return {
    name: l.name,
    quantity: l.quantity,
    unit: l.unit,
    unitPrice: l.unitPrice,
    period: l.period,
    monthly: l.monthly,
    priceItem: l.priceItem,
    source: l.source,
    asOf: l.asOf,
    ...(l.assumption ? { assumption: l.assumption } : {}),
    ...(l.uncertain ? { uncertain: true } : {}),
  };
}
function jsonComponents(cs: readonly Component[]) {
  return cs.map((c) => ({ name: c.name, monthly: c.monthly, lines: c.lines.map(jsonLine) }));
}
function jsonNotes(b: Breakdown) {
  return { assumptions: b.assumptions, notIncluded: b.notIncluded, freeAllowancesNotApplied: b.freeAllowancesNotApplied };
}

/** CSV: the notes follow the lines as rows of their own kind (with their group), the text in the line column. */
function csvNotes(breakdowns: readonly Breakdown[], columns: number): string[] {
  const n = notesOf(breakdowns);
  const row = (kind: string, text: string) => [kind, text, ...Array<string>(columns - 2).fill('')].map(escapeCsv).join(',');
  return [
    ...n.groups.flatMap((g) => g.assumptions.map((a) => row(groupTitle('Assumption', g), assumptionText(a)))),
    ...n.groups.flatMap((g) => g.notIncluded.map((t) => row(groupTitle('Not included', g), t))),
    ...n.allowances.map((a) => row('Free allowance not applied', allowanceText(a))),
  ];
}

export function renderBreakdown(b: Breakdown, format: Format, autoscaling?: AutoscalingTotals): string {
  switch (format) {
    case 'json':
      return JSON.stringify(
        {
          currency: 'USD',
          region: b.region,
          hoursPerMonth: b.hoursPerMonth,
          pricesAsOf: b.pricesAsOf,
          target: b.target,
          profile: b.profile,
          apiReplicas: b.apiReplicas,
          total: b.total,
          components: jsonComponents(b.components),
          ...(autoscaling ? { autoscaling } : {}),
          ...jsonNotes(b),
        },
        null,
        2,
      );
    case 'csv': {
      const out = ['component,line,quantity,unit,unit_price_usd,monthly_usd,assumption,uncertain'];
      for (const c of b.components) for (const l of c.lines) out.push([c.name, l.name, String(l.quantity), l.unit, String(l.unitPrice), l.monthly.toFixed(2), l.assumption ?? '', l.uncertain ? 'yes' : ''].map(escapeCsv).join(','));
      out.push(['Total', '', '', '', '', b.total.toFixed(2), '', ''].join(','));
      out.push(...csvNotes([b], 8));
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
      out.push('', ...footnotes([b], '- '));
      return out.join('\n').trimEnd();
    }
    case 'html':
      return htmlPage({ title: `${b.profile}: monthly cost`, subtitle: header(b), breakdowns: [b], ...(autoscaling ? { ranges: [{ profile: b.profile, totals: autoscaling }] } : {}) });
    case 'table': {
      const rows: string[][] = [['Component / line', 'Quantity', 'Unit price', 'Monthly']];
      for (const c of b.components) {
        rows.push([c.name, '', '', usd(c.monthly)]);
        for (const l of c.lines) rows.push([`  ${l.name}${flags(l)}`, `${qty(l.quantity)} ${l.unit}`, `$${l.unitPrice}`, usd(l.monthly)]);
      }
      rows.push(['Total', '', '', money(b.total)]);
      return [header(b), '', table(rows, ['l', 'r', 'r', 'r']), ...(autoscaling ? ['', autoscalingText(autoscaling)] : []), '', ...footnotes([b], '  - ')].join('\n').trimEnd();
    }
  }
}

function autoscalingText(a: AutoscalingTotals): string {
  return `Autoscaling: ${money(a.min)} at minimum replicas${a.expected !== undefined ? `, ${money(a.expected)} at the expected average` : ''}, ${money(a.max)} at maximum replicas`;
}

function savingsCells(r: SavingsRow): string[] {
  return [r.component, money(r.current), money(r.optimized), money(r.savings), pct(r.savingsPct)];
}

export function renderComparison(c: Comparison, format: Format, autoscaling?: ComparisonAutoscaling): string {
  const { current: cur, optimized: opt } = c;
  const asOf = [cur.pricesAsOf, opt.pricesAsOf].sort()[0];
  switch (format) {
    case 'json':
      return JSON.stringify(
        {
          currency: 'USD',
          region: cur.region,
          hoursPerMonth: cur.hoursPerMonth,
          pricesAsOf: asOf,
          target: cur.target,
          current: { profile: cur.profile, apiReplicas: cur.apiReplicas, total: cur.total, components: jsonComponents(cur.components), ...(autoscaling ? { autoscaling: autoscaling.current } : {}), ...jsonNotes(cur) },
          optimized: { profile: opt.profile, apiReplicas: opt.apiReplicas, total: opt.total, components: jsonComponents(opt.components), ...(autoscaling ? { autoscaling: autoscaling.optimized } : {}), ...jsonNotes(opt) },
          rows: c.rows,
          total: { current: c.total.current, optimized: c.total.optimized, savings: c.total.savings, savingsPct: c.total.savingsPct },
          ...(c.roi ? { roi: c.roi } : {}),
        },
        null,
        2,
      );
    case 'csv':
      return [
        'component,current_usd_month,optimized_usd_month,savings_usd_month,savings_pct',
        ...[...c.rows, c.total].map((r) => [r.component, r.current.toFixed(2), r.optimized.toFixed(2), r.savings.toFixed(2), r.savingsPct ?? ''].map(String).map(escapeCsv).join(',')),
        ...csvNotes([cur, opt], 5),
      ].join('\n');
    case 'md': {
      const out = [
        `### ${cur.profile} vs ${opt.profile} on ${targetName(cur)} (${cur.region}, prices as of ${asOf})`,
        '',
        '| Component | Current | Optimized | Savings | Savings % |',
        '|---|---:|---:|---:|---:|',
        ...c.rows.map((r) => `| ${savingsCells(r).join(' | ')} |`),
        `| **Total** | **${money(c.total.current)}** | **${money(c.total.optimized)}** | **${money(c.total.savings)}** | **${pct(c.total.savingsPct)}** |`,
      ];
      if (autoscaling) out.push('', `${cur.profile}: ${autoscalingText(autoscaling.current)}`, '', `${opt.profile}: ${autoscalingText(autoscaling.optimized)}`);
      if (c.roi) out.push('', roiText(c.roi));
      out.push('', ...footnotes([cur, opt], '- '));
      return out.join('\n').trimEnd();
    }
    case 'html':
      return htmlPage({
        title: `${cur.profile} vs ${opt.profile}: monthly cost`,
        subtitle: `${targetName(cur)}, ${cur.region}, ${cur.hoursPerMonth} h/month, prices as of ${asOf}`,
        breakdowns: [cur, opt],
        comparison: c,
        ...(autoscaling ? { ranges: [{ profile: cur.profile, totals: autoscaling.current }, { profile: opt.profile, totals: autoscaling.optimized }] } : {}),
      });
    case 'table':
      return [savingsTitle(c), '', savingsTableText(c), ...(c.roi ? ['', roiText(c.roi)] : []), '', ...footnotes([cur, opt], '  - ')].join('\n').trimEnd();
  }
}

function savingsTitle(c: Comparison): string {
  const { current: cur, optimized: opt } = c;
  const asOf = [cur.pricesAsOf, opt.pricesAsOf].sort()[0];
  return `${cur.profile} (${cur.apiReplicas} API replicas) vs ${opt.profile} (${opt.apiReplicas}) on ${targetName(cur)}, ${cur.region}, prices as of ${asOf}`;
}

function savingsTableText(c: Comparison): string {
  return table([['Component', 'Current', 'Optimized', 'Savings', 'Savings %'], ...c.rows.map(savingsCells), savingsCells(c.total)], ['l', 'r', 'r', 'r', 'r']);
}

/**
 * The short form `npm start` prints: the title, the savings table with its total, and one line
 * saying how many assumptions, exclusions and uncertain prices the full breakdown (`fullCommand`) lists.
 */
export function renderSavingsSummary(c: Comparison, fullCommand: string): string {
  const n = notesOf([c.current, c.optimized]);
  const count = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  const assumptions = n.groups.reduce((s, g) => s + g.assumptions.length, 0);
  const excluded = n.groups.reduce((s, g) => s + g.notIncluded.length, 0);
  const notes = [count(assumptions, 'assumption', 'assumptions'), count(excluded, 'cost not included', 'costs not included'), ...(n.anyUncertain ? ['the uncertain prices (†)'] : [])];
  const listed = notes.length === 3 ? `${notes[0]}, ${notes[1]} and ${notes[2]}` : notes.join(' and ');
  return [savingsTitle(c), savingsTableText(c), `full breakdown, with ${listed}: ${fullCommand}`].join('\n');
}

function roiText(r: NonNullable<Comparison['roi']>): string {
  return (
    `Implementation ${usd(r.implementationCost)}; annual savings ${usd(r.annualSavings)}; first-year ROI ${pct(r.roiPct)}; ` +
    `3-year ROI ${pct(r.threeYearRoiPct)} (savings ${usd(r.threeYearSavings)}); payback ${r.paybackMonths === null ? 'never' : `${r.paybackMonths} months`}`
  );
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface HtmlInput {
  readonly title: string;
  readonly subtitle: string;
  readonly breakdowns: readonly Breakdown[];
  readonly comparison?: Comparison;
  readonly ranges?: readonly { profile: string; totals: AutoscalingTotals }[];
}

/** A money cell that carries its exact value, so a reader (or a test) can check it against the JSON. */
const moneyCell = (n: number, id?: string) => `<td class="num"${id ? ` id="${id}"` : ''} data-usd="${n}">${escapeHtml(usd(n))}</td>`;

function savingsTable(c: Comparison): string {
  const row = (r: SavingsRow, total: boolean) => {
    const id = (what: string) => (total ? `total-${what}` : undefined);
    return `<tr${total ? ' class="total"' : ''}><th scope="row">${escapeHtml(r.component)}</th>${moneyCell(r.current, id('current'))}${moneyCell(r.optimized, id('optimized'))}${moneyCell(r.savings, id('savings'))}<td class="num">${escapeHtml(pct(r.savingsPct))}</td></tr>`;
  };
  return `<h2>Savings</h2>
<table id="savings"><thead><tr><th scope="col">Component</th><th scope="col">Current (${escapeHtml(c.current.profile)})</th><th scope="col">Optimized (${escapeHtml(c.optimized.profile)})</th><th scope="col">Savings</th><th scope="col">Savings %</th></tr></thead>
<tbody>${c.rows.map((r) => row(r, false)).join('')}</tbody>
<tfoot>${row(c.total, true)}</tfoot></table>`;
}

function roiTable(r: NonNullable<Comparison['roi']>): string {
  return `<h2>Return on the implementation</h2>
<table id="roi"><tbody>
<tr><th scope="row">Implementation cost</th>${moneyCell(r.implementationCost)}</tr>
<tr><th scope="row">Annual savings</th>${moneyCell(r.annualSavings)}</tr>
<tr><th scope="row">First-year ROI</th><td class="num">${escapeHtml(pct(r.roiPct))}</td></tr>
<tr><th scope="row">Savings over 3 years</th>${moneyCell(r.threeYearSavings)}</tr>
<tr><th scope="row">3-year ROI</th><td class="num">${escapeHtml(pct(r.threeYearRoiPct))}</td></tr>
<tr><th scope="row">Payback</th><td class="num">${r.paybackMonths === null ? 'never' : `${r.paybackMonths} months`}</td></tr>
</tbody></table>`;
}

function componentsTable(b: Breakdown, idPrefix: string): string {
  const rows = b.components
    .map((c) => {
      const lines = c.lines
        .map(
          (l) =>
            `<tr><td>${escapeHtml(l.name)}${escapeHtml(flags(l))}</td><td class="num">${escapeHtml(qty(l.quantity))}</td><td>${escapeHtml(l.unit)}</td><td class="num">$${l.unitPrice}</td>${moneyCell(l.monthly)}<td>${sourceLink(l.source)}</td><td>${escapeHtml(l.asOf)}</td></tr>`,
        )
        .join('\n');
      return `<tbody><tr class="component"><th scope="rowgroup" colspan="4">${escapeHtml(c.name)}</th>${moneyCell(c.monthly)}<td colspan="2"></td></tr>\n${lines}</tbody>`;
    })
    .join('\n');
  return `<table class="lines" id="${idPrefix}-lines"><thead><tr><th scope="col">Line</th><th scope="col">Quantity</th><th scope="col">Unit</th><th scope="col">Unit price</th><th scope="col">Monthly</th><th scope="col">Source</th><th scope="col">As of</th></tr></thead>
${rows}
<tfoot><tr class="total"><th scope="row" colspan="4">Total</th>${moneyCell(b.total, `${idPrefix}-total`)}<td colspan="2"></td></tr></tfoot></table>`;
}

function sourceLink(source: string): string {
  return /^https:\/\//.test(source) ? `<a href="${escapeHtml(source)}">${escapeHtml(source.replace(/^https:\/\//, ''))}</a>` : escapeHtml(source);
}

/** The cost at minimum, expected and maximum replicas as horizontal bars (inline SVG). */
function rangeChart(ranges: readonly { profile: string; totals: AutoscalingTotals }[]): string {
  const bars = ranges.flatMap((r) => [
    { label: `${r.profile}, minimum replicas`, value: r.totals.min, point: 'min' },
    ...(r.totals.expected !== undefined ? [{ label: `${r.profile}, expected average`, value: r.totals.expected, point: 'expected' }] : []),
    { label: `${r.profile}, maximum replicas`, value: r.totals.max, point: 'max' },
  ]);
  const colors = ['#d9534f', '#2e7d32'];
  const width = 760;
  const labelWidth = 250;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const scale = (width - labelWidth - 120) / max;
  let y = 0;
  const rects = ranges
    .map((r, i) =>
      bars
        .filter((b) => b.label.startsWith(`${r.profile},`))
        .map((b) => {
          const out = `<g class="bar" data-profile="${escapeHtml(r.profile)}" data-point="${b.point}" data-usd="${b.value}"><text x="0" y="${y + 13}" font-size="12">${escapeHtml(b.label)}</text><rect x="${labelWidth}" y="${y}" width="${(b.value * scale).toFixed(1)}" height="18" fill="${colors[i % 2]}"><title>${escapeHtml(`${b.label}: ${money(b.value)}`)}</title></rect><text x="${(labelWidth + b.value * scale + 6).toFixed(1)}" y="${y + 13}" font-size="12">${escapeHtml(usd(b.value))}</text></g>`;
          y += 24;
          return out;
        })
        .join('\n'),
    )
    .join('\n');
  return `<h2>Monthly cost across the autoscaling range</h2>
<svg xmlns="http://www.w3.org/2000/svg" id="range-chart" width="${width}" height="${y}" role="img" aria-label="Monthly cost at minimum, expected and maximum API replicas">
${rects}
</svg>`;
}

function notesHtml(breakdowns: readonly Breakdown[]): string {
  const n = notesOf(breakdowns);
  const list = (items: string[]) => `<ul>\n${items.map((i) => `<li>${i}</li>`).join('\n')}\n</ul>`;
  // One block per kind of note, each group of a comparison under its own heading.
  const grouped = (id: string, title: string, pick: (g: NoteGroup) => string[]) => {
    const groups = n.groups.filter((g) => pick(g).length > 0);
    if (groups.length === 0) return '';
    return `<h2>${escapeHtml(title)}</h2>\n<div id="${id}">\n${groups.map((g) => `${g.label ? `<h3>${escapeHtml(g.label)}</h3>\n` : ''}${list(pick(g))}`).join('\n')}\n</div>`;
  };
  return [
    n.anyAssumedLine || n.anyUncertain
      ? `<p class="legend">${n.anyAssumedLine ? '* quantity is an assumption (listed below). ' : ''}${n.anyUncertain ? '† price is uncertain (varies or could not be verified): check it, or override it with --prices.' : ''}</p>`
      : '',
    grouped('assumptions', 'Assumptions', (g) => g.assumptions.map((a) => `${escapeHtml(a.text)} <span class="field">set by <code>${escapeHtml(a.field)}</code></span>`)),
    grouped('not-included', 'Not included', (g) => g.notIncluded.map(escapeHtml)),
    n.allowances.length === 0 ? '' : `<h2>Free allowances not applied (each is per account, shared with everything else in it)</h2>\n<div id="free-allowances">\n${list(n.allowances.map((a) => escapeHtml(allowanceText(a))))}\n</div>`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** One self-contained page: tables, an inline SVG chart and lists; no script, no external resource. */
function htmlPage(input: HtmlInput): string {
  const { comparison: c, breakdowns } = input;
  const sections: string[] = [];
  if (c) sections.push(savingsTable(c));
  if (input.ranges) sections.push(rangeChart(input.ranges));
  if (c?.roi) sections.push(roiTable(c.roi));
  breakdowns.forEach((b, i) => {
    const idPrefix = c ? (i === 0 ? 'current' : 'optimized') : 'breakdown';
    sections.push(`<h2>${escapeHtml(b.profile)}: every line (${b.apiReplicas} API replicas)</h2>\n${componentsTable(b, idPrefix)}`);
  });
  sections.push(notesHtml(breakdowns));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{padding:0.25em 0.6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.lines td:first-child{min-width:22em}
table.lines td:nth-child(3),table.lines td:last-child{white-space:nowrap}
tr.component th,tr.component td{background:#f3f3f3;font-weight:600}
tr.total th,tr.total td{font-weight:700;border-top:2px solid #444}
.field{color:#555}
.legend{color:#555;font-size:0.9em}
</style></head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<p>${escapeHtml(input.subtitle)}</p>
${sections.join('\n')}
</body></html>
`;
}
