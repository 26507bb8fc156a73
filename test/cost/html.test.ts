/**
 * The HTML report is one self-contained page a person reads: it renders in headless Chromium
 * with no console error and no request beyond itself, holds no markdown, and the totals it shows
 * are the JSON's.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPage } from '../helpers/chromium.ts';
import { tempDir } from '../helpers/servers.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const cost = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), 'cost', ...args], { encoding: 'utf8', cwd: repoRoot });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
};

/** Reads what the page shows: money cells by id, the chart's bars, the lists, and the text. */
const READ_PAGE = `JSON.stringify({
  shown: Object.fromEntries([...document.querySelectorAll('[id][data-usd]')].map((e) => [e.id, { text: e.textContent, usd: Number(e.dataset.usd) }])),
  rows: [...document.querySelectorAll('#savings tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent)),
  bars: [...document.querySelectorAll('#range-chart .bar')].map((g) => ({ profile: g.dataset.profile, point: g.dataset.point, text: g.querySelector('text:last-of-type').textContent, width: Number(g.querySelector('rect').getAttribute('width')) })),
  roi: [...document.querySelectorAll('#roi tr')].map((tr) => [tr.children[0].textContent, tr.children[1].textContent]),
  assumptions: [...document.querySelectorAll('#assumptions li')].map((li) => li.textContent),
  notIncluded: [...document.querySelectorAll('#not-included li')].map((li) => li.textContent),
  sourceLinks: document.querySelectorAll('table.lines a[href^="https://aws.amazon.com/"]').length,
  external: document.querySelectorAll('script, link, img, iframe, object, embed').length,
  text: document.body.innerText,
})`;

const money = (text: string) => Number(text.replace(/[$,]/g, '').replace(/\/month$/, ''));

function checkPage(file: string) {
  return openPage(file, READ_PAGE).then((report) => {
    expect(report.errors).toEqual([]);
    // Self-contained: the page itself is the only request.
    expect(report.requests.filter((u) => u !== 'about:blank')).toEqual([`file://${file}`]);
    const page = JSON.parse(String(report.value));
    expect(page.external).toBe(0);
    // No markdown inside the HTML.
    expect(page.text).not.toMatch(/\*\*|\|---|^#+ |\| \*\*/m);
    return page;
  });
}

describe('apistack cost --format html', () => {
  it('a savings report: savings table, range chart, ROI, every line with its source, assumptions; totals equal the JSON', async () => {
    const args = ['--current', 'baseline', '--optimized', 'optimized', '--implementation-cost', '15000'];
    const file = join(tempDir('apistack-html-'), 'savings.html');
    writeFileSync(file, cost(...args, '--format', 'html'));
    const json = JSON.parse(cost(...args, '--format', 'json'));
    const page = await checkPage(file);

    for (const [id, value] of [['total-current', json.total.current], ['total-optimized', json.total.optimized], ['total-savings', json.total.savings], ['current-total', json.current.total], ['optimized-total', json.optimized.total]] as const) {
      expect(page.shown[id].usd, id).toBe(value);
      expect(money(page.shown[id].text), id).toBe(value);
    }
    expect(page.rows).toEqual(
      json.rows.map((r: { component: string; current: number; optimized: number; savings: number; savingsPct: number | null }) => [
        r.component,
        ...[r.current, r.optimized, r.savings].map((n) => `${n < 0 ? '-' : ''}$${Math.abs(n).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`),
        r.savingsPct === null ? 'n/a' : `${r.savingsPct.toFixed(1)}%`,
      ]),
    );
    const bars = Object.fromEntries(page.bars.map((b: { profile: string; point: string; text: string; width: number }) => [`${b.profile} ${b.point}`, b]));
    for (const side of ['current', 'optimized'] as const) {
      for (const point of ['min', 'expected', 'max'] as const) {
        const bar = bars[`${json[side].profile} ${point}`];
        expect(money(bar.text), `${side} ${point}`).toBe(json[side].autoscaling[point]);
        expect(bar.width).toBeGreaterThan(0);
      }
    }
    expect(page.roi.map(([k]: string[]) => k)).toEqual(['Implementation cost', 'Annual savings', 'First-year ROI', 'Savings over 3 years', '3-year ROI', 'Payback']);
    expect(money(page.roi[1][1])).toBe(json.roi.annualSavings);
    expect(page.roi[2][1]).toBe(`${json.roi.roiPct.toFixed(1)}%`);
    expect(money(page.roi[3][1])).toBe(json.roi.threeYearSavings);
    expect(page.roi[4][1]).toBe(`${json.roi.threeYearRoiPct.toFixed(1)}%`);
    expect(page.roi[5][1]).toBe(`${json.roi.paybackMonths} months`);
    expect(page.sourceLinks).toBeGreaterThan(20);
    expect(page.assumptions).toContain(`${json.optimized.assumptions.find((a: { field: string }) => a.field === 'purchase.option').text} set by purchase.option`);
    expect(page.notIncluded.some((t: string) => t.startsWith('cross-AZ traffic'))).toBe(true);
  });

  it('one profile: every line, the range chart and the total equal the JSON', async () => {
    const file = join(tempDir('apistack-html-'), 'optimized.html');
    writeFileSync(file, cost('--profile', 'optimized', '--target', 'k8s', '--format', 'html'));
    const json = JSON.parse(cost('--profile', 'optimized', '--target', 'k8s', '--format', 'json'));
    const page = await checkPage(file);
    expect(page.shown['breakdown-total'].usd).toBe(json.total);
    expect(money(page.shown['breakdown-total'].text)).toBe(json.total);
    expect(page.bars.map((b: { point: string; text: string }) => [b.point, money(b.text)])).toEqual([
      ['min', json.autoscaling.min],
      ['expected', json.autoscaling.expected],
      ['max', json.autoscaling.max],
    ]);
    expect(page.assumptions.length).toBe(json.assumptions.length);
  });
});
