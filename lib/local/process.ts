/** Spawning real servers, waiting for them, and stopping them by pid without leaking any. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether the process runs; an exited child not yet reaped (a zombie) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns true; fail with `what` and the optional log tail. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; logFile?: string; alive?: () => boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) throw new Error(`interrupted while waiting for ${what}`);
    if (await check()) return;
    if (opts.alive && !opts.alive()) throw new Error(`${what}: process exited early${logTail(opts.logFile)}`);
    await sleep(opts.intervalMs ?? 50);
  }
  throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}${logTail(opts.logFile)}`);
}

export function logTail(logFile: string | undefined, lines = 20): string {
  if (!logFile || !existsSync(logFile)) return '';
  const text = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  return text ? `\n--- last lines of ${logFile} ---\n${text}` : '';
}

export interface SpawnedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
}

/**
 * Start a server with stdout and stderr appended to `logFile`.
 * `detached` servers outlive this process (the local environment); others are ours to stop (tests).
 */
export function spawnServer(
  command: string,
  args: readonly string[],
  opts: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean; uid?: number; gid?: number },
): SpawnedProcess {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: opts.detached ?? false,
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    if (opts.detached) child.unref();
    return { pid: child.pid, child, logFile: opts.logFile };
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`; resolves once the pid is gone. */
export async function stopPid(pid: number, opts: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<'graceful' | 'killed' | 'absent'> {
  if (!isAlive(pid)) return 'absent';
  try {
    process.kill(pid, opts.signal ?? 'SIGTERM');
  } catch {
    return 'absent';
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'graceful';
    await sleep(25);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  while (isAlive(pid)) await sleep(25);
  return 'killed';
}

/** A child that exited but was not reaped yet still answers kill(0); /proc tells the truth on Linux. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
