import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importPriceList } from '../../lib/cost/import.ts';
import { UserError } from '../../lib/errors.ts';

export function registerPricesCommands(program: Command): void {
  const prices = program.command('prices').description('manage the price catalog');
  prices
    .command('import')
    .argument('<file>', 'AWS Price List JSON: a bulk offer file or `aws pricing get-products` output')
    .description('turn AWS Price List JSON into catalog entries for the items the cost model uses')
    .option('-o, --out <file>', 'write the price file here (use it with `apistack cost --prices FILE`); default: standard output')
    .option('--region <region>', 'keep only this region, e.g. us-east-1')
    .action((file: string, opts: { out?: string; region?: string }) => {
      if (!existsSync(file)) throw new UserError(`price list not found: ${file}`);
      let data: unknown;
      try {
        data = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new UserError(`${file} is not valid JSON: ${(e as Error).message}`);
      }
      const { entries, skipped } = importPriceList(data, file, opts.region ? { region: opts.region } : {});
      if (entries.length === 0) throw new UserError(`${file} has no prices for items the cost model uses (${skipped} products skipped)`);
      const text = `${JSON.stringify({ currency: 'USD', prices: entries }, null, 2)}\n`;
      if (opts.out) {
        writeFileSync(opts.out, text);
        console.error(`wrote ${entries.length} prices to ${opts.out} (${skipped} products skipped)`);
      } else {
        process.stdout.write(text);
      }
    });
}
