/**
 * Faults for a running local stack (`apistack local up`) and the closed-loop mixed load that
 * measures them through nginx: status, cached user reads, uncached reads and event writes, each
 * event acknowledged with an id and checked against Postgres afterwards (lost, duplicated).
 * Shared by the fault tests (test/local/db-faults.test.ts) and the soak benchmark
 * (test/bench/faults.bench.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { readState, writeState, type LocalState } from '../../lib/local/env.ts';
import { isAlive, stopPid, waitFor } from '../../lib/local/process.ts';
import { startPostgres, startRedis } from '../../lib/local/services.ts';
import type { ResolvedProfile } from '../../lib/profile/index.ts';

export type RequestKind = 'status' | 'cached' | 'uncached' | 'event';
export const REQUEST_KINDS: readonly RequestKind[] = ['status', 'cached', 'uncached', 'event'];

export interface Sample {
  readonly kind: RequestKind;
  /** 0 when no answer came (a socket error or the client's own timeout). */
  readonly status: number;
  readonly ms: number;
  /** When the answer came (epoch ms). */
  readonly at: number;
  readonly body: string;
}

export interface Fixtures {
  readonly apiKey: string;
  readonly userId: string;
}

export function localState(stateDir: string): LocalState {
  const s = readState(stateDir);
  if (!s) throw new Error(`no local environment in ${stateDir}`);
  return s;
}

const service = (stateDir: string, name: string) => {
  const s = localState(stateDir).services.find((x) => x.name === name);
  if (!s) throw new Error(`no ${name} in the local environment`);
  return s;
};

/** An API key and a user whose reads are cached, made through nginx. */
export async function makeFixtures(stateDir: string): Promise<Fixtures> {
  const { url, adminToken } = localState(stateDir);
  const key = await fetch(`${url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  if (key.status !== 201) throw new Error(`POST /api/keys answered ${key.status}: ${await key.text()}`);
  const user = await fetch(`${url}/api/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Fault', email: `fault-${Date.now()}-${Math.random()}@example.com` }),
  });
  if (user.status !== 201) throw new Error(`POST /api/users answered ${user.status}: ${await user.text()}`);
  const userId = ((await user.json()) as { id: string }).id;
  const apiKey = ((await key.json()) as { key: string }).key;
  // Every worker of every replica has the user and the key cached (L1 or Redis).
  for (let i = 0; i < 40; i++) {
    await fetch(`${url}/api/users/${userId}`).then((r) => r.text());
    await fetch(`${url}/api/events?limit=1`, { headers: { 'x-api-key': apiKey } }).then((r) => r.text());
  }
  return { apiKey, userId };
}

export interface MixedLoad {
  readonly samples: Sample[];
  /** Idempotency-Key → event id, for every event answered 202. */
  readonly acknowledged: Map<string, string>;
  stop(): Promise<Sample[]>;
}

/**
 * `connections` loops, each sending one request and waiting for its answer (closed loop), the
 * four kinds in turn. Events carry a unique Idempotency-Key and are never retried, so a row per
 * acknowledged key is exactly what must be in Postgres.
 */
export function mixedLoad(url: string, fx: Fixtures, connections: number, opts: { timeoutMs?: number; kinds?: readonly RequestKind[] } = {}): MixedLoad {
  const samples: Sample[] = [];
  const acknowledged = new Map<string, string>();
  const kinds = opts.kinds ?? REQUEST_KINDS;
  const timeoutMs = opts.timeoutMs ?? 35_000;
  const run = `${process.pid}-${Date.now()}`;
  let running = true;
  let seq = 0;
  const one = async (kind: RequestKind): Promise<void> => {
    const started = performance.now();
    let status = 0;
    let body = '';
    const signal = AbortSignal.timeout(timeoutMs);
    const idempotencyKey = `${run}-${seq++}`;
    try {
      const res =
        kind === 'status'
          ? await fetch(`${url}/api/status`, { signal })
          : kind === 'cached'
            ? await fetch(`${url}/api/users/${fx.userId}`, { signal })
            : kind === 'uncached'
              ? await fetch(`${url}/api/users?limit=5`, { signal })
              : await fetch(`${url}/api/events`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json', 'x-api-key': fx.apiKey, 'idempotency-key': idempotencyKey },
                  body: JSON.stringify({ type: 'fault.load', payload: { key: idempotencyKey } }),
                  signal,
                });
      status = res.status;
      body = await res.text();
      if (kind === 'event' && status === 202) acknowledged.set(idempotencyKey, (JSON.parse(body) as { id: string }).id);
    } catch (e) {
      body = (e as Error).message;
    }
    samples.push({ kind, status, ms: performance.now() - started, at: Date.now(), body });
  };
  const loops = Array.from({ length: connections }, async (_, i) => {
    for (let n = 0; running; n++) await one(kinds[(i + n) % kinds.length]!);
  });
  return {
    samples,
    acknowledged,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Acknowledged events missing from Postgres, and keys stored more than once. */
export async function auditWrites(databaseUrl: string, acknowledged: Map<string, string>): Promise<{ acknowledged: number; lost: number; duplicated: number }> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const keys = [...acknowledged.keys()];
    const rows = keys.length
      ? await sql<{ key: string; id: string; n: number }[]>`
          SELECT payload->>'key' AS key, min(id)::text AS id, count(*)::int AS n FROM events
          WHERE payload->>'key' = ANY(${keys}) GROUP BY 1`
      : [];
    const found = new Map(rows.map((r) => [r.key, r]));
    let lost = 0;
    for (const [key, id] of acknowledged) if (found.get(key)?.id !== id) lost++;
    return { acknowledged: keys.length, lost, duplicated: rows.filter((r) => r.n > 1).length };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** The postmaster and its backends (or any server and its children). */
export function withChildren(parent: number): number[] {
  const children = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [parent, ...children];
}

function replaceService(stateDir: string, name: string, pid: number): void {
  const state = localState(stateDir);
  writeState(stateDir, { ...state, services: state.services.map((s) => (s.name === name ? { ...s, pid } : s)) });
}

/**
 * Postgres fast shutdown (SIGINT, what `pg_ctl stop -m fast` sends), down for `downMs`, then
 * started again on the same port and data directory; state.json gets the new pid, so
 * `local down` stops it.
 */
export async function restartPostgres(stateDir: string, profile: ResolvedProfile, downMs: number): Promise<void> {
  const pg = service(stateDir, 'postgres');
  await stopPid(pg.pid, { signal: 'SIGINT', timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, downMs));
  const again = await startPostgres({ dir: join(stateDir, 'postgres'), port: pg.port, detached: true, settings: { max_connections: profile.derived.postgres.maxConnectionsKubernetes } });
  replaceService(stateDir, 'postgres', again.pid);
}

/** Postgres stopped (SIGSTOP on the postmaster and every backend) for `ms`: it accepts connections and answers nothing. */
export async function stallPostgres(stateDir: string, ms: number): Promise<void> {
  const stopped = withChildren(service(stateDir, 'postgres').pid);
  for (const pid of stopped) process.kill(pid, 'SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    for (const pid of stopped) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
  }
}

/** Redis killed (SIGKILL), down for `downMs`, then started again empty on the same port. */
export async function killRedis(stateDir: string, profile: ResolvedProfile, downMs: number): Promise<void> {
  const redis = service(stateDir, 'redis');
  process.kill(redis.pid, 'SIGKILL');
  await waitFor('Redis gone', () => !isAlive(redis.pid), { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, downMs));
  const again = await startRedis({ dir: join(stateDir, 'redis'), port: redis.port, detached: true, maxmemoryMiB: profile.derived.redis.maxmemoryMiB, maxmemoryPolicy: profile.redis.maxmemoryPolicy });
  replaceService(stateDir, 'redis', again.pid);
}

/** SIGKILL one worker of an API replica (its primary replaces it); returns the worker's pid. */
export function killWorker(stateDir: string, replica: string): number {
  const [, worker] = withChildren(service(stateDir, replica).pid);
  if (worker === undefined) throw new Error(`${replica} has no worker to kill`);
  process.kill(worker, 'SIGKILL');
  return worker;
}

/** Worker crashes the API replicas logged (the primary's "worker crashed" lines) since the logs began. */
export function workerCrashes(stateDir: string): string[] {
  return localState(stateDir)
    .services.filter((s) => s.name.startsWith('api-'))
    .flatMap((s) => {
      try {
        return readFileSync(s.logFile, 'utf8').split('\n').filter((l) => /worker crashed|died before listening/.test(l)).map((l) => `${s.name}: ${l}`);
      } catch {
        return [];
      }
    });
}

export interface KindCounts {
  readonly requests: number;
  readonly non2xx: number;
  /** No answer at all (socket error, client timeout). */
  readonly unanswered: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function countByKind(samples: readonly Sample[]): Record<RequestKind, KindCounts> {
  const out = {} as Record<RequestKind, KindCounts>;
  for (const kind of REQUEST_KINDS) {
    const of = samples.filter((s) => s.kind === kind);
    const ms = of.map((s) => s.ms).sort((a, b) => a - b);
    out[kind] = {
      requests: of.length,
      non2xx: of.filter((s) => s.status < 200 || s.status > 299).length,
      unanswered: of.filter((s) => s.status === 0).length,
      p99Ms: Math.round(ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] ?? 0),
      maxMs: Math.round(ms.at(-1) ?? 0),
    };
  }
  return out;
}
