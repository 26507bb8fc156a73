/** The apistack CLI. User mistakes print a clear message and exit 1; only bugs print stacks. */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../lib/errors.ts';
import { registrations } from './commands/index.ts';

const program = new Command();
program
  .name('apistack')
  .description('Define, deploy, watch, load-test and price a high-throughput HTTP API stack from one profile.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  // An option belongs to the command it follows: `loadtest` and `loadtest compare` both take --format.
  .enablePositionalOptions()
  .exitOverride();

for (const register of registrations) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (isUserError(e)) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
