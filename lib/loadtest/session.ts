/**
 * One measured run, as `apistack loadtest` does it against a URL: reachability, the scenario's
 * setup, the load with live progress, and the report. The command layer only parses flags,
 * brings an environment up or down and writes the output.
 */
import { createRequire } from 'node:module';
import { UserError } from '../errors.ts';
import { progressPrinter } from './progress.ts';
import { buildReport, type LoadTestReport, type ReportContext } from './report.ts';
import { checkReachable, runScenario } from './runner.ts';
import type { Scenario } from './scenario.ts';
import { runSetup, type SetupResult } from './setup.ts';
import { parseTargetUrl } from './url.ts';

/** Exit code when the run completed but a threshold failed (1 is for mistakes in the input). */
export const EXIT_THRESHOLD_FAILED = 2;
/** Exit code after Ctrl-C (128 + SIGINT), once everything started was stopped. */
export const EXIT_INTERRUPTED = 130;

/** The local engine, with its version: `apistack loadtest (autocannon 8.0.0)`. */
export function generatorName(): string {
  const version = (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
  return `apistack loadtest (autocannon ${version})`;
}

export interface MeasureOptions {
  readonly url: string;
  readonly scenario: Scenario;
  readonly runId: string;
  readonly timeoutSeconds: number;
  readonly signal: AbortSignal;
  /** To create the scenario's API keys. */
  readonly adminToken?: string;
  readonly log: (line: string) => void;
  /** Where live progress goes (standard error), and whether it is a terminal. */
  readonly progress: { readonly stream: { write(text: string): unknown }; readonly tty: boolean; readonly columns: number };
  /** What the report says about the environment (profile, sizing, cost). */
  readonly context: Omit<ReportContext, 'scenario' | 'target' | 'setup' | 'generator'>;
}

export async function measureTarget(o: MeasureOptions): Promise<{ report: LoadTestReport; setup?: SetupResult }> {
  const s = o.scenario;
  await checkReachable(parseTargetUrl(o.url));
  const needsSetup = s.setup && ((s.setup.users ?? 0) > 0 || (s.setup.apiKeys ?? 0) > 0);
  const setup = needsSetup ? await runSetup(s, { url: o.url, runId: o.runId, log: o.log, ...(o.adminToken ? { adminToken: o.adminToken } : {}) }) : undefined;
  if (o.signal.aborted) throw new UserError('interrupted before the load started');
  o.log(`running ${s.name} against ${o.url}`);
  const printer = progressPrinter(o.progress.stream, { tty: o.progress.tty, columns: o.progress.columns });
  const run = await runScenario({
    url: o.url,
    scenario: s,
    runId: o.runId,
    timeoutSeconds: o.timeoutSeconds,
    signal: o.signal,
    onProgress: (progress) => printer.update(progress),
    ...(setup ? { seed: setup } : {}),
  }).finally(() => printer.done());
  const report = buildReport(run, {
    ...o.context,
    scenario: s,
    target: o.url,
    generator: generatorName(),
    ...(setup ? { setup: { users: setup.users, apiKeys: setup.apiKeys.length, seconds: setup.seconds } } : {}),
  });
  return { report, ...(setup ? { setup } : {}) };
}
