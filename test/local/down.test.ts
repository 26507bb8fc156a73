/**
 * `local down` after the data servers were restarted by hand (as one does to test a fault): it
 * finds them by Postgres's postmaster.pid and by what listens on Redis's port, stops them, and
 * only then removes their data.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBundle } from '../../bin/commands/local.ts';
import type { LocalState } from '../../lib/local/env.ts';
import { isAlive, isPortOpen, waitFor } from '../../lib/local/process.ts';
import { cli, stateDirFor } from '../helpers/cli.ts';
import { needBinary } from '../helpers/servers.ts';

const stateDir = stateDirFor('down');
const readState = () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LocalState;
const asPostgres = (args: string[]) => (process.getuid?.() === 0 ? spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8' }) : spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' }));

beforeAll(() => {
  ensureAppBundle(() => {});
  const up = cli(['local', 'up', '--profile', 'loadtest', '--state-dir', stateDir, '--no-prometheus']);
  expect(up.status, up.stderr).toBe(0);
}, 240_000);
afterAll(() => {
  cli(['local', 'down', '--state-dir', stateDir]);
}, 120_000);

describe('local down', () => {
  it('stops a Postgres and a Redis restarted by hand, then removes their data', async () => {
    const state = readState();
    const pg = state.services.find((s) => s.name === 'postgres')!;
    const redis = state.services.find((s) => s.name === 'redis')!;
    const pgdata = join(stateDir, 'postgres', 'pgdata');
    // Both stop, and are started again by hand on the same port and data, under new pids.
    process.kill(pg.pid, 'SIGINT');
    process.kill(redis.pid, 'SIGKILL');
    await waitFor('both gone', () => !existsSync(join(pgdata, 'postmaster.pid')) && !isAlive(redis.pid), { timeoutMs: 20_000 });
    const pgCtl = join(needBinary('postgres'), '..', 'pg_ctl');
    const started = asPostgres([pgCtl, '-D', pgdata, '-l', join(pgdata, 'by-hand.log'), '-w', '-o', `-c port=${pg.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${pgdata}`, 'start']);
    expect(started.status, `${started.stdout}${started.stderr}${existsSync(join(pgdata, 'by-hand.log')) ? readFileSync(join(pgdata, 'by-hand.log'), 'utf8') : ''}`).toBe(0);
    const redisByHand = spawnSync(needBinary('redis-server'), ['--port', String(redis.port), '--bind', '127.0.0.1', '--save', '', '--daemonize', 'yes', '--dir', join(stateDir, 'redis')], { encoding: 'utf8' });
    expect(redisByHand.status, redisByHand.stderr).toBe(0);
    await waitFor('both serving again', async () => (await isPortOpen(pg.port)) && (await isPortOpen(redis.port)), { timeoutMs: 20_000 });
    const newPostgres = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(newPostgres).not.toBe(pg.pid);

    const down = cli(['local', 'down', '--state-dir', stateDir]);
    expect(down.status, down.stderr).toBe(0);
    expect(isAlive(newPostgres)).toBe(false);
    expect(await isPortOpen(pg.port)).toBe(false);
    expect(await isPortOpen(redis.port)).toBe(false);
    expect(existsSync(join(stateDir, 'postgres'))).toBe(false);
    expect(existsSync(join(stateDir, 'state.json'))).toBe(false);
  }, 120_000);
});
