/**
 * The local environment: the same API bundle, nginx rendering and real Postgres, Redis, nginx
 * (and Prometheus when installed) as processes on loopback, started and stopped by
 * `apistack local up|status|down`. Everything it starts is recorded in the state directory,
 * so `down` (or a cleanup after a failed or interrupted `up`) stops exactly that.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { appEnvironment } from '../profile/app-env.ts';
import { UserError } from '../errors.ts';
import { profileData, type ResolvedProfile } from '../profile/load.ts';
import { renderNginxConfig } from '../../nginx/index.ts';
import { locateBinary, requireBinary } from './binaries.ts';
import { commandOf, freePort, isAlive, isPortOpen, lastLines, listeningPid, spawnServer, StartError, stopPid, stopProcessGroup, waitFor, logTail } from './process.ts';
import { startNginx, startPostgres, startRedis } from './services.ts';
import { APP_ROUTES, prometheusConfig, renderRulesYaml, renderYaml } from '../monitoring/index.ts';
import { apiReplicaReady, httpReady, spawnApiReplica } from './api-replica.ts';

export const DEFAULT_STATE_DIR = '.apistack/local';
const STATE_FILE = 'state.json';

export interface LocalService {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** Extra port (API metrics, nginx stub_status). */
  readonly adminPort?: number;
  /** How `down` asks it to stop gracefully. */
  readonly stopSignal: NodeJS.Signals;
  /** URL that answers 200 when the service is ready, if it speaks HTTP. */
  readonly readyUrl?: string;
  readonly logFile: string;
}

export interface LocalState {
  readonly profile: string;
  /** The resolved profile's own fields, so `local restart` renders nginx.conf exactly as `up` did. */
  readonly profileData?: Record<string, unknown>;
  /** The API bundle the replicas run. */
  readonly appBundle?: string;
  readonly startedAt: string;
  readonly url: string;
  readonly adminToken: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly prometheusUrl?: string;
  readonly services: LocalService[];
}

export interface LocalStatus {
  readonly running: boolean;
  readonly url?: string;
  readonly prometheusUrl?: string;
  readonly profile?: string;
  readonly services: { name: string; pid: number; port: number; ready: boolean }[];
}

export interface UpOptions {
  readonly profile: ResolvedProfile;
  readonly stateDir: string;
  /** The esbuild bundle of the API (dist/app/main.js). */
  readonly appBundle: string;
  /** nginx's public port; free one when omitted. */
  readonly port?: number;
  /** Start Prometheus when the binary is installed. @default true */
  readonly prometheus?: boolean;
  readonly log?: (line: string) => void;
  /** Aborted (Ctrl-C) during `up`: what started is stopped again. */
  readonly signal?: AbortSignal;
}

function statePath(stateDir: string): string {
  return join(stateDir, STATE_FILE);
}

export function readState(stateDir: string): LocalState | undefined {
  const file = statePath(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalState;
  } catch {
    throw new UserError(`${file} is not valid JSON; stop any apistack processes by hand and delete ${stateDir}`);
  }
}

export function writeState(stateDir: string, state: LocalState): void {
  // Write-then-rename so a crash never leaves a half-written state file.
  const tmp = `${statePath(stateDir)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, statePath(stateDir));
}

/**
 * A service of `local up` did not start (not a bug: a port in use, a config nginx refuses, a
 * replica that exits). What `up` had started is stopped by then; the message says so.
 */
export class LocalStartError extends UserError {
  constructor(
    /** postgres, redis, migrations, api-N, nginx or prometheus. */
    readonly service: string,
    /** What went wrong, in one line. */
    readonly reason: string,
    /** The service's log, whose last lines the message shows. */
    readonly logFile: string | undefined,
    /** Every service stopped again, in start order (the failed one included). */
    readonly stopped: readonly string[],
    /** What became of the environment, when it is not "everything was stopped" (a restart). */
    outcome?: string,
  ) {
    super(startFailureMessage(service, reason, logFile, stopped, outcome));
  }
}

function startFailureMessage(service: string, reason: string, logFile: string | undefined, stopped: readonly string[], outcome?: string): string {
  // Log lines are quoted with a "| " prefix, so a stack trace a server logged is not taken for ours.
  const tail = lastLines(logFile, 15);
  return [
    `${service} failed to start: ${reason}`,
    ...(tail.length > 0 ? [`last lines of ${logFile}:`, ...tail.map((l) => `  | ${l}`)] : logFile ? [`(${logFile} is empty)`] : []),
    outcome ?? `stopped everything \`local up\` had started (${stopped.join(', ')}) and removed state.json; nothing is left running`,
  ].join('\n');
}

/** A StartError of one service, on its way to localUp's cleanup. */
class ServiceFailed extends Error {
  constructor(
    readonly service: string,
    readonly failure: StartError,
  ) {
    super(`${service}: ${failure.message}`);
  }
}

/** Run one service's start; its StartError becomes that service's failure. */
async function starting<T>(service: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw e instanceof StartError ? new ServiceFailed(service, e) : e;
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new UserError('interrupted: stopped everything that `local up` had started');
}

/** Start the whole stack; returns once every service is ready. */
export async function localUp(opts: UpOptions): Promise<LocalState> {
  const log = opts.log ?? (() => {});
  const stateDir = resolve(opts.stateDir);
  const existing = readState(stateDir);
  if (existing) {
    const alive = existing.services.filter((s) => isAlive(s.pid));
    if (alive.length > 0) {
      throw new UserError(
        `the local environment in ${stateDir} is already running (${alive.map((s) => `${s.name} pid ${s.pid}`).join(', ')}) at ${existing.url}; ` +
          `run \`apistack local down --state-dir ${opts.stateDir}\` first, or use another --state-dir`,
      );
    }
    // A stale state file from a crashed run: nothing of it lives on.
    rmSync(statePath(stateDir), { force: true });
  }
  // Every binary before anything starts, so a missing one leaves nothing behind.
  for (const bin of ['postgres', 'initdb', 'pg_isready', 'psql', 'redis-server', 'nginx'] as const) requireBinary(bin);
  if (!existsSync(opts.appBundle)) {
    throw new UserError(`the API bundle ${opts.appBundle} does not exist; build it with \`npm run build:app\``);
  }
  mkdirSync(stateDir, { recursive: true });

  const startup = new Startup(opts, stateDir);
  try {
    const pg = await startup.postgres();
    const redis = await startup.redis();
    const secrets: ReplicaSecrets = { DATABASE_URL: pg.url, REDIS_URL: redis.url, ADMIN_TOKEN: startup.state.adminToken };
    mkdirSync(join(stateDir, 'logs'), { recursive: true });
    await startup.migrations(secrets);
    const apiPorts = await startup.apiReplicas(secrets);
    await startup.nginx(apiPorts);
    await startup.prometheus();
    writeState(stateDir, startup.state);
    return startup.state;
  } catch (e) {
    log('start failed: stopping what was started');
    const { services } = startup.state;
    await stopServices(services);
    rmSync(statePath(stateDir), { force: true });
    if (opts.signal?.aborted) throw new UserError('interrupted: stopped everything that `local up` had started');
    if (e instanceof ServiceFailed) {
      // The failed service's own process was stopped by its start (or is among `services`).
      const stopped = services.map((s) => s.name);
      if (!stopped.includes(e.service) && e.service !== 'migrations') stopped.push(e.service);
      throw new LocalStartError(e.service, e.failure.reason, e.failure.logFile, stopped);
    }
    throw e;
  }
}

/** What the API replicas (and their migrations) are given besides the profile. */
type ReplicaSecrets = { DATABASE_URL: string; REDIS_URL: string; ADMIN_TOKEN: string };

/**
 * One `local up`, service by service in dependency order: each step starts its service, waits
 * until it is ready, and records it in the state file at once, so a failure (or Ctrl-C) later on
 * stops exactly what was started.
 */
class Startup {
  state: LocalState & { services: LocalService[] };
  private readonly p: ResolvedProfile;
  private readonly log: (line: string) => void;

  constructor(
    private readonly opts: UpOptions,
    private readonly stateDir: string,
  ) {
    this.p = opts.profile;
    this.log = opts.log ?? (() => {});
    this.state = {
      profile: this.p.name,
      profileData: profileData(this.p),
      appBundle: resolve(opts.appBundle),
      startedAt: new Date().toISOString(),
      url: '',
      adminToken: randomBytes(24).toString('hex'),
      databaseUrl: '',
      redisUrl: '',
      services: [],
    };
  }

  /** Record a started service (and what the state learnt with it), then stop if interrupted. */
  private record(service: LocalService, learnt: Partial<LocalState> = {}): void {
    this.state = { ...this.state, ...learnt };
    this.state.services.push(service);
    writeState(this.stateDir, this.state);
  }

  async postgres(): Promise<{ url: string }> {
    const port = await freePort();
    this.log(`starting Postgres on 127.0.0.1:${port}`);
    // Sized as the Kubernetes target's Postgres: max_connections from postgres.k8sMemoryLimitMiB.
    const pg = await starting('postgres', () => startPostgres({ dir: join(this.stateDir, 'postgres'), port, detached: true, settings: { max_connections: this.p.derived.postgres.maxConnectionsKubernetes } }));
    this.record({ name: 'postgres', pid: pg.pid, port: pg.port, stopSignal: 'SIGINT', logFile: pg.logFile }, { databaseUrl: pg.url });
    checkAborted(this.opts.signal);
    return pg;
  }

  async redis(): Promise<{ url: string }> {
    const port = await freePort();
    this.log(`starting Redis on 127.0.0.1:${port}`);
    const redis = await starting('redis', () =>
      startRedis({ dir: join(this.stateDir, 'redis'), port, detached: true, maxmemoryMiB: this.p.derived.redis.maxmemoryMiB, maxmemoryPolicy: this.p.redis.maxmemoryPolicy }),
    );
    this.record({ name: 'redis', pid: redis.pid, port: redis.port, stopSignal: 'SIGTERM', logFile: redis.logFile }, { redisUrl: redis.url });
    checkAborted(this.opts.signal);
    return redis;
  }

  /** The API bundle's own `migrate`, once, before any replica starts; its output is this step's log. */
  async migrations(secrets: ReplicaSecrets): Promise<void> {
    const { appBundle } = this.opts;
    this.log('applying database migrations');
    await starting('migrations', () => {
      const migrateTimeoutMs = 60_000;
      const migrate = spawnSync(process.execPath, [appBundle, 'migrate'], {
        env: { ...process.env, ...appEnvironment(this.p, { host: '127.0.0.1' }), ...secrets },
        encoding: 'utf8',
        timeout: migrateTimeoutMs,
      });
      // Kept with the other logs, and shown when it failed.
      const logFile = join(this.stateDir, 'logs', 'migrations.log');
      writeFileSync(logFile, `${migrate.stdout ?? ''}${migrate.stderr ?? ''}`);
      const command = `node ${basename(appBundle)} migrate`;
      if (migrate.error && (migrate.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new StartError(`\`${command}\` did not finish within ${migrateTimeoutMs / 1000} s`, logFile);
      if (migrate.error) throw new StartError(`could not run \`${command}\`: ${migrate.error.message}`, logFile);
      if (migrate.status !== 0) {
        const how = migrate.status === null ? `was killed by ${migrate.signal}` : `exited with code ${migrate.status}`;
        // Its first line, with the next when the first only introduces it ("invalid configuration (1 problem):").
        const lines = `${migrate.stderr || migrate.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
        const said = lines[0]?.endsWith(':') && lines[1] ? `${lines[0]} ${lines[1]}` : lines[0];
        throw new StartError(`\`${command}\` ${how}${said ? `: ${said}` : ''}`, logFile);
      }
    });
  }

  /** api.replicasMin replicas, spawned one after the other and awaited together; returns their ports. */
  async apiReplicas(secrets: ReplicaSecrets): Promise<number[]> {
    const p = this.p;
    // When one replica fails, the others stop waiting (they are stopped with the rest).
    const replicaWaits = new AbortController();
    const replicaSignal = this.opts.signal ? AbortSignal.any([this.opts.signal, replicaWaits.signal]) : replicaWaits.signal;
    const apiPorts: number[] = [];
    const replicasReady: Promise<void>[] = [];
    try {
      for (let i = 0; i < p.api.replicasMin; i++) {
        const port = await freePort();
        const metricsPort = await freePort();
        const logFile = join(this.stateDir, 'logs', `api-${i}.log`);
        const replica = { profile: p, appBundle: this.opts.appBundle, secrets, port, metricsPort, logFile };
        const proc = await starting(`api-${i}`, () => spawnApiReplica(replica));
        apiPorts.push(port);
        this.record({ name: `api-${i}`, pid: proc.pid, port, adminPort: metricsPort, stopSignal: 'SIGTERM', readyUrl: `http://127.0.0.1:${port}${APP_ROUTES.readiness}`, logFile });
        this.log(`starting API replica ${i} (${p.derived.api.workersPerReplica} workers) on 127.0.0.1:${port}, metrics on ${metricsPort}`);
        const ready = starting(`api-${i}`, () => apiReplicaReady(`api-${i}`, proc, replica, replicaSignal));
        // Handled at once: a replica failing while later ones are still spawned is not an
        // unhandled rejection (Promise.all below still receives it).
        ready.catch(() => {});
        replicasReady.push(ready);
      }
      await Promise.all(replicasReady);
    } finally {
      replicaWaits.abort();
    }
    checkAborted(this.opts.signal);
    return apiPorts;
  }

  /** nginx, least_conn over the replicas, on the entry port (--port, or a free one). */
  async nginx(apiPorts: number[]): Promise<void> {
    const nginxDir = join(this.stateDir, 'nginx');
    const listenPort = this.opts.port ?? (await freePort());
    const statusPort = await freePort();
    this.log(`starting nginx (least_conn over ${apiPorts.length} replicas) on 127.0.0.1:${listenPort}`);
    const configText = renderNginxConfig(this.p, { kind: 'local', listenPort, statusPort, upstreamPorts: apiPorts, prefixDir: nginxDir });
    const nginx = await starting('nginx', async () => {
      try {
        return await startNginx({ dir: nginxDir, port: listenPort, configText, waitPorts: [listenPort, statusPort], detached: true });
      } catch (e) {
        // The entry port is the one a user picks (--port), so the one likely taken: say what to do.
        if (e instanceof StartError && e.reason.includes(`127.0.0.1:${listenPort} `) && /in use/i.test(e.reason)) {
          throw new StartError(`${e.reason}; another process listens on 127.0.0.1:${listenPort}: stop it, or choose another --port`, e.logFile);
        }
        throw e;
      }
    });
    const url = `http://127.0.0.1:${listenPort}`;
    this.record({ name: 'nginx', pid: nginx.pid, port: listenPort, adminPort: statusPort, stopSignal: 'SIGQUIT', readyUrl: `${url}${APP_ROUTES.readiness}`, logFile: nginx.logFile }, { url });
    checkAborted(this.opts.signal);
  }

  /** Prometheus scraping the replicas with the rules every target loads, when installed (and not --no-prometheus). */
  async prometheus(): Promise<void> {
    const prometheusBin = this.opts.prometheus === false ? undefined : locateBinary('prometheus');
    if (!prometheusBin) {
      if (this.opts.prometheus !== false) this.log('prometheus not installed: skipping it (install the Debian package prometheus to get local metrics)');
      return;
    }
    const p = this.p;
    const promPort = await freePort();
    const promDir = join(this.stateDir, 'prometheus');
    mkdirSync(join(promDir, 'data'), { recursive: true });
    const metricsTargets = this.state.services.filter((s) => s.name.startsWith('api-')).map((s) => `127.0.0.1:${s.adminPort}`);
    // Prometheus refuses to start if the rules are invalid.
    writeFileSync(join(promDir, 'rules.yml'), renderRulesYaml(p));
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      renderYaml(prometheusConfig(p, { kind: 'local', apiMetricsTargets: metricsTargets, prometheusTarget: `127.0.0.1:${promPort}` }, { ruleFiles: [join(promDir, 'rules.yml')] })),
    );
    const logFile = join(promDir, 'prometheus.log');
    const proc = await starting('prometheus', () =>
      spawnServer(
        prometheusBin,
        [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--storage.tsdb.retention.time=1d'],
        { logFile, detached: true },
      ),
    );
    const readyUrl = `http://127.0.0.1:${promPort}/-/ready`;
    this.record({ name: 'prometheus', pid: proc.pid, port: promPort, stopSignal: 'SIGTERM', readyUrl, logFile });
    await starting('prometheus', () =>
      waitFor(`Prometheus at ${readyUrl}`, () => httpReady(readyUrl), { timeoutMs: 60_000, logFile, alive: () => isAlive(proc.pid), child: proc.child, signal: this.opts.signal }),
    );
    this.state = { ...this.state, prometheusUrl: `http://127.0.0.1:${promPort}` };
  }
}

/** Stop in reverse start order: gracefully by pid, then the whole process group forcefully. */
async function stopServices(services: readonly LocalService[], timeoutMs = 20_000): Promise<void> {
  for (const s of [...services].reverse()) {
    await stopProcessGroup(s.pid, { signal: s.stopSignal, timeoutMs });
  }
}

export async function localStatus(stateDir: string): Promise<LocalStatus> {
  const state = readState(resolve(stateDir));
  if (!state) return { running: false, services: [] };
  const services = await Promise.all(
    state.services.map(async (s) => {
      const alive = isAlive(s.pid);
      const ready = alive && (s.readyUrl ? await httpReady(s.readyUrl) : await isPortOpen(s.port));
      return { name: s.name, pid: s.pid, port: s.port, ready };
    }),
  );
  return {
    running: services.some((s) => isAlive(s.pid)),
    url: state.url,
    profile: state.profile,
    ...(state.prometheusUrl ? { prometheusUrl: state.prometheusUrl } : {}),
    services,
  };
}

export interface DownResult {
  readonly stopped: string[];
  readonly leftPorts: number[];
  /** Data directories left in place because a server still runs on them: what runs, and where. */
  readonly keptData: string[];
}

/** The command a data server of ours runs, to recognise one started again by hand. */
const SERVER_COMMANDS: Record<string, RegExp> = { postgres: /(^|\/)postgres(\s|$)/, redis: /(^|\/)redis-server(\s|$)/ };

/**
 * The Postgres or Redis serving this environment's data now, when it is not the process `up`
 * started (one started again by hand): Postgres by its data directory's postmaster.pid, Redis by
 * what listens on its port (only if it is a redis-server).
 */
function serverRunningOn(dir: string, s: LocalService): number | undefined {
  if (s.name === 'postgres') {
    const pidFile = join(dir, 'postgres', 'pgdata', 'postmaster.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
    if (pid > 0 && isAlive(pid)) return pid;
  }
  const command = SERVER_COMMANDS[s.name];
  if (!command) return undefined;
  const pid = listeningPid(s.port);
  return pid !== undefined && command.test(commandOf(pid)) ? pid : undefined;
}

/** Stop everything `up` started; remove data unless keepData. */
export async function localDown(stateDir: string, opts: { keepData?: boolean; timeoutMs?: number } = {}): Promise<DownResult> {
  const dir = resolve(stateDir);
  const state = readState(dir);
  if (!state) return { stopped: [], leftPorts: [], keptData: [] };
  await stopServices(state.services, opts.timeoutMs);
  // A Postgres or Redis restarted by hand (after a crash, a test of a fault) has a pid `up`
  // never saw; it serves this environment's data all the same.
  for (const s of state.services) {
    const pid = serverRunningOn(dir, s);
    if (pid !== undefined) await stopPid(pid, { signal: s.stopSignal, timeoutMs: opts.timeoutMs ?? 20_000 });
  }
  const ports = state.services.flatMap((s) => [s.port, ...(s.adminPort ? [s.adminPort] : [])]);
  const leftPorts: number[] = [];
  for (const port of ports) if (await isPortOpen(port)) leftPorts.push(port);
  // Never delete a data directory under a server that still runs on it.
  const keptData: string[] = [];
  const running = new Map(state.services.flatMap((s) => {
    const pid = serverRunningOn(dir, s);
    return pid === undefined ? [] : [[s.name, pid] as const];
  }));
  for (const [name, pid] of running) keptData.push(`${join(dir, name)} (${name} pid ${pid} still runs on it)`);
  if (running.size === 0) rmSync(statePath(dir), { force: true });
  if (!opts.keepData) {
    for (const sub of ['postgres', 'redis', 'prometheus', 'nginx', 'logs']) if (!running.has(sub)) rmSync(join(dir, sub), { recursive: true, force: true });
  }
  return { stopped: state.services.map((s) => s.name), leftPorts, keptData };
}

export { logTail };
