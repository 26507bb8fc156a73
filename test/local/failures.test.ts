/**
 * `apistack local up` when a service fails to start: the real CLI, real servers. The user gets
 * `error: <service> failed to start: ...` with the service's log and no stack trace, exit 1, and
 * nothing the run started is left: no process, no open port, no state.json.
 */
import type { SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import { isPortOpen, lastLines } from '../../lib/local/process.ts';
import { cli, stateDirFor } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

/**
 * Every process holding a file under `dir` open. Each server `up` starts writes its log into
 * the state directory through its stdout/stderr (API workers and Postgres backends inherit it),
 * so this finds every process a run started, and no one else's.
 */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith(`${dir}/`)) {
          found.push(`pid ${pid} holds ${target}`);
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

/** Every loopback port the run said it started something on (its `· starting ... on 127.0.0.1:N` lines). */
function announcedPorts(stderr: string): number[] {
  return [...stderr.matchAll(/on 127\.0\.0\.1:(\d+)(?:, metrics on (\d+))?/g)].flatMap((m) => [m[1], m[2]].filter((p) => p !== undefined).map(Number));
}

/**
 * The failure contract: exit 1; stderr is the progress lines, then the error, which starts with
 * `error: <service> failed to start: `, quotes the service's log, says what was stopped and
 * carries no stack trace; afterwards nothing of the run is left.
 */
async function expectCleanFailure(r: SpawnSyncReturns<string>, stateDir: string, service: RegExp, opts: { logFile: (service: string) => string; openPorts?: number[] }): Promise<string> {
  expect(r.error, 'the CLI finished within its time bound').toBeUndefined();
  expect(r.status, r.stderr).toBe(1);
  const at = r.stderr.search(/^error: /m);
  expect(at, r.stderr).toBeGreaterThanOrEqual(0);
  // Before the error only progress lines ("· ..."): the error is the first thing that is not one.
  for (const line of r.stderr.slice(0, at).split('\n').filter((l) => l !== '')) expect(line, r.stderr).toMatch(/^· /);
  const error = r.stderr.slice(at);
  expect(r.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
  const named = new RegExp(`^error: (${service.source}) failed to start: \\S`).exec(error);
  expect(named, error).not.toBeNull();
  const failed = named![1]!;
  // The last line the service logged is quoted.
  const logged = lastLines(opts.logFile(failed), 1)[0];
  expect(logged, `${opts.logFile(failed)} has a line`).toBeDefined();
  expect(error).toContain(`  | ${logged}`);
  expect(error).toMatch(/\nstopped everything `local up` had started \([a-z0-9, -]+\) and removed state\.json; nothing is left running\n?$/);

  expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
  expect(processesUsing(stateDir)).toEqual([]);
  const ports = announcedPorts(r.stderr).filter((p) => !(opts.openPorts ?? []).includes(p));
  expect(ports.length).toBeGreaterThan(0);
  for (const port of ports) expect(await isPortOpen(port), `port ${port}`).toBe(false);
  return error;
}

beforeAll(() => {
  ensureAppBundle(() => {});
}, 180_000);

describe('apistack local up when a service fails to start', () => {
  it('nginx: its entry port is taken by another process', async () => {
    const stateDir = stateDirFor('nginx-port', 'apistack-local-fail-');
    // Another program already listens on the port `up` is asked to use. nginx -t accepts the
    // config (it binds nothing); nginx itself then cannot bind, while the port looks open.
    const blocker: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--port', String(port), '--no-prometheus']);
      const error = await expectCleanFailure(r, stateDir, /nginx/, { logFile: () => join(stateDir, 'nginx', 'logs', 'error.log'), openPorts: [port] });
      expect(error).toContain(`error: nginx failed to start: bind() to 127.0.0.1:${port} failed`);
      expect(error).toContain(`another process listens on 127.0.0.1:${port}: stop it, or choose another --port`);
      expect(error).toMatch(/had started \(postgres, redis, api-0, api-1, nginx\)/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 240_000);

  it('an API replica that exits at start', async () => {
    const stateDir = stateDirFor('api-exits', 'apistack-local-fail-');
    // No profile makes the app exit at start: the app validates its whole configuration in
    // `migrate` too, so a value it refuses fails the migrations first (the next test). Here the
    // replica's process itself exits before it listens, as a crash at start would; a preload
    // does that to the API server only (not `migrate`, not the CLI, not the other servers).
    const preload = join(tempDir('apistack-preload-'), 'exit-at-start.cjs');
    writeFileSync(
      preload,
      `if ((process.argv[1] ?? '').endsWith('/dist/app/main.js') && process.argv[2] === undefined && !process.env.NODE_UNIQUE_ID) {
  process.stderr.write('fatal: the API cannot start (exit-at-start.cjs, a test preload)\\n');
  process.exit(3);
}
`,
    );
    const r = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus'], { ...process.env, NODE_OPTIONS: `--require=${preload}` });
    const error = await expectCleanFailure(r, stateDir, /api-\d+/, { logFile: (s) => join(stateDir, 'logs', `${s}.log`) });
    expect(error).toMatch(/^error: api-\d+ failed to start: API replica api-\d+ at http:\/\/127\.0\.0\.1:\d+\/readyz with 1 worker listening: the process exited with code 3 before it was ready\n/);
    expect(error).toContain('  | fatal: the API cannot start (exit-at-start.cjs, a test preload)');
    expect(error).toMatch(/had started \(postgres, redis, api-0, api-1\)/);
    expect(error).not.toContain('nginx');
  }, 240_000);

  it('migrations: the app refuses its configuration', async () => {
    const stateDir = stateDirFor('migrations', 'apistack-local-fail-');
    const r = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus'], { ...process.env, EVENT_BATCH_MAX: '0' });
    const error = await expectCleanFailure(r, stateDir, /migrations/, { logFile: () => join(stateDir, 'logs', 'migrations.log') });
    expect(error).toMatch(/^error: migrations failed to start: `node main\.js migrate` exited with code 1: invalid configuration \(1 problem\): - EVENT_BATCH_MAX="0" must be a whole number from 1 to 10000\n/);
    expect(error).toContain('  |   - EVENT_BATCH_MAX="0" must be a whole number from 1 to 10000');
    expect(error).toMatch(/had started \(postgres, redis\)/);
  }, 240_000);
});
