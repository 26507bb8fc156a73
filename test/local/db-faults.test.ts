/**
 * The local stack (loadtest profile) under a closed-loop mixed load through nginx while Postgres
 * goes away: a fast shutdown and restart, then a stopped server. No API worker exits; status and
 * cached reads, which do not need the database, keep answering 200; requests that need it are
 * answered (503, "database is unavailable") within the deadline the profile's timeout chain sets;
 * no acknowledged event is lost or stored twice.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../../lib/profile/index.ts';
import { cli, repoRoot, stateDirFor } from '../helpers/cli.ts';
import { auditWrites, countByKind, localState, makeFixtures, mixedLoad, restartPostgres, stallPostgres, workerCrashes, type Fixtures } from './faults.ts';

const stateDir = stateDirFor('db-faults');
const profile = loadProfile('loadtest');
let fx: Fixtures;

beforeAll(async () => {
  // Built from this source, not an earlier bundle left in dist/.
  const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  const up = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus']);
  expect(up.status, up.stderr).toBe(0);
  fx = await makeFixtures(stateDir);
}, 240_000);

afterAll(() => {
  cli(['local', 'down', '--state-dir', stateDir]);
}, 120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Postgres going away under load through nginx (local stack, loadtest profile)', () => {
  it('a fast shutdown and restart: no worker exits, status and cached reads answer 200 throughout', async () => {
    const { url, databaseUrl } = localState(stateDir);
    const load = mixedLoad(url, fx, 20);
    await sleep(2000);
    await restartPostgres(stateDir, profile, 2000);
    await sleep(3000);
    const samples = await load.stop();
    const counts = countByKind(samples);
    const diagnostics = JSON.stringify(counts);
    expect(workerCrashes(stateDir)).toEqual([]);
    expect({ status: counts.status.non2xx, cached: counts.cached.non2xx }, diagnostics).toEqual({ status: 0, cached: 0 });
    expect(counts.status.requests, diagnostics).toBeGreaterThan(100);
    // The restart did cost the requests that need the database something: the fault was real.
    expect(counts.uncached.non2xx, diagnostics).toBeGreaterThan(0);
    // What needs the database failed with a 503 that says so, never a 5xx of another kind.
    const dbFailures = samples.filter((s) => (s.kind === 'uncached' || s.kind === 'event') && (s.status < 200 || s.status > 299));
    expect(dbFailures.filter((s) => s.status !== 503).slice(0, 3), diagnostics).toEqual([]);
    expect(dbFailures.every((s) => /database is unavailable/.test(s.body)), dbFailures[0]?.body).toBe(true);
    expect(await auditWrites(databaseUrl, load.acknowledged)).toMatchObject({ lost: 0, duplicated: 0 });
  }, 120_000);

  it('a stopped server (SIGSTOP): requests that need it are answered within the deadline, the others 200', async () => {
    const { url, databaseUrl } = localState(stateDir);
    const deadlineMs = profile.derived.api.slowestAnswerSeconds * 1000;
    // At least 5 s, and longer than the deadline: a shorter stall ends before any deadline could
    // matter, and would pass just as well if requests simply waited it out.
    const stallMs = Math.max(5000, deadlineMs + 2000);
    const load = mixedLoad(url, fx, 20);
    await sleep(2000);
    await stallPostgres(stateDir, stallMs);
    await sleep(3000);
    const samples = await load.stop();
    const counts = countByKind(samples);
    const diagnostics = JSON.stringify(counts);
    expect(workerCrashes(stateDir)).toEqual([]);
    expect({ status: counts.status.non2xx, cached: counts.cached.non2xx }, diagnostics).toEqual({ status: 0, cached: 0 });
    const needDb = samples.filter((s) => s.kind === 'uncached' || s.kind === 'event');
    // Within the chain's slowest answer (pool wait + query deadline), plus slack for a busy machine.
    const late = needDb.filter((s) => s.status === 0 || s.ms > deadlineMs + 1500);
    expect(late.slice(0, 3), `${late.length} of ${needDb.length} late; ${diagnostics}`).toEqual([]);
    expect(needDb.filter((s) => s.status >= 500 && s.status !== 503).slice(0, 3), diagnostics).toEqual([]);
    expect(await auditWrites(databaseUrl, load.acknowledged)).toMatchObject({ lost: 0, duplicated: 0 });
  }, 120_000);
});
