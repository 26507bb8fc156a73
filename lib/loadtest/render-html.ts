/**
 * The HTML report: one self-contained file (inline CSS, SVG drawn here, a few lines of inline
 * script for the hover readouts, the report's JSON embedded), so it can be attached to a ticket
 * or opened from disk with nothing to fetch. Its Content-Security-Policy forbids every external
 * resource, so a page that tried to load one would say so in the browser console.
 */
import { niceStep } from './histogram.ts';
import { errorRatePercent, thresholdsPassed, type LoadTestReport } from './report.ts';
import { costLine, errorPercentText, fixed, generatorEngine, generatorLine, int, msText, percentText, runShape, saturationWarning, thresholdActual, thresholdLabel, usd, warmupLine } from './wording.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const W = 760;
const H = 260;
const M = { left: 60, right: 20, top: 16, bottom: 42 };

/** Round ticks from 0 to the first one at or above max. */
function ticks(max: number, count = 5): number[] {
  if (max <= 0) return [0, 1];
  const step = niceStep(max / count);
  const out: number[] = [0];
  while (out.at(-1)! < max - step * 1e-9) out.push(Number((out.length * step).toFixed(6)));
  return out;
}

const tickText = (v: number) => (v >= 1000 ? int(v) : Number(v.toPrecision(4)).toString());

interface Series {
  readonly name: string;
  readonly color: string;
  readonly values: readonly number[];
}

/** A time chart: x is seconds since the start, one point per second of the timeline. */
function lineChart(id: string, title: string, yLabel: string, xs: readonly number[], xEnd: number, series: readonly Series[], warmupSeconds = 0): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const xMax = Math.max(1, xEnd);
  const yTicks = ticks(Math.max(0, ...series.flatMap((s) => s.values)) * 1.05);
  const yMax = yTicks.at(-1)!;
  const x = (v: number) => M.left + (v / xMax) * plotW;
  const y = (v: number) => M.top + plotH - (v / yMax) * plotH;
  const xTicks = ticks(xMax, 8).filter((t) => t <= xMax);
  const parts: string[] = [];
  parts.push(`<svg class="chart" id="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" data-x="${esc(JSON.stringify(xs))}" data-series="${esc(JSON.stringify(series))}">`);
  parts.push(`<title>${esc(title)}</title>`);
  if (warmupSeconds > 0) {
    // The warm-up: drawn, shaded, and labelled as left out of the totals.
    parts.push(`<rect class="warmup" x="${M.left}" y="${M.top}" width="${(x(Math.min(warmupSeconds, xMax)) - M.left).toFixed(1)}" height="${plotH}" fill="#8c959f" fill-opacity="0.15"><title>warm-up: not counted</title></rect>`);
    parts.push(`<text class="tick" x="${M.left + 4}" y="${M.top + 12}">warm-up</text>`);
  }
  for (const t of yTicks) parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/><text class="tick" x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${tickText(t)}</text>`);
  for (const t of xTicks) parts.push(`<text class="tick" x="${x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${tickText(t)}</text>`);
  parts.push(`<text class="axis" x="${M.left + plotW / 2}" y="${H - 6}" text-anchor="middle">seconds since start</text>`);
  parts.push(`<text class="axis" transform="translate(14 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  parts.push(`<line class="frame" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}"/><line class="frame" x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}"/>`);
  for (const s of series) {
    const points = s.values.map((v, i) => `${x(xs[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline class="series" fill="none" stroke="${s.color}" stroke-width="2" points="${points}"><title>${esc(s.name)}</title></polyline>`);
    if (s.values.length === 1) parts.push(`<circle cx="${x(xs[0]!).toFixed(1)}" cy="${y(s.values[0]!).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  parts.push(`<line class="cursor" x1="0" x2="0" y1="${M.top}" y2="${M.top + plotH}" visibility="hidden"/>`);
  parts.push(`<rect class="hover" x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="transparent" data-x0="${M.left}" data-width="${plotW}" data-xmax="${xMax}"/>`);
  parts.push('</svg>');
  const legend = series.map((s) => `<span class="key"><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join('');
  return `<figure><figcaption>${esc(title)}</figcaption>${parts.join('')}<div class="legend">${legend}<span class="readout" id="${id}-readout"></span></div></figure>`;
}

function histogramChart(r: LoadTestReport): string {
  const buckets = r.histogram;
  if (buckets.length === 0) return '<p>No response was received, so there is no histogram.</p>';
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const yTicks = ticks(Math.max(...buckets.map((b) => b.count)) * 1.05);
  const yMax = yTicks.at(-1)!;
  const barW = plotW / buckets.length;
  const y = (v: number) => M.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [`<svg class="chart" id="histogram" viewBox="0 0 ${W} ${H}" role="img" aria-label="response-time histogram"><title>Response-time histogram</title>`];
  for (const t of yTicks) parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/><text class="tick" x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${tickText(t)}</text>`);
  const labelEvery = Math.ceil(buckets.length / 10);
  buckets.forEach((b, i) => {
    const bx = M.left + i * barW;
    parts.push(`<rect class="bar" x="${(bx + 1).toFixed(1)}" y="${y(b.count).toFixed(1)}" width="${Math.max(1, barW - 2).toFixed(1)}" height="${(M.top + plotH - y(b.count)).toFixed(1)}"><title>${esc(`${msText(b.fromMs)}–${msText(b.toMs)} ms: ${int(b.count)} requests`)}</title></rect>`);
    if (i % labelEvery === 0) parts.push(`<text class="tick" x="${bx.toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${msText(b.fromMs)}</text>`);
  });
  parts.push(`<text class="axis" x="${M.left + plotW / 2}" y="${H - 6}" text-anchor="middle">response time (ms)${buckets.length > 1 && buckets.at(-1)!.toMs - buckets.at(-1)!.fromMs > 1.5 * (buckets[0]!.toMs - buckets[0]!.fromMs) ? '; the last bar holds the slowest 0.1% up to the maximum' : ''}</text>`);
  parts.push(`<text class="axis" transform="translate(14 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">requests</text>`);
  parts.push(`<line class="frame" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}"/><line class="frame" x1="${M.left}" x2="${W - M.right}" y1="${M.top + plotH}" y2="${M.top + plotH}"/>`);
  parts.push('</svg>');
  return `<figure><figcaption>Response-time histogram</figcaption>${parts.join('')}</figure>`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[], id?: string): string {
  return `<table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function card(id: string, label: string, value: string): string {
  return `<div class="card" id="${id}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div></div>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:820px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#57606a}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:12px 0}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px}
.card .label{color:#57606a;font-size:12px}.card .value{font-size:18px;font-weight:600}
table{border-collapse:collapse;background:#fff;width:100%}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:0 0 16px;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;display:block}
.grid{stroke:#eaeef2}.frame{stroke:#8c959f}.tick{font-size:11px;fill:#57606a}.axis{font-size:12px;fill:#57606a}
.bar{fill:#0969da}.cursor{stroke:#8c959f;stroke-dasharray:3 3}
.legend{display:flex;gap:16px;flex-wrap:wrap;font-size:12px;color:#57606a}
.key i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
.readout{margin-left:auto;font-variant-numeric:tabular-nums}
footer{color:#57606a;font-size:12px;margin-top:24px}
`;

/** Hover readouts on the time charts; the page is complete without it. */
const SCRIPT = `
for (const svg of document.querySelectorAll('svg.chart[data-series]')) {
  const xs = JSON.parse(svg.dataset.x);
  const series = JSON.parse(svg.dataset.series);
  const area = svg.querySelector('rect.hover');
  const cursor = svg.querySelector('line.cursor');
  const readout = document.getElementById(svg.id + '-readout');
  const x0 = Number(area.dataset.x0), width = Number(area.dataset.width), xMax = Number(area.dataset.xmax);
  area.addEventListener('mousemove', (ev) => {
    const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(svg.getScreenCTM().inverse());
    const t = ((p.x - x0) / width) * xMax;
    let i = 0;
    for (let j = 1; j < xs.length; j++) if (Math.abs(xs[j] - t) < Math.abs(xs[i] - t)) i = j;
    const cx = x0 + (xs[i] / xMax) * width;
    cursor.setAttribute('x1', cx); cursor.setAttribute('x2', cx); cursor.setAttribute('visibility', 'visible');
    readout.textContent = xs[i] + ' s: ' + series.map((s) => s.name + ' ' + (Math.round(s.values[i] * 10) / 10).toLocaleString('en-US')).join(', ');
  });
  area.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); readout.textContent = ''; });
}
document.documentElement.dataset.ready = 'true';
`;

export function renderHtml(r: LoadTestReport): string {
  const pass = thresholdsPassed(r);
  const timeline = r.timeline ?? [];
  // Each second's numbers are drawn at its middle.
  const xs = timeline.map((p) => Number((p.t + p.seconds / 2).toFixed(3)));
  const warmup = r.warmup?.seconds ?? 0;
  const end = warmup + r.durationSeconds;
  const throughput = lineChart('throughput', 'Throughput over time', 'requests per second', xs, end, [
    { name: 'requests/s', color: '#0969da', values: timeline.map((p) => p.requestsPerSecond) },
    { name: 'failed/s', color: '#cf222e', values: timeline.map((p) => (p.seconds > 0 ? p.failed / p.seconds : 0)) },
  ], warmup);
  const latency = lineChart('latency', 'Latency over time', 'milliseconds', xs, end, [
    { name: 'p50', color: '#1a7f37', values: timeline.map((p) => p.latencyMs.p50) },
    { name: 'p95', color: '#bf8700', values: timeline.map((p) => p.latencyMs.p95) },
    { name: 'p99', color: '#cf222e', values: timeline.map((p) => p.latencyMs.p99) },
  ], warmup);
  const saturated = saturationWarning(r);
  const generator = generatorLine(r);
  const warmupText = warmupLine(r);
  const cost = costLine(r);
  const codes = Object.entries(r.statusCodes).sort(([a], [b]) => a.localeCompare(b));
  const errs = Object.entries(r.errors).sort(([a], [b]) => a.localeCompare(b));
  const json = JSON.stringify(r).replace(/</g, '\\u003c');
  const title = `Load test ${r.scenario} — ${r.target}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Load test <code>${esc(r.scenario)}</code>${r.interrupted ? ' (interrupted)' : ''}</h1>
<div class="meta">${esc(r.target)}${r.profile ? ` · profile <code>${esc(r.profile)}</code>` : ''} · started ${esc(r.startedAt)} · ${esc(runShape(r))}</div>
${r.description ? `<p>${esc(r.description)}</p>` : ''}
<div class="verdict ${pass ? 'pass' : 'fail'}" id="verdict">${r.thresholds.length === 0 ? 'no thresholds' : pass ? `PASS: ${r.thresholds.length} of ${r.thresholds.length} thresholds met` : `FAIL: ${r.thresholds.filter((t) => !t.passed).length} of ${r.thresholds.length} thresholds not met`}</div>
${saturated ? `<div class="verdict fail" id="generator-saturated">Warning: ${esc(saturated)}</div>` : ''}
<div class="cards">
${card('total-requests', 'requests', int(r.requests.total))}
${card('requests-per-second', 'requests/s', fixed(r.requests.perSecond, 1))}
${card('p50', 'p50 latency', `${msText(r.latencyMs.p50)} ms`)}
${card('p95', 'p95 latency', `${msText(r.latencyMs.p95)} ms`)}
${card('p99', 'p99 latency', `${msText(r.latencyMs.p99)} ms`)}
${card('success-rate', 'success rate', percentText(r.successRate))}
${r.cost ? card('cost-per-million', 'cost per million requests', r.cost.perMillionRequests === null ? '–' : usd(r.cost.perMillionRequests)) : ''}
</div>
${r.setup ? `<p>Setup, once before the load: ${int(r.setup.users)} users and ${int(r.setup.apiKeys)} API keys in ${fixed(r.setup.seconds, 1)} s.</p>` : ''}
<h2>Thresholds</h2>
${r.thresholds.length === 0 ? '<p>The scenario sets none.</p>' : table(['threshold', 'actual', 'result'], r.thresholds.map((t) => [esc(thresholdLabel(t)), esc(thresholdActual(t)), t.passed ? '<span class="pass">pass</span>' : '<span class="fail">FAIL</span>']), 'thresholds')}
<h2>Over time</h2>
${warmupText ? `<p id="warmup">Warm-up (shaded): ${esc(warmupText)}.</p>` : ''}
${throughput}
${latency}
<h2>Response times</h2>
${histogramChart(r)}
${table(['p10', 'p25', 'p50', 'p75', 'p90', 'p95', 'p99', 'max', 'mean'].map((k) => `${k} (ms)`), [(['p10', 'p25', 'p50', 'p75', 'p90', 'p95', 'p99', 'max', 'mean'] as const).map((k) => `<span class="num">${msText(r.latencyMs[k])}</span>`)], 'latency-table')}
<h2>Status codes and errors</h2>
${table(['', 'count'], [...codes.map(([c, n]) => [`status ${esc(c)}`, int(n)]), ...errs.map(([k, n]) => [`error: ${esc(k)}`, int(n)]), ['error rate', errorPercentText(errorRatePercent(r))]], 'outcomes')}
${cost ? `<h2>Cost</h2><p id="cost">${esc(cost)}.</p>` : ''}
${generator ? `<p id="generator">Generator: ${esc(generator)}.</p>` : ''}
<footer>${esc(generatorEngine(r))} · the report's JSON is embedded in this page (script#report-data).</footer>
</main>
<script type="application/json" id="report-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
