/**
 * `apistack loadtest`: run a scenario against a URL (or a local environment it brings up and
 * tears down), report it in text, JSON, markdown or HTML, and exit 2 when a threshold fails;
 * `apistack loadtest compare A.json B.json`: two runs side by side;
 * `apistack loadtest verdict`: one verdict over every runner of a run in a cluster, from Prometheus.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { Catalog, priceProfile, type Target } from '../../lib/cost/index.ts';
import { localDown, localUp } from '../../lib/local/env.ts';
import {
  buildReport,
  checkReachable,
  checkSetupInputs,
  compareReports,
  loadScenario,
  parseCompareFormat,
  parseDuration,
  parseReportFormat,
  parseTargetUrl,
  progressPrinter,
  readReport,
  renderComparison,
  renderReport,
  renderText,
  runScenario,
  runSetup,
  thresholdsPassed,
  withOverrides,
  type LoadTestReport,
  type ReportContext,
  type Scenario,
  type SetupResult,
} from '../../lib/loadtest/index.ts';
import { loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { parsePositive, parsePositiveInt, parseTarget } from './flags.ts';
import { ensureAppBundle } from './local.ts';
import { evaluateVerdict, parseAt, parsePrometheusUrl, parseVerdictFormat, renderVerdict } from './verdict.ts';

/** Exit code when the run completed but a threshold failed (1 is for mistakes in the input). */
export const EXIT_THRESHOLD_FAILED = 2;
/** Exit code after Ctrl-C (128 + SIGINT), once everything started was stopped. */
export const EXIT_INTERRUPTED = 130;
/** Where `--local` keeps its environment: apart from `apistack local up`'s, so neither disturbs the other. */
export const LOADTEST_STATE_DIR = '.apistack/loadtest';
export const LOCAL_DEFAULT_PROFILE = 'loadtest';

interface LoadtestOptions {
  target?: string;
  local?: boolean;
  scenario?: string;
  duration?: string;
  requests?: string;
  connections?: string;
  rate?: string;
  format: string;
  out?: string;
  profile?: string;
  costTarget: string;
  adminToken?: string;
  stateDir: string;
  prometheus?: boolean;
  timeout: string;
}

function generatorName(): string {
  const version = (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
  return `apistack loadtest (autocannon ${version})`;
}

/** What the environment costs per hour under its profile, at the replicas it runs. */
function environmentCost(profile: ResolvedProfile, target: Target, local: boolean): NonNullable<ReportContext['cost']> {
  // The local environment runs replicasMin replicas; a deployed one is priced as `apistack cost` prices it.
  const breakdown = priceProfile(profile, target, Catalog.load(), local ? { replicas: 'min' } : {});
  return { perHour: breakdown.total / breakdown.hoursPerMonth, target, apiReplicas: breakdown.apiReplicas, pricesAsOf: breakdown.pricesAsOf };
}

function writeOutput(file: string, text: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  } catch (e) {
    throw new UserError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

interface Prepared {
  readonly scenario: Scenario;
  readonly format: ReturnType<typeof parseReportFormat>;
  readonly profile?: ResolvedProfile;
  readonly costTarget: Target;
  readonly timeoutSeconds: number;
}

/** Every flag checked before anything starts, so a mistake never leaves an environment behind. */
function prepare(opts: LoadtestOptions): Prepared {
  if (opts.local && opts.target) throw new UserError('give --target URL or --local, not both');
  if (!opts.local && !opts.target) throw new UserError('say where to send the load: --target URL, or --local to bring up a local environment for the run');
  if (opts.target) parseTargetUrl(opts.target);
  if (!opts.local && opts.prometheus) throw new UserError('--prometheus applies to --local only');
  if (!opts.scenario) throw new UserError('say what to run: --scenario NAME (status, read, write, mixed, spike, soak) or --scenario FILE (.json/.yaml)');
  const format = parseReportFormat(opts.format);
  const overrides = {
    ...(opts.duration !== undefined ? { durationSeconds: parseDuration(opts.duration) } : {}),
    ...(opts.requests !== undefined ? { requests: parsePositiveInt('--requests', opts.requests) } : {}),
    ...(opts.connections !== undefined ? { connections: parsePositiveInt('--connections', opts.connections) } : {}),
    ...(opts.rate !== undefined ? { rate: parsePositive('--rate', opts.rate) } : {}),
  };
  const scenario = withOverrides(loadScenario(opts.scenario), overrides);
  const profileRef = opts.profile ?? (opts.local ? LOCAL_DEFAULT_PROFILE : undefined);
  return {
    scenario,
    format,
    ...(profileRef !== undefined ? { profile: loadProfile(profileRef) } : {}),
    costTarget: parseTarget(opts.costTarget, 'cost target'),
    timeoutSeconds: parseDuration(opts.timeout, '--timeout'),
  };
}

async function runLoadtest(opts: LoadtestOptions): Promise<void> {
  const p = prepare(opts);
  const log = (line: string) => console.error(`· ${line}`);
  const adminToken = opts.adminToken ?? process.env.APISTACK_ADMIN_TOKEN;
  if (!opts.local) checkSetupInputs(p.scenario, adminToken);
  const cost = p.profile ? environmentCost(p.profile, p.costTarget, opts.local === true) : undefined;
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

  const controller = new AbortController();
  let stoppingLocal = false;
  const onSignal = () => {
    if (controller.signal.aborted) {
      if (stoppingLocal) log('still stopping the local environment; it is nearly done');
      return;
    }
    log('interrupted: stopping the load');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const measure = async (url: string, token: string | undefined): Promise<{ report: LoadTestReport; setup?: SetupResult }> => {
    await checkReachable(parseTargetUrl(url));
    const setup = p.scenario.setup && ((p.scenario.setup.users ?? 0) > 0 || (p.scenario.setup.apiKeys ?? 0) > 0) ? await runSetup(p.scenario, { url, runId, log, ...(token ? { adminToken: token } : {}) }) : undefined;
    if (controller.signal.aborted) throw new UserError('interrupted before the load started');
    log(`running ${p.scenario.name} against ${url}`);
    const printer = progressPrinter(process.stderr, { tty: process.stderr.isTTY === true, columns: process.stderr.columns ?? 80 });
    const run = await runScenario({
      url,
      scenario: p.scenario,
      runId,
      timeoutSeconds: p.timeoutSeconds,
      signal: controller.signal,
      onProgress: (progress) => printer.update(progress),
      ...(setup ? { seed: setup } : {}),
    }).finally(() => printer.done());
    const report = buildReport(run, {
      scenario: p.scenario,
      target: url,
      generator: generatorName(),
      ...(p.profile ? { profile: p.profile.name } : {}),
      // Known only for an environment this command started: a remote target may have scaled.
      ...(opts.local && p.profile ? { environment: { apiReplicas: p.profile.api.replicasMin, workersPerReplica: p.profile.derived.api.workersPerReplica, vcpuPerReplica: p.profile.api.vcpuPerReplica } } : {}),
      ...(cost ? { cost } : {}),
      ...(setup ? { setup: { users: setup.users, apiKeys: setup.apiKeys.length, seconds: setup.seconds } } : {}),
    });
    return { report, ...(setup ? { setup } : {}) };
  };

  let report: LoadTestReport;
  try {
    if (opts.local) {
      const appBundle = ensureAppBundle(log);
      const state = await localUp({ profile: p.profile!, stateDir: opts.stateDir, appBundle, prometheus: opts.prometheus === true, log, signal: controller.signal });
      try {
        ({ report } = await measure(state.url, state.adminToken));
      } finally {
        stoppingLocal = true;
        log(`stopping the local environment in ${opts.stateDir}`);
        const down = await localDown(opts.stateDir);
        if (down.leftPorts.length > 0) log(`ports still open after stopping: ${down.leftPorts.join(', ')}; another process may hold them`);
      }
    } else {
      ({ report } = await measure(opts.target!.replace(/\/+$/, ''), adminToken));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const output = renderReport(report, p.format);
  if (opts.out) {
    writeOutput(opts.out, output);
    process.stdout.write(renderText(report));
    log(`report written to ${opts.out}`);
  } else {
    process.stdout.write(output);
  }
  if (report.interrupted) {
    log('interrupted: the report covers the run until then');
    process.exitCode = EXIT_INTERRUPTED;
  } else if (!thresholdsPassed(report)) {
    process.exitCode = EXIT_THRESHOLD_FAILED;
  }
}

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
      const verdict = await evaluateVerdict({ prometheus, scenario, at: parseAt(opts.at) });
      process.stdout.write(renderVerdict(verdict, format));
      // As for a local run: a scenario without thresholds passes.
      if (!verdict.passed) process.exitCode = EXIT_THRESHOLD_FAILED;
    });
}
