/**
 * `apistack loadtest report`: the full report (text, JSON, markdown, HTML) of a run by k6 runners
 * in a cluster, from what they remote-wrote to the stack's Prometheus (lib/loadtest/cluster-report.ts),
 * with the PromQL the dashboards use; exit 2 when a threshold fails, as for a local run.
 */
import type { Command } from 'commander';
import { buildClusterReport } from '../../lib/loadtest/cluster-report.ts';
import type { ClusterRunPromql } from '../../lib/loadtest/cluster-run.ts';
import { EXIT_THRESHOLD_FAILED, loadScenario, parseReportFormat, renderReport, renderText, thresholdsPassed } from '../../lib/loadtest/index.ts';
import { parsePrometheusUrl } from '../../lib/loadtest/url.ts';
import { parseAt } from '../../lib/loadtest/verdict.ts';
import { loadTestRunSeries } from '../../lib/monitoring/dashboards.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { parseTarget } from './flags.ts';
import { environmentCost, writeOutput } from './loadtest-run.ts';
import { warnRunnerCount } from './verdict.ts';
import { runnersOf } from '../../lib/loadtest/k6.ts';

const PROMQL: ClusterRunPromql = { runSeries: loadTestRunSeries };

interface ReportOptions {
  prometheus?: string;
  scenario?: string;
  at?: string;
  format: string;
  out?: string;
  profile?: string;
  costTarget: string;
}

export function registerReportCommand(loadtest: Command): void {
  loadtest
    .command('report')
    .description("the full report of a run in a cluster (every runner, warm-up left out), from the stack's Prometheus; exit 2 when a threshold fails")
    .option('--prometheus <url>', 'Prometheus the runners remote-wrote to, e.g. http://127.0.0.1:9090 (kubectl port-forward)')
    .option('-s, --scenario <name|file>', 'the scenario that ran: built-in name or the .json/.yaml file given to synth --loadtest')
    .option('--at <time>', 'report the run that was the latest at this time (RFC 3339 or unix seconds), up to its last sample before it (default: now)')
    .option('-f, --format <format>', 'text, json, md or html', 'text')
    .option('-o, --out <file>', 'write the report here (a text summary still goes to standard output)')
    .option('-p, --profile <profile>', 'the profile the stack runs under, for the cost of the run')
    .option('--cost-target <target>', 'price the stack as deployed on aws or k8s', 'aws')
    .action(async (opts: ReportOptions, command: Command) => {
      const format = parseReportFormat(opts.format);
      if (command.getOptionValueSource('costTarget') === 'cli' && opts.profile === undefined) throw new UserError('--cost-target prices the stack under a profile: give --profile too (e.g. --profile optimized --cost-target k8s)');
      const prometheus = parsePrometheusUrl(opts.prometheus);
      if (!opts.scenario) throw new UserError('say which scenario ran: --scenario NAME (status, read, write, mixed, spike, soak) or --scenario FILE (.json/.yaml)');
      const scenario = loadScenario(opts.scenario);
      const costTarget = parseTarget(opts.costTarget, 'cost target');
      const profile = opts.profile !== undefined ? loadProfile(opts.profile, process.cwd(), { target: costTarget }) : undefined;
      const { report, at, runners } = await buildClusterReport({
        prometheus,
        scenario,
        ...(opts.at !== undefined ? { at: parseAt(opts.at) } : {}),
        promql: PROMQL,
        ...(profile ? { context: { profile: profile.name, cost: environmentCost(profile, costTarget, false) } } : {}),
      });
      console.error(`· the run of ${scenario.name} up to ${new Date(at * 1000).toISOString()}`);
      warnRunnerCount(runners, runnersOf(scenario));
      const output = renderReport(report, format);
      if (opts.out) {
        writeOutput(opts.out, output);
        process.stdout.write(renderText(report));
        console.error(`· report written to ${opts.out}`);
      } else {
        process.stdout.write(output);
      }
      if (!thresholdsPassed(report)) process.exitCode = EXIT_THRESHOLD_FAILED;
    });
}
