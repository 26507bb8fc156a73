/** Entry point: `node main.js` serves (primary or worker); `node main.js migrate` migrates and exits. */
import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config.ts';
import { connect, migrate } from './db.ts';
import { runPrimary } from './primary.ts';
import { runWorker } from './worker.ts';

async function main(): Promise<void> {
  const command = process.argv[2];
  if (command !== undefined && command !== 'migrate' && command !== 'serve') {
    console.error(`unknown command "${command}": use "serve" (the default) or "migrate"`);
    process.exit(1);
  }
  let config;
  try {
    config = loadConfig(process.env, { requireServing: command !== 'migrate' });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
  if (command === 'migrate') {
    const sql = connect(config.databaseUrl, { max: 1, statementTimeoutMs: 60_000 });
    try {
      const applied = await migrate(sql);
      console.log(applied.length ? `applied migrations ${applied.join(', ')}` : 'database is up to date');
    } catch (e) {
      console.error(`migration failed: ${(e as Error).message}`);
      process.exitCode = 1;
    } finally {
      await sql.end({ timeout: 5 });
    }
    return;
  }
  if (cluster.isPrimary) runPrimary(config);
  else await runWorker(config);
}

await main();
