/**
 * One summary of the last `npm run bench`: every ratio against the reference measured beside it,
 * from test/bench/results/*.json, written to results/summary.json and results/summary.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(import.meta.dirname, 'results');
const BENCHES = [
  { file: 'load.json', title: 'Sustained load through nginx (wrk, 50 connections)' },
  { file: 'compression.json', title: 'Response compression (wrk)' },
] as const;

interface Report {
  machine?: Record<string, unknown>;
  results?: { name: string; requestsPerSecond: number; p50Ms?: number; p99Ms?: number; non2xx?: number }[];
  ratios: Record<string, number>;
  targets?: { name: string; value: number; target: number; op: string; passed: boolean }[];
}

const sections: string[] = [];
const summary: Record<string, Report> = {};
for (const b of BENCHES) {
  const path = join(dir, b.file);
  if (!existsSync(path)) {
    sections.push(`## ${b.title}\n\nnot run (no ${b.file})\n`);
    continue;
  }
  const r = JSON.parse(readFileSync(path, 'utf8')) as Report;
  summary[b.file.replace('.json', '')] = r;
  sections.push(
    [
      `## ${b.title}`,
      '',
      ...(Array.isArray(r.results)
        ? ['| case | req/s | p50 ms | p99 ms | non-2xx |', '|---|---:|---:|---:|---:|', ...r.results.map((x) => `| ${x.name} | ${x.requestsPerSecond} | ${x.p50Ms ?? '–'} | ${x.p99Ms ?? '–'} | ${x.non2xx ?? '–'} |`), '']
        : []),
      '| ratio | value |',
      '|---|---:|',
      ...Object.entries(r.ratios).map(([k, v]) => `| ${k} | ${v} |`),
      '',
      ...(r.targets?.some((t) => !t.passed) ? [`Targets missed: ${r.targets.filter((t) => !t.passed).map((t) => `${t.name} (${t.value}, wanted ${t.op === '==' ? '=' : '≥'} ${t.target})`).join('; ')}`, ''] : []),
    ].join('\n'),
  );
}
const machine = Object.values(summary)[0]?.machine;
const md = [`# Benchmarks`, '', `Measured ${new Date().toISOString().slice(0, 10)}${machine ? ` on ${JSON.stringify(machine)}` : ''}; every ratio is against a reference measured in the same run.`, '', ...sections].join('\n');
writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(join(dir, 'summary.md'), md);
console.log(md);
