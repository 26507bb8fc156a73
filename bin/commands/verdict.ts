/**
 * `apistack loadtest verdict`: one verdict over every runner of a load test in a cluster, from
 * the stack's Prometheus (lib/loadtest/verdict.ts), asking the PromQL the dashboards show.
 */
import type { Command } from 'commander';
import { EXIT_THRESHOLD_FAILED, loadScenario } from '../../lib/loadtest/index.ts';
import { parsePrometheusUrl } from '../../lib/loadtest/url.ts';
import { evaluateVerdict, parseAt, parseVerdictFormat, renderVerdict, type VerdictPromql } from '../../lib/loadtest/verdict.ts';
import { loadTestRunQueries, loadTestVerdicts } from '../../lib/monitoring/dashboards.ts';
import { UserError } from '../../lib/errors.ts';

const PROMQL: VerdictPromql = { runQueries: loadTestRunQueries, verdicts: loadTestVerdicts };

export function registerVerdictCommand(loadtest: Command): void {
  loadtest
    .command('verdict')
    .description("one verdict over every runner of a run in a cluster, from the stack's Prometheus; exit 2 when a threshold fails")
    .option('--prometheus <url>', 'Prometheus the runners remote-wrote to, e.g. http://127.0.0.1:9090 (kubectl port-forward)')
    .option('-s, --scenario <name|file>', 'the scenario that ran: built-in name or the .json/.yaml file given to synth --loadtest')
    .option('--at <time>', 'evaluate at this time, RFC 3339 or unix seconds (default: now); during the run or up to 5 minutes after it')
    .option('-f, --format <format>', 'text or json', 'text')
    .action(async (opts: { prometheus?: string; scenario?: string; at?: string; format: string }) => {
      const format = parseVerdictFormat(opts.format);
      const prometheus = parsePrometheusUrl(opts.prometheus);
      if (!opts.scenario) throw new UserError('say which scenario ran: --scenario NAME (status, read, write, mixed, spike, soak) or --scenario FILE (.json/.yaml)');
      const scenario = loadScenario(opts.scenario);
      const verdict = await evaluateVerdict({ prometheus, scenario, at: parseAt(opts.at), promql: PROMQL });
      process.stdout.write(renderVerdict(verdict, format));
      // As for a local run: a scenario without thresholds passes.
      if (!verdict.passed) process.exitCode = EXIT_THRESHOLD_FAILED;
    });
}
