/**
 * One measured run, as `apistack loadtest` does it against a URL: reachability, the scenario's
 * setup, the load with live progress, and the report. The command layer only parses flags,
 * brings an environment up or down and writes the output.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { parseChoice, UserError } from '../errors.ts';
import { progressPrinter } from './progress.ts';
import { buildReport, type LoadTestReport, type ReportContext } from './report.ts';
import { checkReachable, runScenario } from './runner.ts';
import type { Scenario } from './scenario.ts';
import { runSetup, type SetupResult } from './setup.ts';
import { parseTargetUrl } from './url.ts';
import { findWrk, runWrkScenario, wrkUnsupported } from './wrk-engine.ts';

export const ENGINES = ['auto', 'wrk', 'autocannon'] as const;
export type EngineChoice = (typeof ENGINES)[number];

export function parseEngine(value: string): EngineChoice {
  return parseChoice('--engine', value, ENGINES);
}

/** The engine a run uses: wrk where the scenario allows it and wrk is installed (auto), autocannon otherwise. */
export interface Engine {
  readonly kind: 'wrk' | 'autocannon';
  /** Name and version, as the report shows it. */
  readonly name: string;
  readonly wrk?: string;
  /** Why auto did not pick wrk, for the log. */
  readonly note?: string;
}

function wrkName(wrk: string): string {
  const out = spawnSync(wrk, ['-v'], { encoding: 'utf8' });
  const version = /wrk (\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1];
  return version ? `wrk ${version}` : 'wrk';
}

export function chooseEngine(s: Scenario, choice: EngineChoice, env: NodeJS.ProcessEnv = process.env): Engine {
  const autocannon = { kind: 'autocannon', name: generatorName() } as const;
  if (choice === 'autocannon') return autocannon;
  const why = wrkUnsupported(s);
  const wrk = findWrk(env);
  if (choice === 'wrk') {
    if (why) throw new UserError(`--engine wrk cannot run scenario ${s.name}: ${why}; use --engine autocannon (or auto) for it`);
    if (!wrk) throw new UserError('--engine wrk: wrk is not installed (apt-get install wrk), or set APISTACK_WRK to its path');
    return { kind: 'wrk', name: wrkName(wrk), wrk };
  }
  if (why) return { ...autocannon, note: `engine autocannon: wrk cannot run this scenario (${why})` };
  if (!wrk) return { ...autocannon, note: 'engine autocannon: wrk is not installed (apt-get install wrk), which spends less CPU per request' };
  return { kind: 'wrk', name: wrkName(wrk), wrk };
}

/** Exit code when the run completed but a threshold failed (1 is for mistakes in the input). */
export const EXIT_THRESHOLD_FAILED = 2;
/** Exit code after Ctrl-C (128 + SIGINT), once everything started was stopped. */
export const EXIT_INTERRUPTED = 130;

/** The Node engine, with its version: `autocannon 8.0.0`. */
export function generatorName(): string {
  const version = (createRequire(import.meta.url)('autocannon/package.json') as { version: string }).version;
  return `autocannon ${version}`;
}

export interface MeasureOptions {
  readonly url: string;
  readonly scenario: Scenario;
  /** @default auto */
  readonly engine?: EngineChoice;
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
  const engine = chooseEngine(s, o.engine ?? 'auto');
  if (engine.note) o.log(engine.note);
  o.log(`running ${s.name} against ${o.url} with ${engine.name}`);
  const printer = progressPrinter(o.progress.stream, { tty: o.progress.tty, columns: o.progress.columns });
  const runOptions = {
    url: o.url,
    scenario: s,
    runId: o.runId,
    timeoutSeconds: o.timeoutSeconds,
    signal: o.signal,
    onProgress: (progress: Parameters<typeof printer.update>[0]) => printer.update(progress),
    ...(setup ? { seed: setup } : {}),
  };
  const run = await (engine.wrk ? runWrkScenario({ ...runOptions, wrk: engine.wrk }) : runScenario(runOptions)).finally(() => printer.done());
  const report = buildReport(run, {
    ...o.context,
    scenario: s,
    target: o.url,
    generator: engine.name,
    ...(setup ? { setup: { users: setup.users, apiKeys: setup.apiKeys.length, seconds: setup.seconds } } : {}),
  });
  return { report, ...(setup ? { setup } : {}) };
}
