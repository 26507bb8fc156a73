/**
 * `apistack loadtest --local`: up, seed, run, down in one command, leaving no process and no
 * port behind, whether the run ends by itself or by Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import type { LocalState } from '../../lib/local/env.ts';
import { isAlive, isPortOpen, waitFor } from '../../lib/local/process.ts';
import { reportSchema } from '../../lib/loadtest/index.ts';
import { cliPath, repoRoot, stateDirFor } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

interface Running {
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
  readonly stdout: () => string;
  kill(signal: NodeJS.Signals): void;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { exited, stderr: () => stderr, stdout: () => stdout, kill: (signal) => child.kill(signal) };
}

function descendants(pids: readonly number[]): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found = new Set(pids);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (found.has(ppid) && !found.has(pid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/** Every process and port of the environment, read while it runs. */
async function environmentOf(stateDir: string): Promise<{ pids: number[]; ports: number[] }> {
  const file = join(stateDir, 'state.json');
  await waitFor('the local environment up to nginx', () => existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as LocalState).services.some((s) => s.name === 'nginx'), { timeoutMs: 120_000 });
  const state = JSON.parse(readFileSync(file, 'utf8')) as LocalState;
  return {
    pids: descendants(state.services.map((s) => s.pid)),
    ports: state.services.flatMap((s) => [s.port, ...(s.adminPort ? [s.adminPort] : [])]),
  };
}

async function expectNothingLeft(stateDir: string, env: { pids: number[]; ports: number[] }): Promise<void> {
  for (const pid of env.pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
  for (const port of env.ports) expect(await isPortOpen(port), `port ${port}`).toBe(false);
  expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
  expect(existsSync(join(stateDir, 'postgres'))).toBe(false);
}

beforeAll(() => {
  ensureAppBundle(() => {});
}, 180_000);

describe('apistack loadtest --local', () => {
  it('brings the environment up, seeds it, runs the scenario, tears it down and reports', async () => {
    const stateDir = stateDirFor('loadtest-local');
    const out = join(tempDir('apistack-loadtest-'), 'local.json');
    const run = start(['loadtest', '--local', '--scenario', 'mixed', '--duration', '2s', '--state-dir', stateDir, '--format', 'json', '--out', out]);
    const env = await environmentOf(stateDir);
    // The two API replicas and their workers, nginx and its workers, Postgres and its backends, Redis.
    expect(env.pids.length).toBeGreaterThan(6);
    const code = await run.exited;
    await expectNothingLeft(stateDir, env);

    const report = reportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    // Latency thresholds depend on what else the machine runs; the exit code must follow them.
    expect(code, run.stderr()).toBe(report.thresholds.every((t) => t.passed) ? 0 : 2);
    expect(report).toMatchObject({ scenario: 'mixed', profile: 'loadtest', errors: {}, successRate: 1, setup: { users: 10_000, apiKeys: 200 } });
    expect(report.environment).toEqual({ apiReplicas: 2, workersPerReplica: 1, vcpuPerReplica: 1 });
    expect(report.cost).toMatchObject({ target: 'aws', apiReplicas: 2 });
    expect(Object.keys(report.requests.byKind!).sort()).toEqual(['read', 'status', 'write']);
    expect(report.thresholds.map((t) => t.name)).toEqual(['p95Ms', 'errorRatePercent']);
    expect(run.stderr()).toMatch(/starting Postgres[\s\S]*setup: seeding 10000 users[\s\S]*running mixed[\s\S]*stopping the local environment/);
  }, 180_000);

  it('Ctrl-C during the load stops it, tears the environment down, writes what was measured and exits 130', async () => {
    const stateDir = stateDirFor('loadtest-interrupted');
    const out = join(tempDir('apistack-loadtest-'), 'interrupted.json');
    const run = start(['loadtest', '--local', '--scenario', 'status', '--duration', '20s', '--state-dir', stateDir, '--format', 'json', '--out', out]);
    const env = await environmentOf(stateDir);
    await waitFor('the first second of load', () => /loadtest: \d/.test(run.stderr()), { timeoutMs: 60_000 });
    run.kill('SIGINT');
    const code = await run.exited;
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr()).toContain('interrupted: stopping the load');
    await expectNothingLeft(stateDir, env);
    const report = reportSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(report.interrupted).toBe(true);
    expect(report.durationSeconds).toBeLessThan(15);
    // Stopped early, maybe inside the warm-up: what was sent is in the report either way.
    expect(report.requests.total + (report.warmup?.requests ?? 0)).toBeGreaterThan(0);
    expect(report.timeline!.reduce((sum, p) => sum + p.requests, 0)).toBe(report.requests.total + (report.warmup?.requests ?? 0));
  }, 180_000);
});
