/**
 * `apistack loadtest verdict`: one verdict over every runner of a load test in a cluster, from
 * the stack's Prometheus (lib/loadtest/verdict.ts), reading the run as `loadtest report` does.
 */
import type { Command } from 'commander';
import { EXIT_THRESHOLD_FAILED, loadScenario } from '../../lib/loadtest/index.ts';
import { runnersOf } from '../../lib/loadtest/k6.ts';
import { parsePrometheusUrl } from '../../lib/loadtest/url.ts';
import type { ClusterRunPromql } from '../../lib/loadtest/cluster-run.ts';
import { evaluateVerdict, parseAt, parseVerdictFormat, renderVerdict } from '../../lib/loadtest/verdict.ts';
import { loadTestRunSeries } from '../../lib/monitoring/dashboards.ts';
import { UserError } from '../../lib/errors.ts';

const PROMQL: ClusterRunPromql = { runSeries: loadTestRunSeries };

export function registerVerdictCommand(loadtest: Command): void {
  loadtest
    .command('verdict')
    .description("one verdict over every runner of a run in a cluster, from the stack's Prometheus; exit 2 when a threshold fails")
    .option('--prometheus <url>', 'Prometheus the runners remote-wrote to, e.g. http://127.0.0.1:9090 (kubectl port-forward)')
    .option('-s, --scenario <name|file>', 'the scenario that ran: built-in name or the .json/.yaml file given to synth --loadtest')
    .option('--at <time>', 'judge the run that was the latest at this time (RFC 3339 or unix seconds), up to its last sample before it (default: now)')
    .option('-f, --format <format>', 'text or json', 'text')
    .action(async (opts: { prometheus?: string; scenario?: string; at?: string; format: string }) => {
      const format = parseVerdictFormat(opts.format);
      const prometheus = parsePrometheusUrl(opts.prometheus);
      if (!opts.scenario) throw new UserError('say which scenario ran: --scenario NAME (status, read, write, mixed, spike, soak) or --scenario FILE (.json/.yaml)');
      const scenario = loadScenario(opts.scenario);
      const verdict = await evaluateVerdict({ prometheus, scenario, ...(opts.at !== undefined ? { at: parseAt(opts.at) } : {}), promql: PROMQL });
      process.stdout.write(renderVerdict(verdict, format));
      warnRunnerCount(verdict.requests?.runners ?? 0, runnersOf(scenario));
      // As for a local run: a scenario without thresholds passes.
      if (!verdict.passed) process.exitCode = EXIT_THRESHOLD_FAILED;
    });
}

/** Runs are told apart by their runners' overlap in time: a count other than the scenario's says two runs may have merged, or runners failed. */
export function warnRunnerCount(found: number, planned: number): void {
  if (found !== planned) console.error(`· note: ${found} runner${found === 1 ? '' : 's'} wrote this run, the scenario runs ${planned}: runners that failed to start, or another run of the scenario overlapping this one in time, are the usual causes`);
}
