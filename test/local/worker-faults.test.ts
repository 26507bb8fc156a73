/**
 * Faults of one worker or one replica in the local stack (two replicas of two workers behind the
 * real nginx): a killed worker costs only the requests it held and never takes its replica out of
 * rotation, and `local restart` takes a replica out only while the other one is in rotation.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import type { LocalService, LocalState } from '../../lib/local/env.ts';
import { isAlive, waitFor } from '../../lib/local/process.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { cli, cliAsync, cliPath, repoRoot, stateDirFor } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';
import { postUsersScript, runWrk, socketErrorCount } from '../helpers/wrk.ts';

const stateDir = stateDirFor('worker-faults');
const profileFile = join(tempDir('apistack-profile-'), 'two-workers.json');
writeFileSync(profileFile, JSON.stringify({ extends: 'loadtest', name: 'two-workers', api: { workersPerReplica: 2 } }));
const profile = loadProfile(profileFile);

const readState = () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LocalState;
const replica = (name: string) => readState().services.find((s) => s.name === name)!;
const errorLog = () => readFileSync(join(stateDir, 'nginx', 'logs', 'error.log'), 'utf8');
const workersOf = (s: LocalService) =>
  spawnSync('pgrep', ['-P', String(s.pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  ensureAppBundle(() => {});
  const up = cli(['local', 'up', '--profile', profileFile, '--state-dir', stateDir, '--no-prometheus']);
  expect(up.status, up.stderr).toBe(0);
}, 240_000);

afterAll(() => {
  cli(['local', 'down', '--state-dir', stateDir]);
}, 120_000);

describe('one worker or one replica failing (local stack, two replicas of two workers)', () => {
  it('a worker killed under load costs at most the writes it held, and its replica stays in rotation', async () => {
    const victimReplica = replica('api-1');
    const workers = workersOf(victimReplica);
    expect(workers).toHaveLength(2);
    const url = readState().url;
    const postScript = join(tempDir('apistack-wrk-'), 'post-users.lua');
    writeFileSync(postScript, postUsersScript(readState().adminToken));
    const writeConnections = 10;
    const logBefore = errorLog().length;
    const load = Promise.all([runWrk({ url: `${url}/api/status`, connections: 40, seconds: 8 }), runWrk({ url, connections: writeConnections, seconds: 8, script: postScript })]);
    await sleep(3000);
    process.kill(workers[0]!, 'SIGKILL');
    const [reads, writes] = await load;
    const log = errorLog().slice(logBefore);
    const diagnostics = `${reads.output}\n${writes.output}\nnginx error.log:\n${log.slice(-3000)}`;
    // GETs it held were retried on another replica; a POST nginx had sent is never replayed, and
    // each write connection has at most one request in flight.
    expect({ readsNon2xx: reads.non2xx, readSocketErrors: socketErrorCount(reads), writeSocketErrors: socketErrorCount(writes) }, diagnostics).toEqual({ readsNon2xx: 0, readSocketErrors: 0, writeSocketErrors: 0 });
    expect(writes.non2xx, diagnostics).toBeLessThanOrEqual(writeConnections);
    // nginx saw the resets, and kept the replica: its other worker still listens.
    expect(log, diagnostics).toMatch(/prematurely closed|reset by peer/);
    expect(log, diagnostics).not.toMatch(/temporarily disabled|no live upstreams/);
    expect(profile.derived.nginx.maxFails).toBeGreaterThan(writeConnections + 40);
    await waitFor('the killed worker replaced', () => workersOf(victimReplica).length === 2, { timeoutMs: 15_000 });
  }, 120_000);

  it('`local restart` waits while the other replica is out of rotation, and goes on once it is back', async () => {
    const target = replica('api-0');
    const other = replica('api-1');
    // Stopped, not dead: not ready and answering nothing until it is continued.
    process.kill(-other.pid, 'SIGSTOP');
    let continued = false;
    try {
      const child = spawn(process.execPath, [cliPath, 'local', 'restart', 'api-0', '--state-dir', stateDir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await waitFor('the restart saying it waits', () => stderr.includes('waiting up to'), { timeoutMs: 60_000 });
      expect(stderr).toContain("for api-1 to be in nginx's rotation before taking api-0 out");
      await sleep(3000);
      expect(replica('api-0').pid, `api-0 was taken out while api-1 was out:\n${stderr}`).toBe(target.pid);
      expect(isAlive(target.pid)).toBe(true);
      process.kill(-other.pid, 'SIGCONT');
      continued = true;
      expect(await exited, stderr).toBe(0);
      expect(replica('api-0').pid).not.toBe(target.pid);
    } finally {
      if (!continued) process.kill(-other.pid, 'SIGCONT');
    }
  }, 120_000);

  it('`local restart` gives up with a clear error when the other replica never comes back, and leaves its own replica serving', async () => {
    const target = replica('api-0');
    const other = replica('api-1');
    process.kill(-other.pid, 'SIGKILL');
    await waitFor('api-1 gone', () => !isAlive(other.pid), { timeoutMs: 5000 });
    const started = Date.now();
    const r = await cliAsync(['local', 'restart', 'api-0', '--state-dir', stateDir]);
    const waitedSeconds = (Date.now() - started) / 1000;
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: not restarting api-0: api-1 is not in nginx's rotation .* after \d+ s, so taking api-0 out would leave nothing to serve; bring it back first \(`apistack local restart api-1 --state-dir .*`\), then restart api-0/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // Bounded by the fail window nginx could still be keeping a returning replica out for.
    expect(waitedSeconds).toBeLessThan(profile.nginx.failTimeoutSeconds + 30);
    expect(replica('api-0').pid).toBe(target.pid);
    expect((await fetch(`${readState().url}/api/status`)).status).toBe(200);
    // What the error says to do works.
    const back = await cliAsync(['local', 'restart', 'api-1', '--state-dir', stateDir]);
    expect(back.status, back.stderr).toBe(0);
  }, 120_000);
});
