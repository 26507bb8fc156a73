/**
 * Test helpers that start real servers on free loopback ports in temporary directories and
 * always stop them. A missing binary fails with the package to install, never a silent skip.
 *
 *   const pg = usePostgres();   // in a describe(): started in beforeAll, stopped in afterAll
 *   it('...', async () => { const url = pg().url; });
 *   const nginx = await startTestNginx((port, dir) => confText); ... await nginx.cleanup();
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { httpReady } from '../../lib/local/api-replica.ts';
import { requireBinary, type BinaryName } from '../../lib/local/binaries.ts';
import { freePort, isAlive, spawnServer, stopPid, waitFor } from '../../lib/local/process.ts';
import {
  startNginx,
  startPostgres,
  startRedis,
  testNginxConfig,
  type PostgresHandle,
  type PostgresOptions,
  type RedisHandle,
  type RedisOptions,
  type ServerHandle,
} from '../../lib/local/services.ts';

export { freePort };

const liveDirs = new Set<string>();
const livePids = new Set<number>();

// If a suite dies before its afterAll, do not leave servers behind.
process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory removed when the process exits (or by the returned cleanup). */
export function tempDir(prefix = 'apistack-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/** The binary's path; throws with the package to install when missing (under CI=true and everywhere else). */
export function needBinary(name: BinaryName): string {
  return requireBinary(name);
}

/** Remember the handle's pids so an abrupt exit still kills them. */
function track<T extends ServerHandle & { start?: () => Promise<unknown> }>(handle: T): T {
  livePids.add(handle.pid);
  const stop = handle.stop.bind(handle);
  const start = handle.start?.bind(handle);
  Object.assign(handle, {
    stop: async (timeoutMs?: number) => {
      const pid = handle.pid;
      await stop(timeoutMs);
      livePids.delete(pid);
    },
  });
  if (start) {
    Object.assign(handle, {
      start: async () => {
        await start();
        livePids.add(handle.pid);
        return handle;
      },
    });
  }
  return handle;
}

/** Start a throwaway Postgres (fsync off: test data need not survive a crash of the machine). */
export async function startTestPostgres(opts: Partial<PostgresOptions> = {}): Promise<PostgresHandle & { cleanup(): Promise<void> }> {
  const dir = opts.dir ?? tempDir('apistack-pg-');
  const port = opts.port ?? (await freePort());
  const handle = track(await startPostgres({ ...opts, dir, port, settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...opts.settings } }));
  return Object.assign(handle, {
    cleanup: async () => {
      await handle.stop();
      removeTempDir(dir);
    },
  });
}

export async function startTestRedis(opts: Partial<RedisOptions> = {}): Promise<RedisHandle & { cleanup(): Promise<void> }> {
  const dir = opts.dir ?? tempDir('apistack-redis-');
  const port = opts.port ?? (await freePort());
  const handle = track(await startRedis({ ...opts, dir, port }));
  return Object.assign(handle, {
    cleanup: async () => {
      await handle.stop();
      removeTempDir(dir);
    },
  });
}

/** Start nginx with a config rendered for the given free port. */
export async function startTestNginx(
  render: (port: number, dir: string) => string,
  opts: { port?: number; waitPorts?: number[] } = {},
): Promise<ServerHandle & { url: string; cleanup(): Promise<void> }> {
  const dir = tempDir('apistack-nginx-');
  const port = opts.port ?? (await freePort());
  const handle = track(await startNginx({ dir, port, configText: render(port, dir), waitPorts: opts.waitPorts ?? [port] }));
  return Object.assign(handle, {
    url: `http://127.0.0.1:${port}`,
    cleanup: async () => {
      await handle.stop();
      removeTempDir(dir);
    },
  });
}

/** `nginx -t` on a config text in a temporary prefix. */
export function nginxConfigTest(configText: string): { ok: boolean; output: string } {
  const dir = tempDir('apistack-nginx-t-');
  try {
    return testNginxConfig(dir, configText);
  } finally {
    removeTempDir(dir);
  }
}

/** Run promtool with args in `cwd`; returns its exit code and output. */
export function promtool(args: string[], cwd?: string): { code: number; output: string } {
  const bin = requireBinary('promtool');
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/**
 * Start Prometheus on a free loopback port over an existing TSDB directory (for example one that
 * `promtool tsdb create-blocks-from openmetrics` wrote), scraping nothing; `args` adds flags (the
 * remote-write receiver, feature flags).
 */
export async function startTestPrometheus(opts: { tsdbDir: string; args?: readonly string[] }): Promise<{ url: string; pid: number; cleanup(): Promise<void> }> {
  const bin = requireBinary('prometheus');
  const dir = tempDir('apistack-prometheus-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  const logFile = join(dir, 'prometheus.log');
  const proc = spawnServer(bin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${opts.tsdbDir}`, `--web.listen-address=127.0.0.1:${port}`, ...(opts.args ?? [])], { logFile });
  livePids.add(proc.pid);
  const cleanup = async () => {
    await stopPid(proc.pid, { timeoutMs: 10_000 });
    livePids.delete(proc.pid);
    removeTempDir(dir);
  };
  try {
    await waitFor(`Prometheus at ${url}`, () => httpReady(`${url}/-/ready`), { timeoutMs: 60_000, intervalMs: 200, logFile, alive: () => isAlive(proc.pid), child: proc.child });
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { url, pid: proc.pid, cleanup };
}

type Started<T> = () => T;

function useServer<T extends { cleanup(): Promise<void> }>(start: () => Promise<T>): Started<T> {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.cleanup();
  });
  return () => {
    if (!server) throw new Error('server not started yet: call the accessor inside a test or a later hook');
    return server;
  };
}

/** Register a Postgres for the enclosing describe(): started in beforeAll, stopped in afterAll. Call the accessor inside tests. */
export function usePostgres(opts: Partial<PostgresOptions> = {}): Started<Awaited<ReturnType<typeof startTestPostgres>>> {
  return useServer(() => startTestPostgres(opts));
}

export function useRedis(opts: Partial<RedisOptions> = {}): Started<Awaited<ReturnType<typeof startTestRedis>>> {
  return useServer(() => startTestRedis(opts));
}
