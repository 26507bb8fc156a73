/**
 * The action of `apistack loadtest`: check every flag, bring a local environment up (--local) or
 * take the target given, measure (lib/loadtest/session.ts), tear down, write the report.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { Catalog, priceProfile, type Target } from '../../lib/cost/index.ts';
import { localDown, localUp } from '../../lib/local/env.ts';
import * as lt from '../../lib/loadtest/index.ts';
import { loadProfile, type ResolvedProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { parsePositive, parsePositiveInt, parseTarget } from './flags.ts';
import { ensureAppBundle } from './local.ts';

/** Where `--local` keeps its environment: apart from `apistack local up`'s, so neither disturbs the other. */
export const LOADTEST_STATE_DIR = '.apistack/loadtest';
export const LOCAL_DEFAULT_PROFILE = 'loadtest';

export interface LoadtestOptions {
  target?: string;
  local?: boolean;
  scenario?: string;
  duration?: string;
  requests?: string;
  connections?: string;
  rate?: string;
  warmup?: string;
  engine: string;
  format: string;
  out?: string;
  profile?: string;
  costTarget: string;
  adminToken?: string;
  stateDir: string;
  prometheus?: boolean;
  timeout: string;
}

/** What the environment costs per hour under its profile: the local one runs replicasMin replicas, a deployed one is priced as `apistack cost` prices it. */
export function environmentCost(profile: ResolvedProfile, target: Target, local: boolean): NonNullable<lt.ReportContext['cost']> {
  const breakdown = priceProfile(profile, target, Catalog.load(), local ? { replicas: 'min' } : {});
  return { perHour: breakdown.total / breakdown.hoursPerMonth, target, apiReplicas: breakdown.apiReplicas, pricesAsOf: breakdown.pricesAsOf };
}

export function writeOutput(file: string, text: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  } catch (e) {
    throw new UserError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

/** Every flag checked before anything starts, so a mistake never leaves an environment behind. */
function prepare(opts: LoadtestOptions) {
  if (opts.local && opts.target) throw new UserError('give --target URL or --local, not both');
  if (!opts.local && !opts.target) throw new UserError('say where to send the load: --target URL, or --local to bring up a local environment for the run');
  if (opts.target) lt.parseTargetUrl(opts.target);
  if (!opts.local && opts.prometheus) throw new UserError('--prometheus applies to --local only');
  if (!opts.scenario) throw new UserError('say what to run: --scenario NAME (status, read, write, mixed, spike, soak) or --scenario FILE (.json/.yaml)');
  const format = lt.parseReportFormat(opts.format);
  const scenario = lt.withOverrides(lt.loadScenario(opts.scenario), {
    ...(opts.duration !== undefined ? { durationSeconds: lt.parseDuration(opts.duration) } : {}),
    ...(opts.requests !== undefined ? { requests: parsePositiveInt('--requests', opts.requests) } : {}),
    ...(opts.connections !== undefined ? { connections: parsePositiveInt('--connections', opts.connections) } : {}),
    ...(opts.rate !== undefined ? { rate: parsePositive('--rate', opts.rate) } : {}),
    ...(opts.warmup !== undefined ? { warmupSeconds: /^0+(\.0*)?s?$/.test(opts.warmup) ? 0 : lt.parseDuration(opts.warmup, '--warmup') } : {}),
  });
  const profileRef = opts.profile ?? (opts.local ? LOCAL_DEFAULT_PROFILE : undefined);
  const profile = profileRef !== undefined ? loadProfile(profileRef) : undefined;
  const engine = lt.parseEngine(opts.engine);
  lt.chooseEngine(scenario, engine);
  return { scenario, format, profile, engine, costTarget: parseTarget(opts.costTarget, 'cost target'), timeoutSeconds: lt.parseDuration(opts.timeout, '--timeout') };
}

export async function runLoadtest(opts: LoadtestOptions): Promise<void> {
  const p = prepare(opts);
  const log = (line: string) => console.error(`· ${line}`);
  const adminToken = opts.adminToken ?? process.env.APISTACK_ADMIN_TOKEN;
  if (!opts.local) lt.checkSetupInputs(p.scenario, adminToken);
  const cost = p.profile ? environmentCost(p.profile, p.costTarget, opts.local === true) : undefined;
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

  const controller = new AbortController();
  let stoppingLocal = false;
  const onSignal = () => {
    if (controller.signal.aborted) return void (stoppingLocal && log('still stopping the local environment; it is nearly done'));
    log('interrupted: stopping the load');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const measure = (url: string, token: string | undefined) =>
    lt.measureTarget({
      url, scenario: p.scenario, engine: p.engine, runId, timeoutSeconds: p.timeoutSeconds, signal: controller.signal, log,
      ...(token ? { adminToken: token } : {}),
      progress: { stream: process.stderr, tty: process.stderr.isTTY === true, columns: process.stderr.columns ?? 80 },
      context: {
        ...(p.profile ? { profile: p.profile.name } : {}),
        // Known only for an environment this command started: a remote target may have scaled.
        ...(opts.local && p.profile ? { environment: { apiReplicas: p.profile.api.replicasMin, workersPerReplica: p.profile.derived.api.workersPerReplica, vcpuPerReplica: p.profile.api.vcpuPerReplica } } : {}),
        ...(cost ? { cost } : {}),
      },
    });

  let report: lt.LoadTestReport;
  try {
    if (opts.local) {
      const state = await localUp({ profile: p.profile!, stateDir: opts.stateDir, appBundle: ensureAppBundle(log), prometheus: opts.prometheus === true, log, signal: controller.signal });
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

  const output = lt.renderReport(report, p.format);
  if (opts.out) {
    writeOutput(opts.out, output);
    process.stdout.write(lt.renderText(report));
    log(`report written to ${opts.out}`);
  } else {
    process.stdout.write(output);
  }
  if (report.interrupted) {
    log('interrupted: the report covers the run until then');
    process.exitCode = lt.EXIT_INTERRUPTED;
  } else if (!lt.thresholdsPassed(report)) {
    process.exitCode = lt.EXIT_THRESHOLD_FAILED;
  }
}
