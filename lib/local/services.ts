/**
 * Real Postgres, Redis and nginx servers on loopback, in a directory of their own.
 * Used by `apistack local` (detached, long-lived) and by the tests (temporary, always stopped).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { connect } from 'node:net';
import { requireBinary } from './binaries.ts';
import { abandonServer, isAlive, isPortOpen, spawnServer, StartError, stopPid, waitFor, logTail } from './process.ts';

export interface ServerHandle {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly dir: string;
  readonly logFile: string;
  /** Stop gracefully, then forcefully after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

interface CommonOptions {
  /** Directory the server owns (data, sockets, logs). Created if missing. */
  readonly dir: string;
  readonly port: number;
  /** Outlive this process (the local environment). @default false */
  readonly detached?: boolean;
  readonly readyTimeoutMs?: number;
}

/** Postgres refuses to run as root; when we are root, run it as the `postgres` user. */
function postgresIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = parseInt(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }), 10);
    const gid = parseInt(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }), 10);
    return { uid, gid };
  } catch {
    throw new StartError('running as root, but there is no "postgres" user to run Postgres as; install the Debian package postgresql (it creates the user)');
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

export interface PostgresOptions extends CommonOptions {
  readonly user?: string;
  readonly database?: string;
  /** Extra `-c name=value` settings, e.g. { fsync: 'off' } for throwaway test clusters. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

export interface PostgresHandle extends ServerHandle {
  /** The current server process; changes when start() runs again. */
  readonly pid: number;
  readonly url: string;
  readonly dataDir: string;
  /** Start again on the same port and data directory (after stop or kill); updates this handle. */
  start(): Promise<PostgresHandle>;
}

/** initdb (once) and start a Postgres cluster on 127.0.0.1:port, trust auth on loopback only. */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresHandle> {
  const postgres = requireBinary('postgres');
  const initdb = requireBinary('initdb');
  const pgIsReady = requireBinary('pg_isready');
  const user = opts.user ?? 'postgres';
  const database = opts.database ?? 'apistack';
  const dataDir = join(opts.dir, 'pgdata');
  const logFile = join(opts.dir, 'postgres.log');
  const identity = postgresIdentity();
  mkdirSync(opts.dir, { recursive: true });
  // The postgres user must be able to reach its data directory through ours.
  if (identity) {
    chmodSync(opts.dir, 0o755);
    const reachable = spawnSync('test', ['-x', opts.dir], { ...identity }).status === 0;
    if (!reachable) {
      throw new StartError(`Postgres runs as the postgres user, which cannot reach ${opts.dir}; use a state directory whose parent directories are world-searchable (chmod o+x), e.g. under the project or /tmp`);
    }
  }

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (identity) chownTree(dataDir, identity.uid, identity.gid);
    const init = spawnSync(initdb, ['-D', dataDir, '-U', user, '-A', 'trust', '-E', 'UTF8', '--no-instructions', '--locale=C'], {
      encoding: 'utf8',
      ...(identity ?? {}),
    });
    if (init.status !== 0) {
      // Its output is the log of this step: kept next to the data directory, shown in the error.
      const initLog = join(opts.dir, 'initdb.log');
      writeFileSync(initLog, `${init.stdout ?? ''}${init.stderr ?? ''}${init.error ? `${init.error.message}\n` : ''}`);
      throw new StartError(`initdb failed (exit ${init.status ?? init.signal ?? init.error?.message}): ${firstLine(init.stderr || init.stdout)}`, initLog);
    }
  }
  writeFileSync(logFile, '', { flag: 'a' });
  if (identity) chownSync(logFile, identity.uid, identity.gid);

  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port: opts.port,
    unix_socket_directories: dataDir,
    max_connections: 200,
    ...opts.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const url = `postgres://${user}@127.0.0.1:${opts.port}/${database}`;

  const handle = {
    name: 'postgres',
    pid: 0,
    port: opts.port,
    dir: opts.dir,
    dataDir,
    logFile,
    url,
    // SIGINT is Postgres's "fast shutdown": roll back open transactions and exit cleanly.
    stop: async (timeoutMs = 15_000) => void (await stopPid(handle.pid, { signal: 'SIGINT', timeoutMs })),
    start: async (): Promise<PostgresHandle> => {
      const proc = spawnServer(postgres, args, { logFile, detached: opts.detached, ...(identity ?? {}) });
      handle.pid = proc.pid;
      const ready = () => spawnSync(pgIsReady, ['-h', '127.0.0.1', '-p', String(opts.port), '-U', user, '-d', 'postgres', '-q']).status === 0;
      try {
        await waitFor(`Postgres on 127.0.0.1:${opts.port}`, ready, { timeoutMs: opts.readyTimeoutMs ?? 60_000, logFile, alive: () => isAlive(proc.pid) && proc.child.exitCode === null, child: proc.child });
        createDatabase(opts.port, user, database, logFile);
      } catch (e) {
        // A server that did not start must not outlive the error: no caller knows its pid yet.
        await abandonServer(proc, { detached: opts.detached, signal: 'SIGINT' });
        throw e;
      }
      return handle;
    },
  };
  return handle.start();
}

function createDatabase(port: number, user: string, database: string, logFile: string): void {
  const psql = requireBinary('psql');
  const base = ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres'];
  const exists = spawnSync(psql, [...base, '-tAc', `SELECT 1 FROM pg_database WHERE datname = '${database}'`], { encoding: 'utf8' });
  if (exists.stdout.trim() === '1') return;
  const created = spawnSync(psql, [...base, '-c', `CREATE DATABASE "${database}"`], { encoding: 'utf8' });
  if (created.status !== 0) throw new StartError(`could not create database ${database}: ${firstLine(created.stderr)}`, logFile);
}

export interface RedisOptions extends CommonOptions {
  readonly password?: string;
  readonly maxmemoryMiB?: number;
  readonly maxmemoryPolicy?: string;
}

export interface RedisHandle extends ServerHandle {
  readonly url: string;
  start(): Promise<RedisHandle>;
}

function redisPing(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let buffer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (buffer.includes('+PONG')) done(true);
      else if (buffer.includes('-')) done(false);
    });
  });
}

/** Start redis-server on 127.0.0.1:port without persistence. */
export async function startRedis(opts: RedisOptions): Promise<RedisHandle> {
  const bin = requireBinary('redis-server');
  mkdirSync(opts.dir, { recursive: true });
  const logFile = join(opts.dir, 'redis.log');
  const args = [
    '--port', String(opts.port),
    '--bind', '127.0.0.1',
    '--dir', opts.dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--protected-mode', 'yes',
    ...(opts.password ? ['--requirepass', opts.password] : []),
    ...(opts.maxmemoryMiB ? ['--maxmemory', `${opts.maxmemoryMiB}mb`] : []),
    ...(opts.maxmemoryPolicy ? ['--maxmemory-policy', opts.maxmemoryPolicy] : []),
  ];
  const url = `redis://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ''}127.0.0.1:${opts.port}`;
  const handle = {
    name: 'redis',
    pid: 0,
    port: opts.port,
    dir: opts.dir,
    logFile,
    url,
    stop: async (timeoutMs = 10_000) => void (await stopPid(handle.pid, { timeoutMs })),
    start: async (): Promise<RedisHandle> => {
      const proc = spawnServer(bin, args, { logFile, detached: opts.detached });
      handle.pid = proc.pid;
      try {
        await waitFor(`Redis on 127.0.0.1:${opts.port}`, () => redisPing(opts.port, opts.password), {
          timeoutMs: opts.readyTimeoutMs ?? 20_000,
          logFile,
          alive: () => isAlive(proc.pid) && proc.child.exitCode === null,
          child: proc.child,
        });
      } catch (e) {
        await abandonServer(proc, { detached: opts.detached });
        throw e;
      }
      return handle;
    },
  };
  return handle.start();
}

export interface NginxOptions extends CommonOptions {
  /** A complete nginx.conf without a `daemon` directive; paths may be relative to `dir` (the prefix). */
  readonly configText: string;
  /** Every port the config listens on; ready when all accept connections. @default [port] */
  readonly waitPorts?: readonly number[];
}

/** `nginx -t` on a config: the result, with nginx's own words. */
export function testNginxConfig(dir: string, configText: string): { ok: boolean; output: string } {
  const bin = requireBinary('nginx');
  prepareNginxPrefix(dir, configText);
  const r = spawnSync(bin, ['-t', '-q', '-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

function prepareNginxPrefix(dir: string, configText: string): void {
  for (const sub of ['', 'logs', 'temp']) {
    mkdirSync(join(dir, sub), { recursive: true });
    // Worker processes may run as an unprivileged user; they write temp files here.
    chmodSync(join(dir, sub), 0o777);
  }
  writeFileSync(join(dir, 'nginx.conf'), configText);
}

/** The `pid` file a config names (main context only), resolved against the prefix `dir`. */
function nginxPidFile(configText: string, dir: string): string | undefined {
  const path = /^\s*pid\s+([^;\s]+)\s*;/m.exec(configText)?.[1];
  return path === undefined ? undefined : isAbsolute(path) ? path : join(dir, path);
}

function readPid(file: string): number | undefined {
  try {
    return parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    return undefined;
  }
}

/** The first `[emerg]` nginx logged after `offset` bytes of its error log, without the timestamp and pid prefix. */
function nginxEmergency(errorLog: string, offset: number): string | undefined {
  if (!existsSync(errorLog)) return undefined;
  const line = readFileSync(errorLog).subarray(offset).toString('utf8').split('\n').find((l) => l.includes('[emerg]'));
  return line?.replace(/^.*?\[emerg\]\s*(\d+#\d+:\s*)?/, '').trim();
}

function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

function firstLine(text: string | null | undefined): string {
  return (text ?? '').split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '(no output)';
}

/**
 * Validate with `nginx -t`, then run nginx in the foreground of its own process. Ready when it
 * wrote its pid file (nginx does that only once every listen socket is bound) and every port
 * answers: an open port alone may belong to another process holding it. An `[emerg]` in the
 * error log (a port in use) fails at once, and the nginx that failed is stopped.
 */
export async function startNginx(opts: NginxOptions): Promise<ServerHandle> {
  const bin = requireBinary('nginx');
  const errorLog = join(opts.dir, 'logs', 'error.log');
  const test = testNginxConfig(opts.dir, opts.configText);
  if (!test.ok) {
    const problem = test.output.split('\n').find((l) => l.includes('[emerg]'))?.replace(/^nginx:\s*\[emerg\]\s*/, '') ?? firstLine(test.output);
    throw new StartError(`nginx -t rejected ${opts.dir}/nginx.conf: ${problem}`, existsSync(errorLog) && fileSize(errorLog) > 0 ? errorLog : undefined);
  }
  const logFile = join(opts.dir, 'logs', 'nginx.out.log');
  const pidFile = nginxPidFile(opts.configText, opts.dir);
  const errorLogOffset = fileSize(errorLog);
  const proc = spawnServer(bin, ['-p', `${opts.dir}/`, '-c', join(opts.dir, 'nginx.conf'), '-e', errorLog, '-g', 'daemon off;'], {
    logFile,
    detached: opts.detached,
  });
  const ports = opts.waitPorts ?? [opts.port];
  const ready = async () => {
    const emergency = nginxEmergency(errorLog, errorLogOffset);
    if (emergency) throw new StartError(emergency, errorLog);
    if (pidFile !== undefined && readPid(pidFile) !== proc.pid) return false;
    return (await Promise.all(ports.map((p) => isPortOpen(p)))).every(Boolean);
  };
  try {
    await waitFor(`nginx on 127.0.0.1:${ports.join(',')}`, ready, {
      timeoutMs: opts.readyTimeoutMs ?? 20_000,
      logFile: errorLog,
      alive: () => isAlive(proc.pid) && proc.child.exitCode === null,
      child: proc.child,
    });
  } catch (e) {
    await abandonServer(proc, { detached: opts.detached });
    throw e;
  }
  return {
    name: 'nginx',
    pid: proc.pid,
    port: opts.port,
    dir: opts.dir,
    logFile: errorLog,
    // SIGQUIT is nginx's graceful shutdown: finish open requests, then exit.
    stop: async (timeoutMs = 10_000) => void (await stopPid(proc.pid, { signal: 'SIGQUIT', timeoutMs })),
  };
}

export { logTail };
