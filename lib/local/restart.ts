/**
 * `apistack local restart api-N`: a rolling restart of one API replica with no failed request.
 *
 * The drain order every target follows (docs/holding-load.md: "Draining without resets"): stop being chosen by
 * the balancer, finish in-flight requests, close kept-alive connections without resetting one a
 * request is on. On Kubernetes and ECS the balancer stops choosing a replica before it is
 * signalled (endpoint removal and the preStop delay; Cloud Map deregistration and SHUTDOWN_DELAY).
 * The local nginx has static upstreams, and reloading it to mark one `down` would make its old
 * workers close their idle client connections under the clients' feet (nginx closes idle
 * keep-alive connections when a worker exits). So locally step one is nginx's own: the replica
 * closes its listener, nginx's connect attempts are refused, retried on the other replicas (a
 * refused request was never sent, so a POST is retried too) and, after max_fails, the replica
 * is out for fail_timeout. Then:
 *  1. SIGTERM: the replica finishes what is in flight and its workers close their connections
 *     without resetting one a request is on (worker.ts);
 *  2. start it again on the same ports and wait until every worker listens; nginx tries it again
 *     when fail_timeout has passed, and sends it its share from then on.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { TIMEOUT_MARGIN_SECONDS } from '../profile/derive.ts';
import { resolveProfileData } from '../profile/load.ts';
import { apiReplicaReady, httpReady, spawnApiReplica } from './api-replica.ts';
import { LocalStartError, readState, writeState, type LocalService, type LocalState } from './env.ts';
import { isAlive, StartError, stopProcessGroup, waitFor } from './process.ts';
import { APP_ROUTES, REQUEST_DURATION_METRIC } from '../monitoring/metrics.ts';

/** nginx keeps time in whole seconds: a fail window ends up to a second after fail_timeout. */
const NGINX_CLOCK_SECONDS = 1;

/** Requests the replica answered, probes excluded (its metrics start at zero with the process). */
export async function servedRequests(metricsPort: number): Promise<number> {
  return (await servedRequestsIfAnswering(metricsPort)) ?? 0;
}

/** servedRequests, or undefined when the replica's metrics do not answer. */
async function servedRequestsIfAnswering(metricsPort: number): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(1000) })).text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${REQUEST_DURATION_METRIC}_count{`) || /route="\/(readyz|healthz)"/.test(line)) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  } catch {
    return undefined;
  }
}

/** Probes through nginx per other replica and round: least_conn alternates between idle replicas. */
const PROBES_PER_REPLICA = 2;

/** Running, ready, and answering requests nginx sends it (not in nginx's fail window). */
async function inRotation(nginxUrl: string, others: readonly LocalService[]): Promise<LocalService[]> {
  const servedBefore = await Promise.all(others.map((s) => servedRequestsIfAnswering(s.adminPort!)));
  const ready = await Promise.all(others.map((s) => isAlive(s.pid) && httpReady(`http://127.0.0.1:${s.port}${APP_ROUTES.readiness}`)));
  const missing = async () => {
    const servedAfter = await Promise.all(others.map((s) => servedRequestsIfAnswering(s.adminPort!)));
    return others.filter((_, i) => !ready[i] || servedBefore[i] === undefined || servedAfter[i] === undefined || servedAfter[i]! <= servedBefore[i]!);
  };
  // Under load the traffic itself shows it; idle, probes through nginx do (one after the other,
  // so least_conn's tie-break takes turns).
  if ((await missing()).length === 0) return [];
  for (let i = 0; i < PROBES_PER_REPLICA * (others.length + 1); i++) await httpReady(`${nginxUrl}${APP_ROUTES.status}`);
  return missing();
}

/**
 * The rule every target's drain follows: take a replica out only while the others are in
 * rotation, or the restart turns one replica's drain into "no live upstreams". A replica that
 * nginx took out comes back within its fail window, so the wait is bounded by that.
 */
async function othersInRotation(stateDirArg: string, nginxUrl: string, others: readonly LocalService[], failTimeoutSeconds: number, name: string, log: (line: string) => void): Promise<void> {
  const waitSeconds = failTimeoutSeconds + NGINX_CLOCK_SECONDS + TIMEOUT_MARGIN_SECONDS;
  let missing = await inRotation(nginxUrl, others);
  if (missing.length === 0) return;
  log(`waiting up to ${waitSeconds} s for ${missing.map((s) => s.name).join(', ')} to be in nginx's rotation before taking ${name} out`);
  const deadline = Date.now() + waitSeconds * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    missing = await inRotation(nginxUrl, others);
    if (missing.length === 0) return;
  }
  const names = missing.map((s) => s.name).join(', ');
  throw new UserError(
    `not restarting ${name}: ${names} ${missing.length === 1 ? 'is' : 'are'} not in nginx's rotation (not running, not ready, or nginx sends it nothing) after ${waitSeconds} s, so taking ${name} out would leave nothing to serve; ` +
      `bring ${missing.length === 1 ? 'it' : 'them'} back first (\`apistack local restart ${missing[0]!.name} --state-dir ${stateDirArg}\`), then restart ${name}`,
  );
}

export interface RestartOptions {
  readonly log?: (line: string) => void;
}

/** Restart one API replica of a running local environment; returns the updated state. */
export async function restartReplica(stateDirArg: string, name: string, opts: RestartOptions = {}): Promise<LocalState> {
  const stateDir = resolve(stateDirArg);
  if (!readState(stateDir)) throw new UserError(`nothing runs from ${stateDirArg}; start it with \`apistack local up --state-dir ${stateDirArg}\``);
  // One restart at a time: two would each write state.json from their own copy, and the pid one
  // of them started would be lost to `local down`.
  const lock = join(stateDir, 'restart.lock');
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UserError(`another \`apistack local restart\` runs on ${stateDirArg} (${lock} exists); wait for it, or delete the file if no restart runs`);
    }
    throw e;
  }
  try {
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return await restartLocked(stateDirArg, stateDir, name, opts);
  } finally {
    rmSync(lock, { force: true });
  }
}

async function restartLocked(stateDirArg: string, stateDir: string, name: string, opts: RestartOptions): Promise<LocalState> {
  const log = opts.log ?? (() => {});
  const state = readState(stateDir);
  if (!state) throw new UserError(`nothing runs from ${stateDirArg}; start it with \`apistack local up --state-dir ${stateDirArg}\``);
  const replicas = state.services.filter((s) => s.name.startsWith('api-'));
  const replica = replicas.find((s) => s.name === name);
  if (!replica) throw new UserError(`no API replica "${name}" in ${stateDirArg}; the replicas are ${replicas.map((s) => s.name).join(', ')}`);
  if (!state.profileData || !state.appBundle) {
    throw new UserError(`the environment in ${stateDirArg} was started by an older apistack that did not record its profile; run \`apistack local down\` and \`up\` again`);
  }
  const profile = resolveProfileData(state.profileData, ['local state'], state.profile);

  const others = replicas.filter((s) => s.name !== name);
  if (others.length === 0) log(`${name} is the only replica: requests fail while it restarts`);
  else await othersInRotation(stateDirArg, state.url, others, profile.nginx.failTimeoutSeconds, name, log);

  let stoppedAt = Date.now();
  if (isAlive(replica.pid)) {
    log(`stopping ${name} (SIGTERM: in-flight requests finish, connections close without resets; nginx retries elsewhere)`);
    const stopped = await stopProcessGroup(replica.pid, { signal: 'SIGTERM', timeoutMs: (profile.derived.api.terminationGracePeriodSeconds + TIMEOUT_MARGIN_SECONDS) * 1000 });
    if (stopped === 'killed') log(`${name} did not stop within its grace period and was killed`);
    stoppedAt = Date.now();
  }

  log(`starting ${name} again on 127.0.0.1:${replica.port}`);
  const options = {
    profile,
    appBundle: state.appBundle,
    secrets: { DATABASE_URL: state.databaseUrl, REDIS_URL: state.redisUrl, ADMIN_TOKEN: state.adminToken },
    port: replica.port,
    metricsPort: replica.adminPort!,
    logFile: replica.logFile,
  };
  const proc = spawnApiReplica(options);
  const restarted: LocalService = { ...replica, pid: proc.pid };
  const next: LocalState = { ...state, services: state.services.map((s) => (s.name === name ? restarted : s)) };
  writeState(stateDir, next);
  try {
    await apiReplicaReady(name, proc, options);
  } catch (e) {
    if (e instanceof StartError) throw new LocalStartError(name, e.reason, e.logFile, [], 'nginx keeps it out of rotation (its connections are refused); the other replicas serve');
    throw e;
  }
  // Back in rotation before returning, so restarting the next replica at once never leaves
  // nginx with every replica in its fail window ("no live upstreams").
  log(`${name} is ready; waiting for nginx to send it traffic again (nginx.failTimeoutSeconds ${profile.nginx.failTimeoutSeconds} s after its last refused connect)`);
  const backBy = stoppedAt + (profile.nginx.failTimeoutSeconds + NGINX_CLOCK_SECONDS) * 1000;
  await waitFor(`${name} back in nginx's rotation`, async () => (await servedRequests(replica.adminPort!)) > 0 || Date.now() > backBy, {
    timeoutMs: (profile.nginx.failTimeoutSeconds + 30) * 1000,
    intervalMs: 200,
  });
  return next;
}
