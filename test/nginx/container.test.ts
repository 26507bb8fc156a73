/**
 * The AWS and Kubernetes configs in the nginx the image runs (>= 1.27.3 for upstream `resolve`;
 * .ci/install-nginx.sh), on loopback: what Fargate does to the /tmp volume, the NLB's PROXY
 * protocol v2 header, and DNS answers that change (and that Cloud Map caps at 8 records).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kubernetesNginxConfig } from '../../charts/nginx.ts';
import { awsNginxConfig } from '../../lib/aws/balancer.ts';
import { VPC_RESOLVER } from '../../lib/aws/stack.ts';
import { builtinProfileNames, loadProfile, PORTS, resolveProfileLayer, type ProfileLayer, type ResolvedProfile } from '../../lib/profile/index.ts';
import { CONTAINER_TEMP_DIR, NGINX_HEALTH_PATH, NGINX_UID, volumeInitCommand } from '../../nginx/index.ts';
import { currentNginx, currentNginxTest, onLoopback, startCurrentNginx, writeConf, type RunningNginx } from '../helpers/current-nginx.ts';
import { startDnsStub, type DnsStub } from '../helpers/dns-stub.ts';
import { proxyV2Header, rawGet } from '../helpers/proxy-protocol.ts';
import { freePort, tempDir } from '../helpers/servers.ts';

const AWS_API_HOST = 'api.apistack.local';
const CONTAINER = { listen: PORTS.nginx, status: PORTS.nginxStatus, internal: PORTS.nginxInternal };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An HTTP backend on one loopback address, answering with that address. */
async function backend(address: string, port: number): Promise<Server> {
  const server = createServer((_req, res) => res.end(address));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, address, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return server;
}

async function dnsStub(opts: { maxAnswers?: number } = {}): Promise<DnsStub> {
  const stub = await startDnsStub(opts);
  cleanups.push(() => stub.close());
  return stub;
}

interface Started {
  readonly nginx: RunningNginx;
  readonly ports: { listen: number; status: number; internal: number };
  readonly dir: string;
}

/**
 * A rendered container config on loopback with the current nginx: `/tmp` is `tempDir` (created
 * here, world-writable, unless given), the balancer's networks are 127.0.0.1 (the test's PROXY
 * client), and the resolver is the stub.
 */
async function start(conf: string, opts: { dns: DnsStub; upstreamPort: number; tempDir?: string; uid?: number; balancerCidrs?: readonly string[] }): Promise<Started> {
  const dir = tempDir('apistack-nginx-c-');
  chmodSync(dir, 0o755);
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { mode: 0o777 });
  chmodSync(logDir, 0o777);
  let temp = opts.tempDir;
  if (temp === undefined) {
    temp = join(dir, 'tmp');
    mkdirSync(temp);
    chmodSync(temp, 0o777);
  }
  const ports = { listen: await freePort(), status: await freePort(), internal: await freePort() };
  let text = onLoopback(conf, { tempDir: temp, logDir, ports, container: CONTAINER, resolver: `${opts.dns.address}:${opts.dns.port}`, upstreamPort: { from: PORTS.api, to: opts.upstreamPort } });
  if (opts.balancerCidrs) {
    const trusted = [...text.matchAll(/^\s*set_real_ip_from (\S+);$/gm)].map((m) => m[1]);
    expect(trusted.length, 'the config trusts no balancer network').toBeGreaterThan(0);
    text = text.replace(/^(\s*)set_real_ip_from \S+;\n(?:\s*set_real_ip_from \S+;\n)*/m, (_all, sp: string) => opts.balancerCidrs!.map((c) => `${sp}set_real_ip_from ${c};\n`).join(''));
  }
  const confFile = writeConf(dir, text);
  const nginx = await startCurrentNginx({ confFile, prefix: dir, errorLog: join(logDir, 'error.log'), waitPort: ports.status, ...(opts.uid !== undefined ? { uid: opts.uid } : {}) });
  cleanups.push(() => nginx.stop());
  // nginx resolves the upstream name after it starts: until then it answers 502.
  const proxied = /listen \S+ proxy_protocol;/.test(text);
  const deadline = Date.now() + 10_000;
  while ((await rawGet(ports.listen, '/v1/ready', proxied ? { header: proxyV2Header({ command: 'LOCAL' }) } : {})).status === 502) {
    if (Date.now() > deadline) throw new Error(`nginx found no upstream within 10 s:\n${nginx.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { nginx, ports, dir };
}

/** A client `source` as the NLB announces it, over a connection from 127.0.0.1 (the "balancer"). */
function fromClient(source: string, port: number) {
  return proxyV2Header({ command: 'PROXY', source, sourcePort: 40000, destination: '10.0.1.10', destinationPort: port });
}

function layer(l: ProfileLayer): ResolvedProfile {
  return resolveProfileLayer(l);
}

describe('the nginx the image runs', () => {
  it('is found, and is at least the version the image pins', () => {
    const r = spawnSync(currentNginx(), ['-V'], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/nginx version: nginx\/\d+\.\d+\.\d+/);
    // The modules the rendered configs use are compiled in.
    for (const module of ['http_realip_module', 'http_stub_status_module']) expect(r.stderr).toContain(`--with-${module}`);
  });

  it.each(builtinProfileNames())('nginx -t accepts the AWS and Kubernetes configs of %s', async (name) => {
    const dns = await dnsStub();
    const p = loadProfile(name);
    for (const [target, conf] of [
      ['aws', awsNginxConfig(p, AWS_API_HOST, VPC_RESOLVER)],
      ['kubernetes', kubernetesNginxConfig(p)],
    ] as const) {
      const dir = tempDir('apistack-nginx-t-');
      for (const sub of ['tmp', 'logs']) mkdirSync(join(dir, sub));
      // The file the volume-init container writes on AWS, when the profile has one.
      writeFileSync(join(dir, 'tmp', 'nat-gateways.geo'), '198.51.100.7 1;\n');
      const text = onLoopback(conf, { tempDir: join(dir, 'tmp'), logDir: join(dir, 'logs'), ports: { listen: 18080, status: 18081, internal: 18082 }, container: CONTAINER, resolver: `${dns.address}:${dns.port}` });
      const result = currentNginxTest(writeConf(dir, text), dir);
      expect(result.output, `${name} ${target}`).toMatch(/syntax is ok[\s\S]*test is successful/);
      expect(result.ok).toBe(true);
    }
  });
});

describe('nginx on Fargate: the task volume at /tmp', () => {
  it('fails as uid 101 on the root-owned 0755 directory ECS creates, and starts after the volume-init command', async () => {
    const dns = await dnsStub();
    const port = await freePort();
    dns.records.set(AWS_API_HOST, ['127.0.0.11']);
    await backend('127.0.0.11', port);
    const conf = awsNginxConfig(loadProfile('optimized'), AWS_API_HOST, VPC_RESOLVER);
    const volume = tempDir('apistack-ecs-volume-');
    chownSync(volume, 0, 0);
    chmodSync(volume, 0o755);

    const failed = start(conf, { dns, upstreamPort: port, tempDir: volume, uid: NGINX_UID });
    await expect(failed).rejects.toThrow(/mkdir\(\) ".*\/client_body" failed \(13: Permission denied\)/);

    // What the root init container runs on the volume (the same text as the task definition's).
    const init = spawnSync('sh', ['-c', volumeInitCommand(volume)], { encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    const { ports } = await start(conf, { dns, upstreamPort: port, tempDir: volume, uid: NGINX_UID, balancerCidrs: ['127.0.0.1/32'] });
    expect(await rawGet(ports.status, NGINX_HEALTH_PATH)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await rawGet(ports.listen, '/v1/anything', { header: fromClient('198.51.100.2', 80) })).toMatchObject({ status: 200, body: '127.0.0.11' });
    expect(volumeInitCommand()).toContain(`chown ${NGINX_UID}:${NGINX_UID} ${CONTAINER_TEMP_DIR}`);
  });
});

describe('client addresses through the NLB (PROXY protocol v2)', () => {
  // One request a second per client, no burst: a second request at once is refused.
  const strict = { nginx: { rateLimitPerClientPerSecond: 1, rateLimitBurst: 0 } };

  it.each([
    ['aws', (p: ResolvedProfile) => awsNginxConfig(p, AWS_API_HOST, VPC_RESOLVER), AWS_API_HOST],
    ['kubernetes', (p: ResolvedProfile) => kubernetesNginxConfig(p), 'api-headless.apistack.svc.cluster.local'],
  ] as const)('%s: two clients are limited separately, and a noisy one does not throttle the other', async (_target, render, host) => {
    const dns = await dnsStub();
    const port = await freePort();
    dns.records.set(host, ['127.0.0.11']);
    await backend('127.0.0.11', port);
    const { ports } = await start(render(layer({ extends: 'optimized', ...strict })), { dns, upstreamPort: port, balancerCidrs: ['127.0.0.1/32'] });

    const noisy: number[] = [];
    for (let i = 0; i < 5; i++) noisy.push((await rawGet(ports.listen, '/v1/x', { header: fromClient('198.51.100.2', 80) })).status);
    expect(noisy[0]).toBe(200);
    expect(noisy.slice(1)).toContain(429);
    // Another client right after: its own bucket.
    expect((await rawGet(ports.listen, '/v1/x', { header: fromClient('198.51.100.3', 80) })).status).toBe(200);

    // A header from outside the balancer's networks is not believed: the limit key is the peer's.
    const untrusted = [];
    for (const source of ['198.51.100.4', '198.51.100.5']) untrusted.push((await rawGet(ports.listen, '/v1/x', { header: fromClient(source, 80), localAddress: '127.0.0.5' })).status);
    expect(untrusted).toEqual([200, 429]);

    // The NLB's health checks send a LOCAL header; a connection without any header is refused.
    expect(await rawGet(ports.listen, NGINX_HEALTH_PATH, { header: proxyV2Header({ command: 'LOCAL' }) })).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await rawGet(ports.listen, NGINX_HEALTH_PATH)).status).not.toBe(200);
    // Probes ask the status port, which takes no header.
    expect((await rawGet(ports.status, NGINX_HEALTH_PATH)).status).toBe(200);
  });

  it('kubernetes: in-cluster callers use the plain internal port', async () => {
    const dns = await dnsStub();
    const port = await freePort();
    dns.records.set('api-headless.apistack.svc.cluster.local', ['127.0.0.11']);
    await backend('127.0.0.11', port);
    const { ports } = await start(kubernetesNginxConfig(loadProfile('optimized')), { dns, upstreamPort: port });
    expect(await rawGet(ports.internal, '/v1/x')).toMatchObject({ status: 200, body: '127.0.0.11' });
  });

  it('aws loadtest: the exemption matches the generators (behind the NAT gateways), not the balancer', async () => {
    const dns = await dnsStub();
    const port = await freePort();
    dns.records.set(AWS_API_HOST, ['127.0.0.11']);
    await backend('127.0.0.11', port);
    const p = layer({ extends: 'loadtest', ...strict });
    const conf = awsNginxConfig(p, AWS_API_HOST, VPC_RESOLVER);
    const volume = tempDir('apistack-ecs-volume-');
    chmodSync(volume, 0o755);
    // The init container writes the NAT gateways' public addresses it gets from CloudFormation.
    const init = spawnSync('sh', ['-c', volumeInitCommand(volume, { file: `${volume}/nat-gateways.geo`, variable: 'NAT_PUBLIC_ADDRESSES' })], {
      encoding: 'utf8',
      env: { ...process.env, NAT_PUBLIC_ADDRESSES: '198.51.100.7 198.51.100.8' },
    });
    expect(init.status, init.stderr).toBe(0);
    const { ports } = await start(conf, { dns, upstreamPort: port, tempDir: volume, uid: NGINX_UID, balancerCidrs: ['127.0.0.1/32'] });

    const statuses = async (source: string) => {
      const out: number[] = [];
      for (let i = 0; i < 4; i++) out.push((await rawGet(ports.listen, '/v1/x', { header: fromClient(source, 80) })).status);
      return out;
    };
    expect(await statuses('198.51.100.8')).toEqual([200, 200, 200, 200]);
    // A client on the internet is limited, although the balancer (127.0.0.1) is in the exempt 127.0.0.0/8.
    expect((await statuses('203.0.113.9')).slice(1)).toContain(429);
  });
});

describe('re-resolution behind DNS', () => {
  it('kubernetes: a pod that appears gets requests, and one that disappears stops getting them', async () => {
    const dns = await dnsStub();
    const port = await freePort();
    const host = 'api-headless.apistack.svc.cluster.local';
    dns.records.set(host, ['127.0.0.11']);
    await backend('127.0.0.11', port);
    await backend('127.0.0.12', port);
    const { ports } = await start(kubernetesNginxConfig(loadProfile('optimized')), { dns, upstreamPort: port });
    const seen = async (n: number) => {
      const out = new Set<string>();
      for (let i = 0; i < n; i++) out.add((await rawGet(ports.internal, '/v1/x')).body);
      return out;
    };
    expect(await seen(4)).toEqual(new Set(['127.0.0.11']));

    dns.records.set(host, ['127.0.0.11', '127.0.0.12']);
    const deadline = Date.now() + 20_000;
    let both = new Set<string>();
    while (Date.now() < deadline && both.size < 2) {
      both = await seen(4);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(both).toEqual(new Set(['127.0.0.11', '127.0.0.12']));

    dns.records.set(host, ['127.0.0.12']);
    let after = both;
    while (Date.now() < deadline + 20_000 && after.has('127.0.0.11')) {
      after = await seen(6);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(after).toEqual(new Set(['127.0.0.12']));
    expect(dns.queries(host)).toBeGreaterThan(2);
  }, 60_000);

  it('aws: Cloud Map answers at most 8 addresses, so nginx reaches 8 of 10 tasks (why the profile refuses more)', async () => {
    const dns = await dnsStub({ maxAnswers: 8 });
    const port = await freePort();
    const tasks = Array.from({ length: 10 }, (_, i) => `127.0.0.${21 + i}`);
    dns.records.set(AWS_API_HOST, tasks);
    for (const t of tasks) await backend(t, port);
    const { ports } = await start(awsNginxConfig(loadProfile('optimized'), AWS_API_HOST, VPC_RESOLVER), { dns, upstreamPort: port, balancerCidrs: ['127.0.0.1/32'] });
    const reached = new Set<string>();
    for (let i = 0; i < 40; i++) reached.add((await rawGet(ports.listen, '/v1/x', { header: proxyV2Header({ command: 'LOCAL' }) })).body);
    expect(reached.size).toBe(8);
  });
});
