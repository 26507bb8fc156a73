/**
 * One API replica of the local environment: the bundle as a detached process tree (a primary and
 * its workers) on a loopback port, and how to tell it is ready. `local up` starts replicas this
 * way and `local restart` starts one again on the same ports.
 */
import { appEnvironment } from '../profile/app-env.ts';
import type { ResolvedProfile } from '../profile/load.ts';
import { APP_ROUTES, WORKERS_LISTENING_METRIC } from '../monitoring/metrics.ts';
import { isAlive, spawnServer, waitFor, type SpawnedProcess } from './process.ts';

export interface ApiReplicaOptions {
  readonly profile: ResolvedProfile;
  readonly appBundle: string;
  /** DATABASE_URL, REDIS_URL, ADMIN_TOKEN. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly port: number;
  readonly metricsPort: number;
  readonly logFile: string;
}

export function spawnApiReplica(o: ApiReplicaOptions): SpawnedProcess {
  return spawnServer(process.execPath, ['--enable-source-maps', o.appBundle], {
    logFile: o.logFile,
    detached: true,
    env: { ...process.env, ...appEnvironment(o.profile, { host: '127.0.0.1', port: o.port, metricsPort: o.metricsPort }), ...o.secrets },
  });
}

/**
 * Probes close their connection: an idle kept-alive one would hold a draining API worker for its
 * whole drain-idle timeout, so stopping a replica right after probing it would take that long.
 */
const PROBE_HEADERS = { connection: 'close' };

/** At least `expected` workers listening, per the API primary's metrics. */
async function workersListening(metricsUrl: string, expected: number): Promise<boolean> {
  try {
    const text = await (await fetch(metricsUrl, { headers: PROBE_HEADERS, signal: AbortSignal.timeout(1000) })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${WORKERS_LISTENING_METRIC} `));
    return Number(line?.split(' ')[1]) >= expected;
  } catch {
    return false;
  }
}

export async function httpReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { headers: PROBE_HEADERS, signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Ready means every worker listens, not just the first: the replica serves with its full capacity. */
export function apiReplicaReady(name: string, proc: SpawnedProcess, o: Pick<ApiReplicaOptions, 'profile' | 'port' | 'metricsPort' | 'logFile'>, signal?: AbortSignal): Promise<void> {
  const workers = o.profile.derived.api.workersPerReplica;
  const readyUrl = `http://127.0.0.1:${o.port}${APP_ROUTES.readiness}`;
  const metricsUrl = `http://127.0.0.1:${o.metricsPort}/metrics`;
  return waitFor(`API replica ${name} at ${readyUrl} with ${workers} worker${workers === 1 ? '' : 's'} listening`, async () => (await httpReady(readyUrl)) && (await workersListening(metricsUrl, workers)), {
    timeoutMs: 60_000,
    logFile: o.logFile,
    alive: () => isAlive(proc.pid),
    child: proc.child,
    ...(signal ? { signal } : {}),
  });
}
