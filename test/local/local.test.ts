/**
 * `apistack local` end to end: the real CLI starts real Postgres, Redis, API bundle processes,
 * nginx (and Prometheus when installed) on loopback, and stops them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../lib/local/binaries.ts';
import { isAlive, isPortOpen, waitFor } from '../../lib/local/process.ts';
import type { LocalState, LocalStatus } from '../../lib/local/env.ts';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { cli, cliPath, repoRoot, stateDirFor } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';

function readStateFile(dir: string): LocalState {
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LocalState;
}

function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

beforeAll(() => {
  ensureAppBundle(() => {});
}, 180_000);

describe('apistack local up / status / down', () => {
  const stateDir = stateDirFor('env');
  let state: LocalState;
  const workerPids = new Set<number>();

  beforeAll(() => {
    const up = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir]);
    expect(up.stderr + up.stdout).toContain('apistack local is up');
    expect(up.status).toBe(0);
    state = readStateFile(stateDir);
  }, 240_000);

  afterAll(() => {
    // Whatever a failed assertion left running.
    if (existsSync(join(stateDir, 'state.json'))) cli(['local', 'down', '--state-dir', stateDir]);
  }, 120_000);

  it('reports every service ready in status --json, with the nginx entry URL', () => {
    const r = cli(['local', 'status', '--state-dir', stateDir, '--json']);
    expect(r.status).toBe(0);
    const status = JSON.parse(r.stdout) as LocalStatus;
    expect(status.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const names = status.services.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['postgres', 'redis', 'api-0', 'api-1', 'nginx']));
    for (const s of status.services) {
      expect(s, s.name).toMatchObject({ ready: true });
      expect(s.pid).toBeGreaterThan(0);
      expect(s.port).toBeGreaterThan(0);
    }
  });

  it('writes the rendered nginx.conf and the logs into the state directory', () => {
    const conf = readFileSync(join(stateDir, 'nginx', 'nginx.conf'), 'utf8');
    expect(conf).toContain('least_conn');
    const apiPorts = state.services.filter((s) => s.name.startsWith('api-')).map((s) => s.port);
    for (const port of apiPorts) expect(conf).toContain(`127.0.0.1:${port}`);
    expect(existsSync(join(stateDir, 'logs', 'api-0.log'))).toBe(true);
  });

  it('sends requests through nginx to every API process', async () => {
    const replicas = state.services.filter((s) => s.name.startsWith('api-'));
    expect(replicas).toHaveLength(2);
    // Concurrent batches open several upstream connections, so the OS spreads them over workers too.
    // Until every worker has answered (bounded): which worker takes a connection is the OS's choice.
    const workers = replicas.length * loadProfile('loadtest').derived.api.workersPerReplica;
    for (let batch = 0; batch < 40 && workerPids.size < workers; batch++) {
      const responses = await Promise.all(Array.from({ length: 8 }, () => fetch(`${state.url}/api/status`)));
      for (const res of responses) {
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        workerPids.add(Number(res.headers.get('x-worker-id')));
      }
    }
    const replicaOf = new Map([...workerPids].map((pid) => [pid, parentPid(pid)]));
    for (const replica of replicas) expect([...replicaOf.values()], replica.name).toContain(replica.pid);
    expect(workerPids.size).toBe(workers);
  });

  it('stores events written through nginx in Postgres', async () => {
    const keyRes = await fetch(`${state.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${state.adminToken}`, 'content-type': 'application/json' }, body: '{}' });
    expect(keyRes.status).toBe(201);
    const { key } = (await keyRes.json()) as { key: string };
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${state.url}/api/events`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': `local-test-${i}` },
        body: JSON.stringify({ type: 'local-test', payload: { i } }),
      });
      expect(res.status).toBe(202);
      ids.push(String(((await res.json()) as { id: string | number }).id));
    }
    const psql = requireBinary('psql');
    const r = spawnSync(psql, [state.databaseUrl, '-tAc', "SELECT count(*), count(DISTINCT id) FROM events WHERE type = 'local-test'"], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('20|20');
  });

  it('refuses a second up while the first runs', () => {
    const again = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/is already running \(postgres pid \d+/);
    expect(again.stderr).toContain('apistack local down');
    // The running environment is untouched.
    for (const s of state.services) expect(isAlive(s.pid), s.name).toBe(true);
  });

  it('down stops every process and frees every port', async () => {
    const down = cli(['local', 'down', '--state-dir', stateDir]);
    expect(down.stderr).toBe('');
    expect(down.status).toBe(0);
    expect(down.stdout).toMatch(/^stopped postgres, redis, api-0, api-1, nginx/);
    for (const s of state.services) {
      expect(isAlive(s.pid), `${s.name} pid ${s.pid}`).toBe(false);
      expect(await isPortOpen(s.port), `${s.name} port ${s.port}`).toBe(false);
      if (s.adminPort) expect(await isPortOpen(s.adminPort), `${s.name} port ${s.adminPort}`).toBe(false);
    }
    for (const pid of workerPids) expect(isAlive(pid), `worker ${pid}`).toBe(false);
    expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
    expect(existsSync(join(stateDir, 'postgres'))).toBe(false);
    const status = JSON.parse(cli(['local', 'status', '--state-dir', stateDir, '--json']).stdout) as LocalStatus;
    expect(status).toEqual({ running: false, services: [] });
  });
});

describe('apistack local failures', () => {
  it('names the package to install when a binary is missing, and starts nothing', () => {
    const stateDir = stateDirFor('missing');
    // A PATH holding only psql: postgres is still found in its Debian directory, redis-server is not.
    const bin = tempDir('apistack-path-');
    mkdirSync(bin, { recursive: true });
    symlinkSync(requireBinary('psql'), join(bin, 'psql'));
    const r = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir], { ...process.env, PATH: bin });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('redis-server not found on PATH. Install it: Debian/Ubuntu `sudo apt-get install -y redis-server`, macOS `brew install redis`');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
    expect(existsSync(join(stateDir, 'postgres'))).toBe(false);
  });

  it('cleans up what was started when interrupted with Ctrl-C during up', async () => {
    const stateDir = stateDirFor('interrupted');
    const child = spawn(process.execPath, [cliPath, 'local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Interrupt once Postgres is up and recorded, before the rest is.
    await waitFor('postgres in state.json', () => existsSync(join(stateDir, 'state.json')) && readStateFile(stateDir).services.some((s) => s.name === 'postgres'), { timeoutMs: 90_000 });
    const started = readStateFile(stateDir).services;
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('interrupted');
    for (const s of started) expect(isAlive(s.pid), s.name).toBe(false);
    expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
  }, 120_000);
});
