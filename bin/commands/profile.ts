import type { Command } from 'commander';
import { parseTarget } from './flags.ts';
import { BUILTIN_PROFILES, builtinProfileNames, loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';

function summary(p: ResolvedProfile): string {
  const b = p.derived.postgres.budgetAws;
  return (
    `${p.name}: api ${p.api.replicasMin}-${p.api.replicasMax} replicas × ${p.derived.api.workersPerReplica} worker${p.derived.api.workersPerReplica === 1 ? '' : 's'} ` +
    `(${p.api.vcpuPerReplica} vCPU, ${p.api.memoryMiBPerReplica} MiB, ${p.api.cpuArchitecture}), postgres ${p.postgres.instanceClass}` +
    `${p.postgres.multiAz ? ' Multi-AZ' : ''}, ${p.redis.engine} ${p.redis.nodeType}, connections ${b.required}/${b.maxConnections}`
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
    .description('exit 0 with a one-line summary, or exit 1 listing every problem (of every target, or of the one given)')
    .option('-t, --target <target>', 'check only what this target (aws or k8s) needs (default: every target)')
    .action((ref: string, opts: { target?: string }) => {
      const target = opts.target === undefined ? undefined : parseTarget(opts.target);
      console.log(`ok ${summary(loadProfile(ref, process.cwd(), target ? { target } : {}))}${target ? ` (checked for ${target})` : ''}`);
    });
}

export { summary as profileSummary };
