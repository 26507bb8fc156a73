import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, isPortOpen } from '../../lib/local/process.ts';
import { MissingBinaryError, requireBinary } from '../../lib/local/binaries.ts';
import { nginxConfigTest, promtool, startTestNginx, tempDir, usePostgres, useRedis } from './servers.ts';

describe('real server helpers', () => {
  const pg = usePostgres();
  const redis = useRedis();

  it('starts Postgres that answers queries on its loopback port', () => {
    const psql = requireBinary('psql');
    const r = spawnSync(psql, [pg().url, '-tAc', 'SELECT 40 + 2'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('42');
  });

  it('restarts Postgres on the same port and data after a stop', async () => {
    const psql = requireBinary('psql');
    spawnSync(psql, [pg().url, '-c', 'CREATE TABLE IF NOT EXISTS survives (n int); INSERT INTO survives VALUES (7)']);
    const oldPid = pg().pid;
    await pg().stop();
    expect(isAlive(oldPid)).toBe(false);
    expect(await isPortOpen(pg().port)).toBe(false);
    const again = await pg().start();
    const r = spawnSync(psql, [again.url, '-tAc', 'SELECT sum(n) FROM survives'], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('7');
  });

  it('starts Redis that answers PING', () => {
    const cli = requireBinary('redis-cli');
    const r = spawnSync(cli, ['-p', String(redis().port), 'PING'], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('PONG');
  });

  it('runs nginx on a free port and stops it, leaving the port closed', async () => {
    const nginx = await startTestNginx(
      (port) => `events {}\nhttp {\n  access_log off;\n  client_body_temp_path temp;\n  server { listen 127.0.0.1:${port}; location / { return 200 "hello\\n"; } }\n}\n`,
    );
    const res = await fetch(nginx.url);
    expect(await res.text()).toBe('hello\n');
    await nginx.cleanup();
    expect(await isPortOpen(nginx.port)).toBe(false);
    expect(isAlive(nginx.pid)).toBe(false);
  });

  it('reports nginx -t failures with nginx own message', () => {
    const r = nginxConfigTest('events {}\nhttp { server { listen 127.0.0.1:1; no_such_directive on; } }\n');
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/unknown directive "no_such_directive"/);
  });

  it('runs promtool against a rules file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ok.yml'), 'groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n');
    writeFileSync(join(dir, 'bad.yml'), 'groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n');
    expect(promtool(['check', 'rules', 'ok.yml'], dir).code).toBe(0);
    const bad = promtool(['check', 'rules', 'bad.yml'], dir);
    expect(bad.code).not.toBe(0);
    expect(existsSync(join(dir, 'ok.yml'))).toBe(true);
  });

  it('names the package to install when a binary is missing', () => {
    expect(() => requireBinary('redis-server', '/nonexistent')).toThrow(MissingBinaryError);
    // Search only an empty PATH: the Debian extra dirs are not consulted for redis-server.
    expect(() => requireBinary('redis-server', '/nonexistent')).toThrow(/apt-get install -y redis-server.*brew install redis/);
  });
});
