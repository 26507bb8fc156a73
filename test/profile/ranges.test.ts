/**
 * Every value the profile accepts is one the rendered nginx.conf, Postgres and the API accept:
 * a profile at the edges of every nginx range passes `nginx -t`, and the values nginx or
 * Postgres would refuse are profile errors that name the field and the limit.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderNginxConfig } from '../../nginx/index.ts';
import { isCidr, resolveProfileLayer, type ProfileLayer } from '../../lib/profile/index.ts';
import { problemsOf } from '../helpers/profile.ts';
import { nginxConfigTest, tempDir } from '../helpers/servers.ts';

function nginxAccepts(layer: ProfileLayer): { ok: boolean; output: string } {
  const p = resolveProfileLayer({ extends: 'optimized', ...layer });
  const dir = tempDir();
  for (const sub of ['temp', 'logs']) mkdirSync(join(dir, sub), { mode: 0o777 });
  return nginxConfigTest(renderNginxConfig(p, { kind: 'local', listenPort: 18080, statusPort: 18081, upstreamPorts: [18001, 18002], prefixDir: dir }));
}

describe('nginx accepts every value the profile accepts', () => {
  it('at the upper edge of every nginx range', () => {
    const result = nginxAccepts({
      api: { gracefulTimeoutSeconds: 100 },
      nginx: {
        // The largest Fargate task: the profile refuses more, as it does for the API (nginx alone would take 1,024 cores).
        cpuMillicores: 16_000,
        workerConnections: 65535,
        rateLimitPerClientPerSecond: 1_000_000_000,
        rateLimitBurst: 1_000_000_000,
        connLimitPerClient: 65535,
        maxFails: 100,
        failTimeoutSeconds: 3600,
        upstreamKeepaliveTimeoutSeconds: 60,
        proxyConnectTimeoutSeconds: 75,
        proxyReadTimeoutSeconds: 3600,
        proxySendTimeoutSeconds: 3600,
        proxyNextUpstreamTries: 10,
        proxyNextUpstreamTimeoutSeconds: 3600,
        clientMaxBodySizeMiB: 1024,
        gzipMinLengthBytes: 1024 ** 3,
        rateLimitExemptCidrs: ['0.0.0.0/0', '::/0', '10.1.2.3', '2001:db8::1'],
        accessLog: 'errors',
      },
    });
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('at the lower edge of every nginx range', () => {
    const result = nginxAccepts({
      nginx: {
        cpuMillicores: 1,
        // The lowest that holds max_conns (64) upstream plus as many clients, an invariant.
        workerConnections: 128,
        rateLimitPerClientPerSecond: 1,
        rateLimitBurst: 0,
        connLimitPerClient: 1,
        maxFails: 0,
        failTimeoutSeconds: 1,
        upstreamKeepaliveTimeoutSeconds: 1,
        proxyConnectTimeoutSeconds: 1,
        proxyNextUpstreamTries: 1,
        proxyNextUpstreamTimeoutSeconds: 1,
        clientMaxBodySizeMiB: 1,
        gzipMinLengthBytes: 1,
        rateLimitExemptCidrs: [],
        accessLog: false,
      },
    });
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });
});

describe('values nginx, Postgres or RDS would refuse are profile errors', () => {
  it('a per-client connection limit nginx refuses (65536 and above)', () => {
    expect(problemsOf({ nginx: { connLimitPerClient: 100000 } })).toEqual([
      'nginx.connLimitPerClient: 100000 — must be at most 65535: nginx refuses a connection limit of 65536 or more',
    ]);
  });

  it('more nginx worker processes than nginx can spawn', () => {
    expect(problemsOf({ nginx: { cpuMillicores: 2_000_000 } })[0]).toMatch(/^nginx\.cpuMillicores: 2000000 — must be at most 1024000: nginx .* at most 1024 processes$/);
  });

  it('a connect timeout above what nginx documents', () => {
    expect(problemsOf({ nginx: { proxyConnectTimeoutSeconds: 120 } })).toEqual([
      'nginx.proxyConnectTimeoutSeconds: 120 — must be at most 75: nginx documents that a connect timeout cannot usually exceed 75 s',
    ]);
  });

  it('exempt networks that are not addresses or CIDR blocks', () => {
    const problems = problemsOf({ nginx: { rateLimitExemptCidrs: ['10.0.0.0/33', 'localhost', '127.0.0.1'] } });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe('nginx.rateLimitExemptCidrs.0: "10.0.0.0/33" — must be an IPv4 or IPv6 address or CIDR block, such as "10.0.0.0/8" or "fc00::/7"');
    expect(problems[1]).toMatch(/^nginx\.rateLimitExemptCidrs\.1: "localhost" — must be an IPv4/);
  });

  it('fewer reserved connections than Postgres keeps for superusers', () => {
    expect(problemsOf({ postgres: { reservedConnections: 1 } })).toEqual([
      'postgres.reservedConnections: 1 is below the 3 connections Postgres keeps for superusers (superuser_reserved_connections), so the app would be refused connections the budget promised it; use at least 3',
    ]);
  });

  it('a Postgres memory limit so small that max_connections cannot start Postgres', () => {
    const problems = problemsOf({ api: { replicasMax: 2, replicasMin: 1, replicasExpected: 1, workersPerReplica: 1, dbPoolSizePerWorker: 1 }, postgres: { k8sMemoryLimitMiB: 20, k8sMemoryRequestMiB: 20, reservedConnections: 3 } });
    expect(problems).toContain(
      'postgres.k8sMemoryLimitMiB: 20 MiB gives max_connections 2, and Postgres refuses to start unless max_connections exceeds superuser_reserved_connections (3); use at least 37 MiB',
    );
  });

  it('provisioned-IOPS storage below the RDS minimum', () => {
    expect(problemsOf({ postgres: { storageType: 'io2', storageGiB: 50, iops: 1000 } })).toEqual(['postgres.storageGiB: 50 GiB is below the 100 GiB RDS requires for io2 storage; use at least 100, or storageType gp3']);
  });

  it('a Postgres major version RDS does not run', () => {
    expect(problemsOf({ postgres: { engineVersion: '9.6' } })).toEqual(['postgres.engineVersion: "9.6" — must be a PostgreSQL major version RDS runs, 13 to 18']);
  });

  it('API settings the app refuses at start', () => {
    expect(problemsOf({ api: { workersPerReplica: 300, dbPoolSizePerWorker: 2000, gracefulTimeoutSeconds: 4000 } })).toEqual([
      'api.workersPerReplica: 300 — must be <= 256',
      'api.dbPoolSizePerWorker: 2000 — must be <= 1000',
      'api.gracefulTimeoutSeconds: 4000 — must be <= 3600',
    ]);
  });
});

describe('access log and exempt networks', () => {
  it('accepts the access log as all, errors, off, or the old true/false', () => {
    const mode = (accessLog: 'all' | 'errors' | 'off' | boolean) =>
      resolveProfileLayer({ extends: 'optimized', nginx: { accessLog } }).nginx.accessLog;
    expect([mode(true), mode(false), mode('errors'), mode('all'), mode('off')]).toEqual(['all', 'off', 'errors', 'all', 'off']);
    expect(problemsOf({ nginx: { accessLog: 'some' as never } })[0]).toMatch(/^nginx\.accessLog: "some"/);
  });

  it('recognises IPv4 and IPv6 addresses and blocks', () => {
    for (const ok of ['127.0.0.0/8', '10.1.2.3', '0.0.0.0/0', '::1/128', '::/0', 'fc00::/7', '2001:db8:0:0:0:0:0:1/64']) expect(isCidr(ok), ok).toBe(true);
    for (const bad of ['256.0.0.0/8', '10.0.0.0/33', '10.0.0/8', '::1/129', '1::2::3', 'fc00:/7', 'host', '10.0.0.0/8/1', '']) expect(isCidr(bad), bad).toBe(false);
  });
});
