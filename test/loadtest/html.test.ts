/**
 * The HTML report renders in a real browser (headless Chromium, the Debian package): no console
 * message of any kind, its script ran to the end, the charts are there, and the page shows the
 * numbers of the JSON it embeds. It is one file: nothing is fetched.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { int, msText, reportSchema, type LoadTestReport } from '../../lib/loadtest/index.ts';
import { renderPage, requireChromium, type RenderedPage } from '../helpers/chromium.ts';
import { cli } from '../helpers/cli.ts';
import { startFixedLatencyServer, type FixedLatencyServer } from '../helpers/fixed-latency-server.ts';
import { tempDir } from '../helpers/servers.ts';

const dir = tempDir('apistack-html-');
let server: FixedLatencyServer;
let html: string;
let report: LoadTestReport;
/** The report as Chromium rendered it, once for every check below. */
let page: RenderedPage;

function embeddedReport(page: string): LoadTestReport {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(page);
  if (!m) throw new Error('no embedded report in the page');
  return reportSchema.parse(JSON.parse(m[1]!));
}

/** The text inside the element with this id (the first element closing after it). */
function textOf(dom: string, id: string): string {
  const start = dom.indexOf(`id="${id}"`);
  expect(start, `#${id} in the rendered DOM`).toBeGreaterThan(-1);
  return dom.slice(start, dom.indexOf('</div></div>', start)).replace(/<[^>]+>/g, ' ');
}

beforeAll(async () => {
  requireChromium();
  server = await startFixedLatencyServer(5);
  const scenario = join(dir, 'ramp.yaml');
  writeFileSync(
    scenario,
    [
      'name: ramp',
      'description: "Status in two stages <b>escaped</b> & shown as text"',
      'connections: 5',
      'stages: [{ durationSeconds: 1, connections: 5 }, { durationSeconds: 1.5, connections: 20 }]',
      'mix: [{ kind: status, weight: 1 }]',
      'thresholds: { p95Ms: 50, p99Ms: 0.01, errorRatePercent: 0.1 }',
    ].join('\n'),
  );
  const out = join(dir, 'report.html');
  const r = cli(['loadtest', '--target', server.url, '--scenario', scenario, '--profile', 'loadtest', '--format', 'html', '--out', out]);
  // p99 ≤ 0.01 ms cannot be met: the page must show a failure too.
  expect(r.status, r.stderr).toBe(2);
  html = readFileSync(out, 'utf8');
  report = embeddedReport(html);
  page = await renderPage(out);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('HTML report', () => {
  it('is one file that loads nothing: no src or href, a policy that forbids every external resource', () => {
    expect(html).not.toMatch(/\s(src|href)\s*=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    expect(html).toContain('&lt;b&gt;escaped&lt;/b&gt; &amp; shown as text');
  });

  it('renders in headless Chromium with no console message, its script run to the end', () => {
    expect(page.console).toEqual([]);
    expect(page.dom).toMatch(/<html[^>]* data-ready="true"/);
  });

  it('shows the numbers of its JSON: total requests, p50/p95/p99, the failed threshold', () => {
    const { dom } = page;
    expect(report.requests.total).toBeGreaterThan(100);
    expect(textOf(dom, 'total-requests')).toContain(int(report.requests.total));
    expect(textOf(dom, 'p95')).toContain(`${msText(report.latencyMs.p95)} ms`);
    expect(textOf(dom, 'p50')).toContain(`${msText(report.latencyMs.p50)} ms`);
    expect(textOf(dom, 'p99')).toContain(`${msText(report.latencyMs.p99)} ms`);
    expect(dom).toContain('FAIL: 1 of 3 thresholds not met');
    expect(dom).toContain(`${int(report.statusCodes['200']!)}`);
    expect(textOf(dom, 'cost-per-million')).toContain('$');
  });

  it('draws throughput and latency over time (a point per second) and the histogram (a bar per bucket)', () => {
    const { dom } = page;
    const svg = (id: string) => {
      const m = new RegExp(`<svg [^>]*id="${id}"[\\s\\S]*?</svg>`).exec(dom);
      expect(m, `svg#${id}`).not.toBeNull();
      return m![0];
    };
    const seconds = report.timeline!.length;
    expect(seconds).toBeGreaterThanOrEqual(2);
    for (const id of ['throughput', 'latency']) {
      const polylines = [...svg(id).matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]!.trim().split(/\s+/));
      expect(polylines.length, id).toBeGreaterThanOrEqual(2);
      for (const points of polylines) expect(points).toHaveLength(seconds);
    }
    // The default warm-up of a timed closed-loop run: drawn (shaded) on both charts, in no total.
    expect(report.warmup?.seconds).toBe(3);
    expect(report.timeline!.filter((p) => p.warmup).length).toBe(3);
    expect(report.timeline!.filter((p) => !p.warmup).reduce((sum, p) => sum + p.requests, 0)).toBe(report.requests.total);
    for (const id of ['throughput', 'latency']) expect(svg(id)).toContain('class="warmup"');
    expect(textOf(dom, 'warmup')).toContain(`${int(report.warmup!.requests)} requests before the measured run`);
    const bars = [...svg('histogram').matchAll(/<rect class="bar"/g)];
    expect(bars).toHaveLength(report.histogram.length);
  });
});

describe('the browser check itself', () => {
  it('sees console errors, uncaught exceptions and blocked external loads', async () => {
    const file = join(dir, 'broken.html');
    writeFileSync(
      file,
      `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'"></head><body><img src="http://127.0.0.1:9/x.png"><script>console.error('boom'); missing();</script></body></html>`,
    );
    const broken = await renderPage(file);
    expect(broken.console.join('\n')).toContain('"boom"');
    expect(broken.console.join('\n')).toContain('missing is not defined');
    expect(broken.console.join('\n')).toContain('Content Security Policy');
  });
});
