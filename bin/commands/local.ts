import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_STATE_DIR, localDown, localStatus, localUp } from '../../lib/local/env.ts';
import { restartReplica } from '../../lib/local/restart.ts';
import { DEFAULT_PROFILE, loadProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
export const APP_BUNDLE = join(repoRoot, 'dist', 'app', 'main.js');

/** The local target runs the same esbuild bundle as the image; build it once if it is missing. */
export function ensureAppBundle(log: (line: string) => void): string {
  if (existsSync(APP_BUNDLE)) return APP_BUNDLE;
  log('building the API bundle (npm run build:app)');
  const r = spawnSync('npm', ['run', '--silent', 'build:app'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(APP_BUNDLE)) throw new UserError('could not build the API bundle; run `npm run build:app` and read its errors');
  return APP_BUNDLE;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--port must be a whole number from 1 to 65535, got "${value}"`);
  return port;
}

export function registerLocalCommands(program: Command): void {
  const local = program.command('local').description('run the stack as real processes on loopback: Postgres, Redis, the API, nginx, Prometheus');

  local
    .command('up')
    .description('start every service, wait until ready, print the URLs and return')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('--state-dir <dir>', 'where data, logs, the rendered nginx.conf and pids live', DEFAULT_STATE_DIR)
    .option('--port <port>', 'nginx entry port (default: a free one)', parsePort)
    .option('--no-prometheus', 'do not start Prometheus even if installed')
    .action(async (opts: { profile: string; stateDir: string; port?: number; prometheus: boolean }) => {
      // Local Postgres is sized as the Kubernetes target's (max_connections from k8sMemoryLimitMiB); AWS networking does not apply.
      const profile = loadProfile(opts.profile, process.cwd(), { target: 'k8s' });
      const log = (line: string) => console.error(`· ${line}`);
      const appBundle = ensureAppBundle(log);
      const controller = new AbortController();
      const onSigint = () => {
        log('interrupted: stopping what was started');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      try {
        const state = await localUp({ profile, stateDir: opts.stateDir, appBundle, ...(opts.port ? { port: opts.port } : {}), prometheus: opts.prometheus, log, signal: controller.signal });
        console.log(`apistack local is up (profile ${state.profile})`);
        console.log(`  API via nginx:  ${state.url}`);
        if (state.prometheusUrl) console.log(`  Prometheus:     ${state.prometheusUrl}`);
        console.log(`  Postgres:       ${state.databaseUrl}`);
        console.log(`  Redis:          ${state.redisUrl}`);
        console.log(`  admin token:    in ${join(opts.stateDir, 'state.json')} (adminToken)`);
        console.log(`stop with: apistack local down --state-dir ${opts.stateDir}`);
      } finally {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });

  local
    .command('status')
    .description('show what runs')
    .option('--state-dir <dir>', 'state directory', DEFAULT_STATE_DIR)
    .option('--json', 'print JSON: {url, services:[{name, pid, port, ready}]}')
    .action(async (opts: { stateDir: string; json?: boolean }) => {
      const status = await localStatus(opts.stateDir);
      if (opts.json) return void console.log(JSON.stringify(status, null, 2));
      if (!status.running) return void console.log(`nothing runs from ${opts.stateDir}`);
      console.log(`profile ${status.profile}, entry ${status.url}${status.prometheusUrl ? `, Prometheus ${status.prometheusUrl}` : ''}`);
      for (const s of status.services) console.log(`  ${s.name.padEnd(12)} pid ${String(s.pid).padEnd(8)} port ${String(s.port).padEnd(6)} ${s.ready ? 'ready' : 'NOT READY'}`);
    });

  local
    .command('restart')
    .argument('<replica>', 'the API replica to restart, e.g. api-0 (see `local status`)')
    .description('rolling restart of one API replica with no failed request: out of nginx rotation, drain, start, back in')
    .option('--state-dir <dir>', 'state directory', DEFAULT_STATE_DIR)
    .action(async (replica: string, opts: { stateDir: string }) => {
      const started = Date.now();
      const state = await restartReplica(opts.stateDir, replica, { log: (line) => console.error(`· ${line}`) });
      const pid = state.services.find((s) => s.name === replica)?.pid;
      console.log(`restarted ${replica} (pid ${pid}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });

  local
    .command('down')
    .description('stop everything up started (gracefully, then forcefully) and remove its data')
    .option('--state-dir <dir>', 'state directory', DEFAULT_STATE_DIR)
    .option('--keep-data', 'keep the Postgres data, logs and config')
    .action(async (opts: { stateDir: string; keepData?: boolean }) => {
      const result = await localDown(opts.stateDir, { keepData: opts.keepData ?? false });
      if (result.stopped.length === 0) return void console.log(`nothing runs from ${opts.stateDir}`);
      console.log(`stopped ${result.stopped.join(', ')}${opts.keepData ? ' (data kept)' : ''}`);
      if (result.keptData.length > 0) throw new UserError(`kept ${result.keptData.join('; ')}: it did not stop; stop it and run \`apistack local down --state-dir ${opts.stateDir}\` again`);
      if (result.leftPorts.length > 0) throw new UserError(`ports still open after stopping: ${result.leftPorts.join(', ')}; another process may hold them`);
    });
}
