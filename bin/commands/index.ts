/** Every CLI command group; each registers itself on the program. */
import type { Command } from 'commander';
import { registerCostCommands } from './cost.ts';
import { registerLoadtestCommands } from './loadtest.ts';
import { registerLocalCommands } from './local.ts';
import { registerMainCommand } from './main.ts';
import { registerPlanCommand } from './plan.ts';
import { registerPricesCommands } from './prices.ts';
import { registerSecretsCommands } from './secrets.ts';
import { registerSynthCommands } from './synth.ts';
import { registerProfileCommands } from './profile.ts';

export const registrations: ReadonlyArray<(program: Command) => void> = [registerMainCommand, registerProfileCommands, registerCostCommands, registerPricesCommands, registerLocalCommands, registerLoadtestCommands, registerSynthCommands, registerSecretsCommands, registerPlanCommand];
