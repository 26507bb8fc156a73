import type { Command } from 'commander';
import { DEFAULT_PROFILE, loadProfile } from '../../lib/profile/index.ts';
import { profileSummary } from './profile.ts';

/**
 * The main job (`npm start`): synthesize every target that exists for the default profile,
 * then print what it costs. Each step is a function so later targets add a line here.
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
      console.log(JSON.stringify(profile, null, 2));
    });
}
