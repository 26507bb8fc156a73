import type { Command } from 'commander';
import { Catalog, pricingProblems } from '../../lib/cost/index.ts';
import { UserError } from '../../lib/errors.ts';
import { parseTarget } from './flags.ts';
import { BUILTIN_PROFILES, builtinProfileNames, loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';

function summary(p: ResolvedProfile): string {
  const budget = p.derived.postgres.budgetAws;
  return (
    `${p.name}: api ${p.api.replicasMin}-${p.api.replicasMax} replicas × ${p.derived.api.workersPerReplica} worker${p.derived.api.workersPerReplica === 1 ? '' : 's'} ` +
    `(${p.api.vcpuPerReplica} vCPU, ${p.api.memoryMiBPerReplica} MiB, ${p.api.cpuArchitecture}), postgres ${p.postgres.instanceClass}` +
    `${p.postgres.multiAz ? ' Multi-AZ' : ''}, ${p.redis.engine} ${p.redis.nodeType}, connections ${budget.required}/${budget.maxConnections}`
  );
}

export function registerProfileCommands(program: Command): void {
  const profile = program.command('profile').description('list, show and validate sizing profiles');

  profile
    .command('list')
    .description('list the built-in profiles')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = builtinProfileNames().map((name) => ({ name, description: BUILTIN_PROFILES[name]!.description ?? '' }));
      if (opts.json) return void console.log(JSON.stringify(rows, null, 2));
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.description}`);
    });

  profile
    .command('show')
    .argument('<profile>', 'built-in name or path to a .json/.yaml profile')
    .description('print the resolved profile with its derived values')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { json?: boolean }) => {
      const p = loadProfile(ref);
      if (opts.json) return void console.log(JSON.stringify(p, null, 2));
      console.log(summary(p));
      console.log(JSON.stringify(p, null, 2));
    });

  profile
    .command('validate')
    .argument('<file>', 'path to a .json/.yaml profile (or a built-in name)')
    .description('exit 0 with a one-line summary, or exit 1 listing every problem (of every target, or of the one given); warns when `apistack cost` cannot price the profile')
    .option('-t, --target <target>', 'check only what this target (aws or k8s) needs (default: every target)')
    .option('--prices <file>', 'price file extending the catalog, as `apistack cost --prices` takes it (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--strict', 'exit 1 as well when the catalog cannot price the profile (a region or type it has no price for)')
    .action((ref: string, opts: { target?: string; prices: string[]; strict?: boolean }) => {
      const target = opts.target === undefined ? undefined : parseTarget(opts.target);
      const p = loadProfile(ref, process.cwd(), target ? { target } : {});
      const { input, catalog } = pricingProblems(p, Catalog.load(opts.prices));
      const list = (problems: string[]) => problems.map((x) => `  - ${x}`).join('\n');
      const count = (k: number) => `${k} problem${k === 1 ? '' : 's'}`;
      if (input.length > 0) throw new UserError(`profile ${ref} is invalid (${count(input.length)}):\n${list(input)}`, input);
      if (catalog.length > 0 && opts.strict) throw new UserError(`profile ${ref} cannot be priced (${count(catalog.length)}):\n${list(catalog)}`, catalog);
      console.log(`ok ${summary(p)}${target ? ` (checked for ${target})` : ''}`);
      // The profile deploys as it is; only the price catalog lacks figures, so it is a warning (--strict refuses).
      if (catalog.length > 0) console.error(`warning: \`apistack cost\` cannot price this profile (${count(catalog.length)}); it deploys, but add the prices with --prices FILE before pricing it:\n${list(catalog)}`);
    });
}

export { summary as profileSummary };
