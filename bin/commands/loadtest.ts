/**
 * `apistack loadtest`: run a scenario against a URL (or a local environment it brings up and
 * tears down), report it in text, JSON, markdown or HTML, and exit 2 when a threshold fails
 * (loadtest-run.ts); `apistack loadtest compare A.json B.json`: two runs side by side;
 * `apistack loadtest verdict`: one verdict over every runner of a run in a cluster (verdict.ts);
 * `apistack loadtest report`: the full report of such a run (report.ts).
 */
import type { Command } from 'commander';
import { compareReports, parseCompareFormat, readReport, renderComparison } from '../../lib/loadtest/index.ts';
import { LOADTEST_STATE_DIR, LOCAL_DEFAULT_PROFILE, runLoadtest, type LoadtestOptions } from './loadtest-run.ts';
import { registerReportCommand } from './report.ts';
import { registerVerdictCommand } from './verdict.ts';

export { EXIT_INTERRUPTED, EXIT_THRESHOLD_FAILED } from '../../lib/loadtest/session.ts';
export { LOADTEST_STATE_DIR, LOCAL_DEFAULT_PROFILE } from './loadtest-run.ts';

export function registerLoadtestCommands(program: Command): void {
  const loadtest = program
    .command('loadtest')
    .description('run a load-test scenario and report it; exit 2 when a threshold fails')
    .option('-s, --scenario <name|file>', 'built-in scenario (status, read, write, mixed, spike, soak) or a .json/.yaml scenario file')
    .option('--target <url>', 'base URL of the API to load, e.g. http://127.0.0.1:8080')
    .option('--local', 'bring up a local environment (apistack local) for the run, seed it, run, tear it down')
    .option('--duration <duration>', "run this long instead of the scenario's length: 10s, 2m, 500ms")
    .option('--requests <n>', 'stop after this many requests instead')
    .option('--connections <n>', 'hold this many connections (a ramp is scaled from its first stage)')
    .option('--rate <req/s>', 'a fixed arrival rate over all connections')
    .option('--warmup <duration>', 'load sent before the measured run, charted but in no total (default 3s for a closed-loop timed run, 0 otherwise; 0 for none)')
    .option('--engine <engine>', 'auto (wrk where the scenario allows it and wrk is installed), wrk or autocannon', 'auto')
    .option('-f, --format <format>', 'text, json, md or html', 'text')
    .option('-o, --out <file>', 'write the report here (a text summary still goes to standard output)')
    .option('-p, --profile <profile>', `the profile the target runs under, for the cost of the run (with --local: the environment's profile, default ${LOCAL_DEFAULT_PROFILE})`)
    .option('--cost-target <target>', 'price the environment as deployed on aws or k8s', 'aws')
    .option('--admin-token <token>', "the stack's ADMIN_TOKEN, to create the scenario's API keys (default: $APISTACK_ADMIN_TOKEN; --local reads it from the environment)")
    .option('--state-dir <dir>', 'with --local: where the environment lives while the run lasts', LOADTEST_STATE_DIR)
    .option('--prometheus', 'with --local: also start Prometheus (off by default: it takes CPU from the run)')
    .option('--timeout <duration>', 'a request unanswered this long counts as a timeout', '10s')
    .action(async (opts: LoadtestOptions) => {
      await runLoadtest(opts);
    });

  loadtest
    .command('compare')
    .description('two runs side by side: req/s, p50/p95/p99, error rate, cost per million requests, with the % change')
    .argument('<a>', 'the baseline: a report written with --format json')
    .argument('<b>', 'the run to compare with it')
    .option('-f, --format <format>', 'text, md or json', 'text')
    .action((a: string, b: string, opts: { format: string }) => {
      const format = parseCompareFormat(opts.format);
      process.stdout.write(renderComparison(compareReports(readReport(a), readReport(b), { a, b }), format));
    });

  registerVerdictCommand(loadtest);
  registerReportCommand(loadtest);
}
