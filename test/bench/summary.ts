/**
 * One summary of the last `npm run bench`: every ratio against the reference measured beside it,
 * from test/bench/results/*.json, written to results/summary.json and results/summary.md, and to
 * test/bench/RESULTS.md (tracked, the page the README links to) when every bench has results.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, 'results');
const BENCHES = [
  { file: 'load.json', title: 'Sustained load through nginx (wrk, 50 connections)' },
  { file: 'compression.json', title: 'Response compression: @fastify/compress against a synchronous hook (wrk)' },
  { file: 'generator.json', title: 'Load generators: apistack loadtest (each engine) against wrk, on nginx static and through the stack' },
  { file: 'faults.json', title: 'Faults under a closed-loop mixed load through nginx: non-2xx per fault, acknowledged writes lost and duplicated' },
] as const;

interface Case {
  name?: string;
  requestsPerSecond: number;
  p50Ms?: number;
  p99Ms?: number;
  non2xx?: number;
  errors?: number;
  recycles?: number;
  meanLatencyOnly?: boolean;
}

interface Report {
  measuredAt?: string;
  machine?: Record<string, unknown>;
  /** A list of cases (load), or cases by implementation (compression). */
  results?: Case[] | Record<string, Record<string, Case>>;
  ratios: Record<string, number>;
  targets?: { name: string; value: number; target: number; op: string; passed: boolean }[];
}

const dash = (v: number | undefined) => (v === undefined ? '–' : String(v));
const row = (name: string, c: Case) =>
  `| ${name} | ${c.requestsPerSecond} | ${c.meanLatencyOnly ? `mean ${c.p50Ms}` : dash(c.p50Ms)} | ${c.meanLatencyOnly ? '–' : dash(c.p99Ms)} | ${dash(c.non2xx ?? c.errors)} | ${dash(c.recycles)} |`;

function casesTable(results: Report['results']): string[] {
  if (!results) return [];
  const rows = Array.isArray(results) ? results.map((c) => row(c.name ?? '', c)) : Object.entries(results).flatMap(([impl, cases]) => Object.entries(cases).map(([name, c]) => row(`${impl}: ${name}`, c)));
  return ['| case | req/s | p50 ms | p99 ms | non-2xx or errors | recycles |', '|---|---:|---:|---:|---:|---:|', ...rows, ''];
}

const sections: string[] = [];
const summary: Record<string, Report> = {};
let complete = true;
for (const b of BENCHES as readonly { file: string; title: string; optional?: boolean }[]) {
  const path = join(dir, b.file);
  if (!existsSync(path)) {
    if (b.optional) continue;
    complete = false;
    sections.push(`## ${b.title}\n\nnot run (no ${b.file})\n`);
    continue;
  }
  const r = JSON.parse(readFileSync(path, 'utf8')) as Report;
  summary[b.file.replace('.json', '')] = r;
  const missed = r.targets?.filter((t) => !t.passed) ?? [];
  sections.push(
    [
      `## ${b.title}`,
      '',
      `Measured ${r.measuredAt ?? 'at an unrecorded time'}.`,
      '',
      ...casesTable(r.results),
      '| ratio | value |',
      '|---|---:|',
      ...Object.entries(r.ratios).map(([k, v]) => `| ${k} | ${v} |`),
      '',
      ...(missed.length > 0 ? [`Targets missed: ${missed.map((t) => `${t.name} (${t.value}, wanted ${t.op === '==' ? '=' : '≥'} ${t.target})`).join('; ')}`, ''] : []),
    ].join('\n'),
  );
}
const machine = Object.values(summary)[0]?.machine;
const md = [
  `<!-- Written by test/bench/summary.ts at the end of \`npm run bench\`; do not edit. -->`,
  `# Benchmarks`,
  '',
  `Machine: ${machine ? JSON.stringify(machine) : 'unrecorded'}. Every ratio is against a reference measured in the same bench run; pgbench reports a mean latency only (shown as "mean").`,
  '',
  ...sections,
].join('\n');
writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(join(dir, 'summary.md'), md);
if (complete) writeFileSync(join(import.meta.dirname, 'RESULTS.md'), md);
else console.error('· RESULTS.md left as it was: not every bench has results');
console.log(md);
