/** The app bundle as a real replica process (a primary and its workers) for tests that signal it. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { waitFor } from '../../lib/local/process.ts';
import { freePort } from '../helpers/servers.ts';
import { testEnv } from './harness.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
export const appBundle = join(repoRoot, 'dist', 'app', 'main.js');

export function buildAppBundle(): void {
  const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
}

export interface ApiProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  readonly url: string;
  output(): string;
  readonly exited: Promise<number | null>;
  /** A metric's value from the primary's /metrics (0 when absent). */
  metric(name: string, labels?: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startApiProcess(databaseUrl: string, redisUrl: string, extra: Record<string, string> = {}, port?: number): Promise<ApiProcess> {
  port ??= await freePort();
  const metricsPort = await freePort();
  const child = spawn(process.execPath, [appBundle], {
    env: { ...process.env, ...testEnv(databaseUrl, redisUrl, { HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info', ...extra }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('API ready', async () => (await fetch(`${url}/readyz`, { headers: { connection: 'close' } }).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, alive: () => child.exitCode === null });
  const metric = async (name: string, labels = '') => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { connection: 'close' } })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  return {
    child,
    port,
    metricsPort,
    url,
    output: () => output,
    exited,
    metric,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
