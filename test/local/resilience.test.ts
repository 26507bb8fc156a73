/**
 * The local stack under full load (wrk through nginx: reads on 40 connections, writes on 10)
 * while replicas go away: a rolling restart of every replica costs no request, and a replica
 * killed outright is taken out by nginx's passive health check, costing at most the writes it
 * had in flight.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import type { LocalService, LocalState } from '../../lib/local/env.ts';
import { isAlive, waitFor } from '../../lib/local/process.ts';
import { servedRequests } from '../../lib/local/restart.ts';
import { loadProfile } from '../../lib/profile/index.ts';
import { cli, cliAsync, stateDirFor } from '../helpers/cli.ts';
import { tempDir } from '../helpers/servers.ts';
import { postUsersScript, runWrk, socketErrorCount, type WrkResult } from '../helpers/wrk.ts';

const stateDir = stateDirFor('resilience');
const profile = loadProfile('loadtest');

const readState = () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LocalState;
const replica = (name: string) => readState().services.find((s) => s.name === name)!;
const errorLog = () => readFileSync(join(stateDir, 'nginx', 'logs', 'error.log'), 'utf8');

/** Requests a replica answered since its process started, probes excluded. */
const served = (s: LocalService) => servedRequests(s.adminPort!);

/**
 * Reads and writes at full speed through nginx while `during` runs: for `seconds`, or with
 * `untilDone`, for at least `seconds` and until a few seconds after `during` finished (at most
 * `untilDone` seconds), so what `during` does always happens under load however slow the machine.
 */
async function underLoad(seconds: number, during: () => Promise<void>, untilDone?: number): Promise<{ reads: WrkResult; writes: WrkResult; loadSeconds: number }> {
  const url = readState().url;
  // A new script per run: every run writes emails no earlier run used.
  const postScript = join(tempDir('apistack-wrk-'), 'post-users.lua');
  writeFileSync(postScript, postUsersScript(readState().adminToken));
  const stop = new AbortController();
  const runFor = untilDone ?? seconds;
  const started = Date.now();
  const load = Promise.all([
    runWrk({ url: `${url}/api/status`, connections: 40, seconds: runFor, signal: stop.signal }),
    runWrk({ url, connections: 10, seconds: runFor, script: postScript, signal: stop.signal }),
  ]);
  await during();
  if (untilDone !== undefined) {
    await new Promise((r) => setTimeout(r, Math.max(3000, seconds * 1000 - (Date.now() - started))));
    stop.abort();
  }
  const [reads, writes] = await load;
  return { reads, writes, loadSeconds: (Date.now() - started) / 1000 };
}

/** nginx error-log lines about one upstream port. */
const linesFor = (port: number, pattern: RegExp) => errorLog().split('\n').filter((l) => l.includes(`127.0.0.1:${port}/`) && pattern.test(l));

beforeAll(() => {
  ensureAppBundle(() => {});
  const up = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus']);
  expect(up.status, up.stderr).toBe(0);
}, 240_000);

afterAll(() => {
  cli(['local', 'down', '--state-dir', stateDir]);
}, 120_000);

describe('replicas going away under full load (local stack, loadtest profile)', () => {
  it('runs one restart at a time, and says so instead of racing another', () => {
    const lock = join(stateDir, 'restart.lock');
    writeFileSync(lock, '1');
    try {
      const r = cli(['local', 'restart', 'api-0', '--state-dir', stateDir]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^error: another `apistack local restart` runs on .*restart\.lock exists\); wait for it/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(lock, { force: true });
    }
    const unknown = cli(['local', 'restart', 'api-9', '--state-dir', stateDir]);
    expect(unknown.stderr).toContain('error: no API replica "api-9"');
    expect(unknown.stderr).toContain('the replicas are api-0, api-1');
  });

  it('a rolling restart of every replica costs no request: no non-2xx, no socket error, no reset', async () => {
    const before = ['api-0', 'api-1'].map(replica);
    const restarts: { status: number | null; stderr: string }[] = [];
    // A minute at least, and on until both restarts are done: each waits for its replica's drain
    // (about 20 s: nginx closing its idle connections) and for nginx to send the new process
    // traffic, longer on a busy machine.
    const seconds = 60;
    const maxSeconds = 150;
    let restartsDone = 0;
    const { reads, writes, loadSeconds } = await underLoad(seconds, async () => {
      await new Promise((r) => setTimeout(r, 2000));
      // One after the other, as a Deployment rollout or an ECS deploy does: each returns once
      // nginx sends the restarted replica traffic again.
      for (const name of ['api-0', 'api-1']) restarts.push(await cliAsync(['local', 'restart', name, '--state-dir', stateDir]));
      restartsDone = Date.now();
    }, maxSeconds);
    // Both restarts happened under load, not after it ended.
    expect(restartsDone).toBeGreaterThan(0);
    expect(loadSeconds).toBeLessThan(maxSeconds);
    expect(loadSeconds).toBeGreaterThanOrEqual(seconds);
    for (const r of restarts) expect(r.status, r.stderr).toBe(0);
    const diagnostics = `${reads.output}\n${writes.output}\nnginx error.log:\n${errorLog().slice(-3000)}`;
    expect({ readsNon2xx: reads.non2xx, readSocketErrors: socketErrorCount(reads), writesNon2xx: writes.non2xx, writeSocketErrors: socketErrorCount(writes) }, diagnostics).toEqual({
      readsNon2xx: 0,
      readSocketErrors: 0,
      writesNon2xx: 0,
      writeSocketErrors: 0,
    });
    expect(writes.requests).toBeGreaterThan(1000);
    // nginx saw refused connects (retried elsewhere), never a reset or an early close.
    expect(errorLog(), diagnostics).not.toMatch(/recv\(\) failed|prematurely closed|no live upstreams/);
    for (const old of before) {
      const now = replica(old.name);
      expect(now.pid).not.toBe(old.pid);
      expect(isAlive(old.pid)).toBe(false);
      // Back in rotation: the new process answered requests through nginx.
      expect(await served(now), old.name).toBeGreaterThan(0);
    }
  }, 240_000);

  it('a killed replica is taken out within the fail window; the others carry everything, and it comes back', async () => {
    const victim = replica('api-1');
    const survivor = replica('api-0');
    const survivorBefore = await served(survivor);
    let killedAt = 0;
    const { reads, writes } = await underLoad(12, async () => {
      await new Promise((r) => setTimeout(r, 3000));
      // The primary and its workers at once, as a lost node or an OOM kill would.
      process.kill(-victim.pid, 'SIGKILL');
      killedAt = Date.now();
    });
    const diagnostics = `${reads.output}\n${writes.output}\nnginx error.log:\n${errorLog().slice(-3000)}`;
    // Reads in flight on the killed replica were retried on the other (GET is idempotent); a
    // write nginx had already sent is never replayed, so at most the writes in flight are lost.
    expect({ readsNon2xx: reads.non2xx, readSocketErrors: socketErrorCount(reads), writeSocketErrors: socketErrorCount(writes) }, diagnostics).toEqual({ readsNon2xx: 0, readSocketErrors: 0, writeSocketErrors: 0 });
    expect(writes.non2xx, diagnostics).toBeLessThanOrEqual(10);
    // Taken out after the first refused connects (the requests already choosing it at that
    // moment), then tried once per fail window: the refusals fall in the (up to two) seconds of
    // that first burst and one second per later window, not all along the run.
    const secondsAfterKill = 12 - 3;
    const windows = Math.ceil(secondsAfterKill / profile.nginx.failTimeoutSeconds) + 1;
    const refused = linesFor(victim.port, /connect\(\) failed/);
    expect(refused.length, diagnostics).toBeGreaterThan(0);
    expect(linesFor(victim.port, /temporarily disabled/).length, diagnostics).toBeGreaterThan(0);
    const secondsWithRefusals = new Set(refused.map((l) => l.slice(0, 19)));
    expect(secondsWithRefusals.size, diagnostics).toBeLessThanOrEqual(windows + 1);
    // The survivor took the traffic from the kill on.
    expect(await served(survivor), diagnostics).toBeGreaterThan(survivorBefore + reads.requestsPerSecond * (12 - 3) * 0.5);
    expect(killedAt).toBeGreaterThan(0);

    // `local restart` brings a dead replica back; nginx tries it again after fail_timeout.
    const restart = await cliAsync(['local', 'restart', 'api-1', '--state-dir', stateDir]);
    expect(restart.status, restart.stderr).toBe(0);
    const url = readState().url;
    await waitFor(
      'api-1 answering through nginx again',
      async () => {
        await Promise.all(Array.from({ length: 8 }, () => fetch(`${url}/api/status`).then((r) => r.arrayBuffer())));
        return (await served(replica('api-1'))) > 0;
      },
      { timeoutMs: (profile.nginx.failTimeoutSeconds + 10) * 1000, intervalMs: 200 },
    );
  }, 120_000);
});
