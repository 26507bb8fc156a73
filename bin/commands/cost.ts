import type { Command } from 'commander';
import { autoscalingTotals, Catalog, compare, parseFormat, priceProfile, priceTemplate, renderBreakdown, renderComparison, type ReplicaPoint } from '../../lib/cost/index.ts';
import { loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { parsePositive, parseTarget } from './flags.ts';

interface CostOptions {
  profile?: string;
  current?: string;
  optimized?: string;
  target: string;
  format: string;
  prices: string[];
  hoursPerMonth: string;
  implementationCost?: string;
  replicas?: string;
  fromTemplate?: string;
  /** A catalog already loaded (npm start prices two targets with one). */
  catalog?: Catalog;
}

function parseReplicas(value: string | undefined): ReplicaPoint | undefined {
  if (value === undefined) return undefined;
  if (value === 'min' || value === 'max' || value === 'expected') return value;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--replicas must be min, max, expected or a whole number, got "${value}"`);
  return n;
}

/** Everything `apistack cost` prints, as text; also used by `npm start`. */
export function costReport(opts: CostOptions): string {
  const target = parseTarget(opts.target);
  const format = parseFormat(opts.format);
  const hoursPerMonth = parsePositive('--hours-per-month', opts.hoursPerMonth);
  const implementationCost = opts.implementationCost === undefined ? undefined : parsePositive('--implementation-cost', opts.implementationCost, true);
  const replicas = parseReplicas(opts.replicas);
  const catalog = opts.catalog ?? Catalog.load(opts.prices);
  if (opts.fromTemplate !== undefined) {
    if (opts.profile || opts.current || opts.optimized) throw new UserError('--from-template prices what a synthesized stack deploys; it takes no --profile, --current or --optimized');
    if (target !== 'aws') throw new UserError('--from-template reads an AWS cloud assembly; use --target aws (the default)');
    const { breakdown, totals } = priceTemplate(opts.fromTemplate, catalog, { hoursPerMonth, ...(replicas !== undefined ? { replicas } : {}) });
    return renderBreakdown(breakdown, format, totals);
  }
  // Each profile is loaded once and priced at the asked point and across its range.
  const price = (p: ResolvedProfile) => priceProfile(p, target, catalog, { hoursPerMonth, ...(replicas !== undefined ? { replicas } : {}) });
  const range = (p: ResolvedProfile) => autoscalingTotals(p, target, catalog, hoursPerMonth);

  if (opts.current || opts.optimized) {
    if (opts.profile) throw new UserError('use either --profile P, or --current A --optimized B, not both');
    if (!opts.current || !opts.optimized) throw new UserError('a savings table needs both --current and --optimized');
    const [current, optimized] = [loadProfile(opts.current, process.cwd(), { target }), loadProfile(opts.optimized, process.cwd(), { target })];
    return renderComparison(compare(price(current), price(optimized), implementationCost), format, { current: range(current), optimized: range(optimized) });
  }
  if (implementationCost !== undefined) throw new UserError('--implementation-cost needs --current and --optimized');
  const profile = loadProfile(opts.profile ?? 'optimized', process.cwd(), { target });
  return renderBreakdown(price(profile), format, range(profile));
}

export function registerCostCommands(program: Command): void {
  program
    .command('cost')
    .description('monthly cost of a profile, or the savings table between two')
    .option('-p, --profile <profile>', 'price one profile (built-in name or file)')
    .option('--current <profile>', 'the profile running today')
    .option('--optimized <profile>', 'the profile to compare it with')
    .option('-t, --target <target>', 'aws or k8s', 'aws')
    .option('-f, --format <format>', 'table, md, csv, json or html', 'table')
    .option('--prices <file>', 'price file overriding or extending the catalog (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--hours-per-month <hours>', 'hours in a billing month', '730')
    .option('--implementation-cost <usd>', 'one-off cost of the optimization: adds annual savings, ROI and payback')
    .option('--from-template <dir>', 'price a synthesized AWS stack as deployed: the cloud assembly directory (DIR/aws) or its template')
    .option('--replicas <point>', 'API replicas to price: min, max, expected or a number (default: expected, else max)')
    .action((opts: CostOptions) => {
      console.log(costReport(opts));
    });
}
