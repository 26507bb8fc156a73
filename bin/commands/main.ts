import type { Command } from 'commander';
import { DEFAULT_PROFILE, loadProfile } from '../../lib/profile/index.ts';
import { costReport } from './cost.ts';
import { profileSummary } from './profile.ts';

/**
 * The main job (`npm start`): synthesize every target that exists for the profile, then print
 * the savings table baseline vs optimized on each target.
 */
export function registerMainCommand(program: Command): void {
  program
    .command('main')
    .description('synthesize every target for a profile and print the cost summary (what `npm start` runs)')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-o, --out <dir>', 'output directory', 'dist')
    .action(async (opts: { profile: string; out: string }) => {
      const profile = loadProfile(opts.profile);
      console.log(`profile ${profileSummary(profile)}`);
      // Deploy targets are not synthesized yet: the Kubernetes and AWS targets are still to come.
      for (const target of ['aws', 'k8s']) {
        console.log('');
        console.log(costReport({ current: 'baseline', optimized: opts.profile, target, format: 'table', prices: [], hoursPerMonth: '730' }));
      }
    });
}
