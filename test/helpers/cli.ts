/** Running the real `apistack` CLI from tests, and state directories the local environment can use. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './servers.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const cliPath = join(repoRoot, 'bin', 'apistack.mjs');

/** Run the CLI to the end; bounded, so a hang fails the test instead of blocking the suite. */
export function cli(args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', cwd: repoRoot, env, timeout: 180_000 });
}

/** Run the CLI without blocking the test's event loop (while load runs beside it). */
export function cliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), 180_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A state directory the postgres user can reach when tests run as root. */
export function stateDirFor(name: string, prefix = 'apistack-local-'): string {
  const root = tempDir(prefix);
  chmodSync(root, 0o755);
  return join(root, name);
}
