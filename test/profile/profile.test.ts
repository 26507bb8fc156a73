import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_PROFILES,
  builtinProfileNames,
  loadProfile,
  mergeLayers,
  postgresMaxConnectionsForMemoryBytes,
  ProfileError,
  resolveProfileLayer,
  USAGE_DEFAULTS,
} from '../../lib/profile/index.ts';
import { problemsOf } from '../helpers/profile.ts';
import { tempDir } from '../helpers/servers.ts';

const fixtures = join(import.meta.dirname, 'fixtures');
const repoRoot = join(import.meta.dirname, '..', '..');

describe('built-in profiles', () => {
  it.each(builtinProfileNames())('%s resolves, validates and is frozen', (name) => {
    const p = loadProfile(name);
    expect(p.name).toBe(name);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.api)).toBe(true);
    expect(Object.isFrozen(p.derived.postgres.budgetAws)).toBe(true);
    expect(p.derived.postgres.budgetAws.headroom).toBeGreaterThanOrEqual(0);
    expect(p.derived.postgres.budgetKubernetes.headroom).toBeGreaterThanOrEqual(0);
  });

  it('lists exactly the four documented profiles', () => {
    expect(builtinProfileNames()).toEqual(['baseline', 'optimized', 'loadtest', 'production-ha']);
  });

  it('baseline is the first-deployment shape: one worker, Multi-AZ gp2 database, big cache, managed monitoring, on-demand', () => {
    const p = loadProfile('baseline');
    expect(p.derived.api.workersPerReplica).toBe(1);
    expect(p.postgres).toMatchObject({ multiAz: true, storageType: 'gp2' });
    expect(p.redis.nodeType).toBe('cache.r7g.large');
    expect(p.monitoring.mode).toBe('managed');
    expect(p.purchase.option).toBe('on-demand');
  });

  it('optimized is tuned: multi-worker arm64, gp3, Valkey, self-hosted monitoring, a commitment', () => {
    const p = loadProfile('optimized');
    expect(p.derived.api.workersPerReplica).toBeGreaterThan(1);
    expect(p.api.cpuArchitecture).toBe('arm64');
    expect(p.postgres.storageType).toBe('gp3');
    expect(p.redis.engine).toBe('valkey');
    expect(p.monitoring.mode).toBe('self-hosted');
    expect(p.purchase).toEqual({ option: 'savings-plan', termYears: 1, payment: 'no-upfront' });
  });

  it('production-ha turns on every HA switch', () => {
    const p = loadProfile('production-ha');
    expect(p.api.replicasMin).toBeGreaterThanOrEqual(3);
    expect(p.nginx.replicasMin).toBeGreaterThanOrEqual(3);
    expect(p.postgres.multiAz).toBe(true);
    expect(p.redis.multiAz).toBe(true);
    expect(p.network.natGateways).toBe(p.network.availabilityZones);
  });

  it('loadtest drops what optimized set and it does not want (null removes a field)', () => {
    const p = loadProfile('loadtest');
    expect(p.api.replicasExpected).toBeUndefined();
    expect(p.purchase).toEqual({ option: 'on-demand' });
  });
});

describe('derived values', () => {
  it('computes max_connections as RDS does: LEAST(memory/9531392, 5000)', () => {
    expect(postgresMaxConnectionsForMemoryBytes(4 * 1024 ** 3)).toBe(450);
    expect(postgresMaxConnectionsForMemoryBytes(1024 ** 3)).toBe(112);
    expect(postgresMaxConnectionsForMemoryBytes(512 * 1024 ** 3)).toBe(5000);
    const p = loadProfile('optimized');
    expect(p.derived.postgres.maxConnectionsAws).toBe(450);
    expect(p.derived.postgres.maxConnectionsKubernetes).toBe(450);
  });

  it('computes the connection budget: replicasMax × workers × pool + reserved', () => {
    const b = loadProfile('optimized').derived.postgres.budgetAws;
    expect(b).toEqual({ perReplica: 10, apiAtMaxReplicas: 60, reserved: 10, required: 70, maxConnections: 450, headroom: 380 });
  });

  it('defaults workers to one per whole vCPU when not given', () => {
    const p = resolveProfileLayer({ extends: 'optimized', api: { workersPerReplica: null, vcpuPerReplica: 4, memoryMiBPerReplica: 8192 } });
    expect(p.api.workersPerReplica).toBeUndefined();
    expect(p.derived.api.workersPerReplica).toBe(4);
    const half = resolveProfileLayer({ extends: 'optimized', api: { workersPerReplica: null, vcpuPerReplica: 0.5, memoryMiBPerReplica: 1024 } });
    expect(half.derived.api.workersPerReplica).toBe(1);
  });

  it('orders the timeout chains', () => {
    const d = loadProfile('optimized').derived;
    const p = loadProfile('optimized');
    expect(d.nginx.upstreamKeepaliveTimeoutSeconds).toBeLessThan(p.api.keepAliveTimeoutSeconds);
    expect(p.api.keepAliveTimeoutSeconds).toBeLessThan(d.api.headersTimeoutSeconds);
    expect(p.api.gracefulTimeoutSeconds).toBeLessThan(d.api.containerStopTimeoutSeconds);
    expect(d.api.containerStopTimeoutSeconds).toBeLessThan(d.api.terminationGracePeriodSeconds);
    // Deregister from Cloud Map, wait out its TTL and nginx's re-resolve (5 + 5 + 5 s), drain (30 s), stop.
    expect(d.api).toMatchObject({ shutdownDelaySeconds: 15, containerStopTimeoutSeconds: 50, terminationGracePeriodSeconds: 55, headersTimeoutSeconds: 70 });
  });

  it('derives nginx max_conns and the keepalive pool from the API sizing', () => {
    // optimized: 2 workers × 64 in flight over 2 nginx replicas; the pool holds every connection
    // one nginx worker can have open at once: 6 replicas × max_conns 64.
    expect(loadProfile('optimized').derived.nginx).toMatchObject({ maxConnsPerUpstreamServer: 64, upstreamKeepaliveConnections: 384, workerProcesses: 1 });
    // Never more than half of worker_connections.
    expect(resolveProfileLayer({ extends: 'optimized', nginx: { workerConnections: 256 } }).derived.nginx.upstreamKeepaliveConnections).toBe(128);
  });

  it('derives the drain wait from nginx keepalive_timeout, and the slowest answer from the app timeouts', () => {
    const p = loadProfile('optimized');
    expect(p.derived.nginx.upstreamKeepaliveTimeoutSeconds).toBe(10);
    expect(p.derived.api).toMatchObject({ drainIdleTimeoutSeconds: 15, dbAcquireTimeoutMs: 2000, statementTimeoutMs: 5000, dbQueryDeadlineMs: 6000, slowestAnswerSeconds: 8 });
    expect(p.derived.api.drainIdleTimeoutSeconds + 5).toBeLessThanOrEqual(p.api.gracefulTimeoutSeconds);
    expect(p.derived.api.slowestAnswerSeconds).toBeLessThan(p.nginx.proxyReadTimeoutSeconds);
  });

  it('fills usage defaults and records which figures are assumptions', () => {
    const p = loadProfile(join(fixtures, 'mine.yaml'));
    expect(p.derived.usage.requestsPerMonth).toBe(1_000_000_000);
    expect(p.derived.usageAssumed).not.toContain('requestsPerMonth');
    expect(p.derived.usageAssumed).toContain('dataTransferOutGBPerMonth');
    expect(p.derived.usage.dataTransferOutGBPerMonth).toBe(USAGE_DEFAULTS.dataTransferOutGBPerMonth);
  });
});

describe('invariants: each broken one names the field, the numbers and the fix', () => {
  it('connection budget on RDS', () => {
    const problems = problemsOf({ api: { dbPoolSizePerWorker: 50 } });
    expect(problems).toContain(
      'api.dbPoolSizePerWorker: connection budget exceeded on RDS: replicasMax 6 × workers 2 × pool 50 + reserved 10 = 610 > max_connections 450 for db.t4g.medium (4 GiB); set api.dbPoolSizePerWorker to 36 or less, set api.replicasMax to 4 or less, choose a larger postgres.instanceClass, or put a pooler (RDS Proxy, PgBouncer) in front of Postgres',
    );
  });

  it('connection budget on Kubernetes (memory limit)', () => {
    const problems = problemsOf({ postgres: { k8sMemoryLimitMiB: 512, k8sMemoryRequestMiB: 512 } });
    expect(problems).toEqual([
      'api.dbPoolSizePerWorker: connection budget exceeded on Kubernetes: replicasMax 6 × workers 2 × pool 5 + reserved 10 = 70 > max_connections 56 for k8sMemoryLimitMiB 512; set api.dbPoolSizePerWorker to 3 or less, set api.replicasMax to 4 or less, raise postgres.k8sMemoryLimitMiB, or put a pooler (RDS Proxy, PgBouncer) in front of Postgres',
    ]);
  });

  it('a profile checked for one target skips only the other target\'s connection budget', () => {
    const smallK8sPostgres = { extends: 'optimized', name: 'small', postgres: { k8sMemoryLimitMiB: 512, k8sMemoryRequestMiB: 512 } } as const;
    expect(resolveProfileLayer(smallK8sPostgres, undefined, { target: 'aws' }).postgres.k8sMemoryLimitMiB).toBe(512);
    expect(() => resolveProfileLayer(smallK8sPostgres, undefined, { target: 'k8s' })).toThrow('connection budget exceeded on Kubernetes');
    const bigPool = { extends: 'optimized', name: 'pool', api: { dbPoolSizePerWorker: 50 } } as const;
    expect(() => resolveProfileLayer(bigPool, undefined, { target: 'aws' })).toThrow('connection budget exceeded on RDS');
    // Checks about both targets still hold when scoped.
    expect(() => resolveProfileLayer({ extends: 'optimized', name: 'min', api: { replicasMin: 8 } }, undefined, { target: 'aws' })).toThrow("'api.replicasMin' (8) must be <= 'api.replicasMax' (6)");
  });

  it('replicasMin above replicasMax', () => {
    expect(problemsOf({ api: { replicasMin: 8 } })).toContain("api.replicasMin: 'api.replicasMin' (8) must be <= 'api.replicasMax' (6)");
  });

  it('nginx keepalive timeout not below the app keep-alive', () => {
    expect(problemsOf({ api: { gracefulTimeoutSeconds: 90 }, nginx: { upstreamKeepaliveTimeoutSeconds: 65 } })).toEqual([
      "nginx.upstreamKeepaliveTimeoutSeconds: nginx upstream keepalive_timeout (65 s) must be below the app's keep-alive timeout (api.keepAliveTimeoutSeconds = 65 s); use 60 or less",
    ]);
  });

  it('nginx keepalive timeout that a draining worker cannot wait out', () => {
    expect(problemsOf({ nginx: { upstreamKeepaliveTimeoutSeconds: 21 } })).toEqual([
      'nginx.upstreamKeepaliveTimeoutSeconds: nginx upstream keepalive_timeout (21 s) + 10 s must fit in api.gracefulTimeoutSeconds (30 s), or a draining worker is killed before nginx has closed its idle connections; use 20 or less, or raise api.gracefulTimeoutSeconds',
    ]);
    expect(() => resolveProfileLayer({ extends: 'optimized', nginx: { upstreamKeepaliveTimeoutSeconds: 20 } })).not.toThrow();
  });

  it('an app that may answer after nginx has given up', () => {
    expect(problemsOf({ api: { statementTimeoutMs: 30_000 } })).toEqual([
      "nginx.proxyReadTimeoutSeconds: 30 s must exceed the longest the app takes to answer, api.dbAcquireTimeoutMs + api.statementTimeoutMs + 1000 ms (the query deadline's margin) = 33 s, or nginx times slow requests out and counts them against healthy replicas; raise it to 38 or lower the app's timeouts",
    ]);
  });

  it('app keep-alive not above the ALB idle timeout', () => {
    expect(problemsOf({ api: { keepAliveTimeoutSeconds: 30 } })).toContain(
      'api.keepAliveTimeoutSeconds: 30 s must be above the ALB idle timeout (60 s), or the app may close a connection the proxy is reusing; use 65',
    );
  });

  it('container stop timeout not covering the graceful timeout', () => {
    expect(problemsOf({ api: { containerStopTimeoutSeconds: 40 } })).toEqual([
      'api.containerStopTimeoutSeconds: 40 s must exceed the shutdown delay + gracefulTimeoutSeconds (15 + 30 = 45 s; the delay is the longer of preStopDelaySeconds and the 15 s nginx may still send to a task that left Cloud Map), or in-flight requests are killed; use 50',
    ]);
    // A longer preStopDelaySeconds is the delay itself.
    expect(resolveProfileLayer({ extends: 'optimized', api: { preStopDelaySeconds: 20 } }).derived.api).toMatchObject({ shutdownDelaySeconds: 20, containerStopTimeoutSeconds: 55 });
  });

  it('termination grace period not above the stop timeout', () => {
    expect(problemsOf({ api: { terminationGracePeriodSeconds: 50 } })).toEqual([
      'api.terminationGracePeriodSeconds: 50 s must exceed the container stop timeout (50 s); use 55',
    ]);
  });

  it('Fargate vCPU/memory combination', () => {
    expect(problemsOf({ api: { memoryMiBPerReplica: 1024 } })).toEqual([
      'api.memoryMiBPerReplica: 1024 MiB is not valid with 2 vCPU on Fargate; allowed: 4096 to 16384 in steps of 1024 MiB',
    ]);
  });

  it('unknown RDS instance class', () => {
    const [problem] = problemsOf({ postgres: { instanceClass: 'db.x9.huge' } });
    expect(problem).toMatch(/^postgres\.instanceClass: unknown RDS instance class "db\.x9\.huge"; known families \(sizes\): db\.t3 \(micro to 2xlarge\), db\.t4g .*db\.r7g \(large to 16xlarge\)$/);
  });

  it('commitment without a term', () => {
    expect(problemsOf({ purchase: { option: 'reserved', termYears: null, payment: null } })).toEqual([
      'purchase.termYears: reserved needs a term: 1 or 3',
      'purchase.payment: reserved needs a payment: no-upfront, partial-upfront or all-upfront',
    ]);
  });
});

describe('profile files', () => {
  it('loads a YAML file that extends a built-in and overrides fields', () => {
    const p = loadProfile(join(fixtures, 'mine.yaml'));
    expect(p.name).toBe('mine');
    expect(p.api.replicasMax).toBe(8);
    expect(p.api.dbPoolSizePerWorker).toBe(8);
    // Untouched fields come from optimized, which itself extends baseline.
    expect(p.api.cpuArchitecture).toBe('arm64');
    expect(p.api.keepAliveTimeoutSeconds).toBe(65);
    expect(p.source).toEqual([join(fixtures, 'mine.yaml'), 'builtin:optimized', 'builtin:baseline']);
  });

  it('loads a JSON file that extends a YAML file, relative to itself', () => {
    const p = loadProfile(join(fixtures, 'mine.json'));
    expect(p.name).toBe('mine-json');
    expect(p.api.replicasMax).toBe(8);
    expect(p.derived.api.workersPerReplica).toBe(4);
  });

  it('merges nested objects key by key and replaces scalars', () => {
    expect(mergeLayers({ a: { b: 1, c: 2 }, d: [1, 2] }, { a: { c: 3 }, d: [9] })).toEqual({ a: { b: 1, c: 3 }, d: [9] });
    expect(mergeLayers({ a: { b: 1 } }, { a: null })).toEqual({});
  });

  it('collects every problem of a broken file into one error, with typo suggestions', () => {
    let error: ProfileError | undefined;
    try {
      loadProfile(join(fixtures, 'broken.yaml'));
    } catch (e) {
      error = e as ProfileError;
    }
    expect(error).toBeInstanceOf(ProfileError);
    expect(error!.problems).toEqual([
      'name: "Broken Name" — must be lowercase letters, digits and dashes',
      'api.replicasMin: 0 — must be > 0',
      'api.cpuArchitecture: "sparc" — must be one of "x86_64", "arm64"',
      'api.replicsMax: unknown field; did you mean "api.replicasMax"?',
      'postgres.storageGiB: 10 — RDS needs at least 20 GiB of gp2/gp3 storage',
      'postgres.multiAZ: unknown field; did you mean "postgres.multiAz"?',
    ]);
    expect(error!.message).toMatch(/is invalid \(6 problems\)/);
  });

  it('says to add `extends` when a file that extends nothing misses many fields', () => {
    const file = join(tempDir(), 'standalone.yaml');
    writeFileSync(file, 'api:\n  replicasMin: 2\n');
    expect(() => loadProfile(file)).toThrow(/\nhint: this profile extends nothing, so it must set every field; add `extends: optimized` \(or baseline, loadtest, production-ha\)/);
    writeFileSync(file, 'extends: optimized\napi:\n  replicasMin: 0\n');
    expect(() => loadProfile(file)).not.toThrow(/hint/);
  });

  it('lists the allowed fields when an unknown one looks like no known field', () => {
    expect(problemsOf({ redis: { flavour: 'x' } as never })).toEqual([
      'redis.flavour: unknown field; allowed here: engine, engineVersion, nodeType, replicas, multiAz, k8sCpuRequestMillicores, k8sMemoryRequestMiB, k8sMemoryLimitMiB, maxmemoryPercent, maxmemoryPolicy, persistence, storageGiB, k8sMode, k8sExternalHost',
    ]);
  });

  it('rejects an unknown profile name with a suggestion', () => {
    expect(() => loadProfile('optimzed')).toThrow('unknown profile "optimzed" (did you mean "optimized"?); built-in profiles are baseline, optimized, loadtest, production-ha, or pass a path to a .json/.yaml file');
  });

  it('rejects malformed YAML and JSON with the parser message', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), 'api:\n  replicasMax: [1\n');
    writeFileSync(join(dir, 'bad.json'), '{"api": ');
    expect(() => loadProfile(join(dir, 'bad.yaml'))).toThrow(/bad\.yaml is not valid YAML/);
    expect(() => loadProfile(join(dir, 'bad.json'))).toThrow(/bad\.json is not valid JSON/);
  });

  it('rejects an extends loop', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), 'extends: ./b.yaml\n');
    writeFileSync(join(dir, 'b.yaml'), 'extends: ./a.yaml\n');
    expect(() => loadProfile(join(dir, 'a.yaml'))).toThrow(/'extends' chain loops/);
  });

  it('keeps built-in layers untouched when a file overrides them', () => {
    loadProfile(join(fixtures, 'mine.yaml'));
    expect(BUILTIN_PROFILES.optimized!.api!.replicasMax).toBe(6);
  });
});

describe('apistack profile CLI', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), ...args], { encoding: 'utf8', cwd: repoRoot });

  it('profile list names every built-in', () => {
    const r = cli('profile', 'list');
    expect(r.status).toBe(0);
    for (const name of builtinProfileNames()) expect(r.stdout).toContain(name);
  });

  it('profile show --json prints the resolved profile with the derived budget', () => {
    const r = cli('profile', 'show', 'optimized', '--json');
    expect(r.status).toBe(0);
    const shown = JSON.parse(r.stdout);
    expect(shown.name).toBe('optimized');
    expect(shown.derived.postgres.budgetAws.required).toBe(70);
  });

  it('profile validate exits 0 with a one-line summary', () => {
    const r = cli('profile', 'validate', join(fixtures, 'mine.yaml'));
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/^ok mine: api 2-8 replicas × 2 workers/);
  });

  it('profile validate exits 1 with every problem and no stack trace', () => {
    const r = cli('profile', 'validate', join(fixtures, 'broken.yaml'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('did you mean "api.replicasMax"?');
    expect(r.stderr).toContain('postgres.storageGiB');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('network.loadBalancerCertificateArn', () => {
  it('the certificate is an ACM ARN of the profile\'s region', () => {
    const ireland = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';
    expect(problemsOf({ network: { loadBalancerCertificateArn: 'arn:aws:iam::123456789012:server-certificate/mine' } })).toEqual([
      'network.loadBalancerCertificateArn: "arn:aws:iam::123456789012:server-certificate/mine" — must be an ACM certificate ARN: "arn:aws:acm:<region>:<12-digit account>:certificate/<id>"',
    ]);
    expect(problemsOf({ network: { loadBalancerCertificateArn: ireland } })).toEqual([
      'network.loadBalancerCertificateArn: the certificate is in eu-west-1, not in the profile\'s region us-east-1; a load balancer can use only an ACM certificate from its own region: request or import one in us-east-1',
    ]);
    expect(resolveProfileLayer({ extends: 'optimized', name: 'eu', region: 'eu-west-1', network: { loadBalancerCertificateArn: ireland } }).network.loadBalancerCertificateArn).toBe(ireland);
  });
});
