/** Spawning real servers, waiting for them, and stopping them by pid without leaking any. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/** The kernel's range of source ports for outgoing connections (Linux: ip_local_port_range). */
function ephemeralPorts(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return { low: low!, high: high! };
  } catch {
    // Not Linux: the IANA range most systems use.
  }
  return { low: 49152, high: 65535 };
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function kernelPort(host: string): Promise<number> {
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

/** Below this, ports are left to the system's own services. */
const LOWEST_PICKED_PORT = 10_000;

/**
 * A port to listen on that is free now, picked below the ephemeral range: a port that bind(0)
 * hands out and frees is next in line for any outgoing connection (a load test opens thousands a
 * second), which could take it before the server it was picked for binds it. Random picks,
 * each checked; the kernel's choice when the range below is too small or full.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { low } = ephemeralPorts();
  if (low - LOWEST_PICKED_PORT > 1000) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = LOWEST_PICKED_PORT + Math.floor(Math.random() * (low - LOWEST_PICKED_PORT));
      if (await canListen(port, host)) return port;
    }
  }
  return kernelPort(host);
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

/**
 * A server that did not start or did not become ready: a fact about the server, its
 * configuration or the machine (a port in use, a config it refuses, an early exit), not a bug in
 * apistack. `reason` says what went wrong in one line; `logFile` is where the server said why.
 */
export class StartError extends Error {
  override readonly name = 'StartError';
  constructor(
    readonly reason: string,
    readonly logFile?: string,
  ) {
    super(`${reason}${logTail(logFile)}`);
  }
}

/** How a child ended, for a message: " with code 1", " (killed by SIGKILL)" or "" while unknown. */
export function exitDescription(child: ChildProcess | undefined): string {
  if (child?.exitCode !== null && child?.exitCode !== undefined) return ` with code ${child.exitCode}`;
  if (child?.signalCode) return ` (killed by ${child.signalCode})`;
  return '';
}

/**
 * Poll `check` until it returns true; a StartError (with the log file) when the process exits
 * first or the time runs out. `child` only makes the message say how the process ended.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; logFile?: string; alive?: () => boolean; child?: ChildProcess; signal?: AbortSignal } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) throw new Error(`interrupted while waiting for ${what}`);
    if (await check()) return;
    if (opts.alive && !opts.alive()) {
      // The exit status arrives with the child's exit event, shortly after the pid is gone.
      if (opts.child && opts.child.exitCode === null && opts.child.signalCode === null) await sleep(200);
      throw new StartError(`${what}: the process exited${exitDescription(opts.child)} before it was ready`, opts.logFile);
    }
    await sleep(opts.intervalMs ?? 50);
  }
  throw new StartError(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}`, opts.logFile);
}

/** The last `lines` non-empty lines of a log file; none when it is missing or empty. */
export function lastLines(logFile: string | undefined, lines = 20): string[] {
  if (!logFile || !existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .slice(-lines);
}

export function logTail(logFile: string | undefined, lines = 20): string {
  const text = lastLines(logFile, lines).join('\n');
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
    if (child.pid === undefined) throw new StartError(`could not start ${command}`, opts.logFile);
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

/**
 * Stop a detached server (the leader of its own process group): `signal`, SIGKILL after
 * `timeoutMs`, then SIGKILL to its group, so no child (API workers, nginx workers) outlives it.
 */
export async function stopProcessGroup(pid: number, opts: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<'graceful' | 'killed' | 'absent'> {
  const stopped = await stopPid(pid, opts);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // group already gone
  }
  return stopped;
}

/** Stop a server whose start failed, so it never outlives the error. */
export async function abandonServer(proc: SpawnedProcess, opts: { detached?: boolean; signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<void> {
  const stop = { signal: opts.signal ?? 'SIGTERM', timeoutMs: opts.timeoutMs ?? 5000 };
  await (opts.detached ? stopProcessGroup(proc.pid, stop) : stopPid(proc.pid, stop));
}

/** The command line a process runs (empty when it is gone or unreadable). */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() : '';
  }
}

/** The pid listening on a loopback TCP port, if any can be found (/proc on Linux, else lsof). */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 is the socket's inode.
      if (f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A' && f[9]) inodes.add(f[9]);
    }
  }
  if (inodes.size > 0) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
          if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return Number(entry);
        } catch {
          // Closed meanwhile.
        }
      }
    }
    return undefined;
  }
  if (existsSync('/proc/net/tcp')) return undefined;
  const lsof = spawnSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-t'], { encoding: 'utf8' });
  const pid = Number(lsof.stdout?.split('\n')[0]);
  return lsof.status === 0 && pid > 0 ? pid : undefined;
}
