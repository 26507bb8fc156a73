import type { Command } from 'commander';
import { Catalog, priceProfile } from '../../lib/cost/index.ts';
import { plan, renderPlan } from '../../lib/loadtest/plan.ts';
import { readReport } from '../../lib/loadtest/report.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { parseChoice, UserError } from '../../lib/errors.ts';
import { parsePositive, parseTarget } from './flags.ts';

interface PlanOptions {
  runs: string[];
  rps: string;
  p95: string;
  target: string;
  profile?: string;
  scenario?: string;
  format: string;
  maxReplicas: string;
  headroom?: string;
  prices: string[];
}

export function planReport(opts: PlanOptions): string {
  if (opts.runs.length === 0) throw new UserError('give at least one measured run: --runs report.json (apistack loadtest --format json --out report.json)');
  const target = parseTarget(opts.target);
  const format = parseChoice('--format', opts.format, ['table', 'json'] as const);
  // The one report schema every reader uses: a bad file is named with its problems.
  const runs = opts.runs.map(readReport);
  const named = [...new Set(runs.map((r) => r.profile).filter((p): p is string => Boolean(p)))];
  if (!opts.profile && named.length !== 1) {
    throw new UserError(named.length === 0 ? 'the reports name no profile; pass --profile P (the profile the runs were measured under)' : `the reports were measured under different profiles (${named.join(', ')}); plan from runs of one profile, or pass --profile P`);
  }
  const profile = loadProfile(opts.profile ?? named[0]!);
  const catalog = Catalog.load(opts.prices);
  const answer = plan(runs, profile, { requestsPerSecond: parsePositive('--rps', opts.rps), p95Ms: parsePositive('--p95', opts.p95), target, ...(opts.scenario !== undefined ? { scenario: opts.scenario } : {}), maxReplicas: parsePositive('--max-replicas', opts.maxReplicas), ...(opts.headroom !== undefined ? { minHeadroomPercent: parsePositive('--headroom', opts.headroom, true) } : {}) }, (p) => priceProfile(p, target, catalog).total);
  return renderPlan(answer, format);
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('capacity planning: the cheapest replicas × workers × size that serves a rate at a p95, from measured load-test runs')
    .option('--runs <files...>', 'JSON load-test reports (apistack loadtest --format json)', [] as string[])
    .requiredOption('--rps <n>', 'requests per second to serve')
    .requiredOption('--p95 <ms>', 'p95 latency to stay under, in milliseconds')
    .option('-t, --target <target>', 'aws or k8s', 'aws')
    .option('-p, --profile <profile>', 'the profile the runs were measured under (default: the one the reports name)')
    .option('-s, --scenario <name>', 'the scenario whose runs measure capacity, when the reports are of several')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('--headroom <percent>', "capacity to keep above the rate (default: what the profile's CPU autoscaling target leaves, 70% → 43%)")
    .option('--max-replicas <n>', 'largest replica count to consider', '100')
    .option('--prices <file>', 'price file overriding or extending the catalog (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action((opts: PlanOptions) => {
      console.log(planReport(opts));
    });
}
