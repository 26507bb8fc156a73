import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIRECTIVE_SINCE, MIN_NGINX_FOR_RESOLVE, PINNED_NGINX_VERSION, PARAMETER_SINCE, renderNginxConfig, UPSTREAM_SERVER_PARAMETER_SINCE, versionAtLeast, type NginxTarget } from '../../nginx/index.ts';
import { builtinProfileNames, loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { kubernetesNginxConfig } from '../../charts/nginx.ts';
import { awsNginxConfig } from '../../lib/aws/balancer.ts';
import { nginxConfigTest, tempDir } from '../helpers/servers.ts';

const goldenDir = join(import.meta.dirname, 'golden');

const kubernetesTarget: NginxTarget = {
  kind: 'kubernetes',
  upstreamHost: 'api-headless.apistack.svc.cluster.local',
  upstreamPort: 8000,
  resolver: 'kube-dns.kube-system.svc.cluster.local',
  listenPort: 8080,
  statusPort: 8081,
};
const awsTarget: NginxTarget = {
  kind: 'aws',
  upstreamHost: 'api.apistack.local',
  upstreamPort: 8000,
  // The VPC's Route 53 Resolver answers at this link-local address from every subnet.
  resolver: '169.254.169.253',
  listenPort: 8080,
  statusPort: 8081,
};

/** Golden text: compared exactly; UPDATE_GOLDEN=1 writes it deliberately (a missing file fails). */
function golden(name: string, text: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 to write it`).toBe(true);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** Names of the enclosing blocks, outermost first, e.g. ['http', 'upstream']. */
  readonly blocks: readonly string[];
}

/** nginx.conf text → every directive with its arguments and enclosing blocks (quotes and comments honoured). */
function directives(conf: string): Directive[] {
  const tokens = conf.match(/#[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[;{}]|[^\s;{}"'#]+/g) ?? [];
  const out: Directive[] = [];
  const blocks: string[] = [];
  let words: string[] = [];
  for (const token of tokens) {
    if (token.startsWith('#')) continue;
    if (token === ';' || token === '{') {
      const [name, ...args] = words;
      if (name === undefined) throw new Error(`empty directive before "${token}" in:\n${conf}`);
      // Entries of `map` and `geo` blocks are source → value pairs, not directives.
      if (blocks.at(-1) !== 'map' && blocks.at(-1) !== 'geo') out.push({ name, args, blocks: [...blocks] });
      if (token === '{') blocks.push(name);
      words = [];
    } else if (token === '}') {
      if (words.length > 0 || blocks.pop() === undefined) throw new Error(`unbalanced "}" in:\n${conf}`);
    } else words.push(token);
  }
  if (words.length > 0 || blocks.length > 0) throw new Error(`unterminated directive or block in:\n${conf}`);
  return out;
}

/** Every directive and parameter the pinned nginx would not know, as readable problems. */
function unsupported(conf: string, pinned: string): string[] {
  const problems: string[] = [];
  const need = (what: string, since: string | undefined) => {
    if (since === undefined) problems.push(`unknown ${what}`);
    else if (!versionAtLeast(pinned, since)) problems.push(`${what} needs nginx ${since}, the image pins ${pinned}`);
  };
  for (const { name, args, blocks } of directives(conf)) {
    need(`directive "${name}"`, DIRECTIVE_SINCE[name]);
    if (name === 'server' && blocks.at(-1) === 'upstream') {
      for (const arg of args.slice(1)) need(`server parameter "${arg.split('=')[0]}"`, UPSTREAM_SERVER_PARAMETER_SINCE[arg.split('=')[0]!]);
    }
    for (const arg of args) {
      const since = PARAMETER_SINCE[name]?.[arg];
      if (since !== undefined) need(`"${name} ... ${arg}"`, since);
    }
  }
  return problems;
}

describe('nginx renderer', () => {
  it.each(builtinProfileNames())('renders a local config for %s that the Debian nginx accepts (nginx -t)', (name) => {
    const dir = tempDir();
    for (const sub of ['temp', 'logs']) mkdirSync(join(dir, sub), { mode: 0o777 });
    const conf = renderNginxConfig(loadProfile(name), { kind: 'local', listenPort: 18080, statusPort: 18081, upstreamPorts: [18001, 18002], prefixDir: dir });
    const result = nginxConfigTest(conf);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('sizes the local upstream from the profile', () => {
    const p = loadProfile('optimized');
    const conf = renderNginxConfig(p, { kind: 'local', listenPort: 1, statusPort: 2, upstreamPorts: [3001, 3002], prefixDir: '/x' });
    expect(conf).toContain('least_conn;');
    expect(conf).toContain(`server 127.0.0.1:3001 max_fails=${p.derived.nginx.maxConnsPerUpstreamServer + 1} fail_timeout=10s max_conns=${p.derived.nginx.maxConnsPerUpstreamServer};`);
    expect(conf).toContain(`keepalive ${p.derived.nginx.upstreamKeepaliveConnections};`);
    expect(conf).toContain(`keepalive_timeout ${p.derived.nginx.upstreamKeepaliveTimeoutSeconds}s;`);
    expect(p.derived.nginx.upstreamKeepaliveTimeoutSeconds).toBeLessThan(p.api.keepAliveTimeoutSeconds);
    expect(conf).not.toMatch(/^\s*daemon/m);
    expect(conf).not.toContain('non_idempotent');
  });

  it('switches the access log off when the profile says so', () => {
    const p = resolveProfileLayer({ extends: 'loadtest', nginx: { accessLog: false } });
    const conf = renderNginxConfig(p, kubernetesTarget);
    expect(conf).toContain('access_log off;');
    expect(conf).not.toContain('apistack_json buffer=');
  });

  it('maps exempt networks to an empty limit key, and keys everyone else by address', () => {
    const loadtest = renderNginxConfig(loadProfile('loadtest'), kubernetesTarget);
    expect(loadtest).toContain('    geo $apistack_limit_exempt {\n        127.0.0.0/8 1;\n        ::1/128 1;\n        10.0.0.0/8 1;');
    expect(loadtest).toContain('    map $apistack_limit_exempt $apistack_limit_key {\n        1 "";\n        default $binary_remote_addr;\n    }');
    expect(loadtest).toContain('limit_req_zone $apistack_limit_key zone=per_client:10m');
    expect(loadtest).toContain('limit_conn_zone $apistack_limit_key zone=per_client_conn:10m');
    // Production profiles exempt nobody: no geo block at all.
    const optimized = renderNginxConfig(loadProfile('optimized'), kubernetesTarget);
    expect(optimized).not.toContain('geo ');
    expect(optimized).toContain('limit_req_zone $binary_remote_addr zone=per_client:10m rate=200r/s;');
  });

  it('logs only failures when the access log is "errors"', () => {
    const conf = renderNginxConfig(loadProfile('loadtest'), kubernetesTarget);
    expect(conf).toContain('    map $status $apistack_log_failure {\n        ~^[23] 0;\n        default 1;\n    }');
    expect(conf).toContain('access_log /dev/stdout apistack_json buffer=64k flush=1s if=$apistack_log_failure;');
  });

  it('leaves out a burst of 0, which nginx refuses', () => {
    const p = resolveProfileLayer({ extends: 'loadtest', nginx: { rateLimitBurst: 0 } });
    const conf = renderNginxConfig(p, { kind: 'local', listenPort: 1, statusPort: 2, upstreamPorts: [3001, 3002], prefixDir: '/x' });
    expect(conf).toContain('limit_req zone=per_client nodelay;');
  });

  it('retries only when there was no answer: an answer from the app is never a failure', () => {
    const conf = renderNginxConfig(loadProfile('optimized'), kubernetesTarget);
    expect(conf).toContain('proxy_next_upstream error timeout;');
    expect(conf).not.toMatch(/http_5\d\d/);
  });

  it('takes a replica out only after more failures than one nginx can have in flight on it', () => {
    for (const name of builtinProfileNames()) {
      const p = loadProfile(name);
      const servers = directives(renderNginxConfig(p, kubernetesTarget)).filter((d) => d.name === 'server' && d.blocks.at(-1) === 'upstream');
      // Every request in flight on a killed worker fails at once; that alone must not take the replica out.
      for (const s of servers) expect(s.args, name).toContain(`max_fails=${p.derived.nginx.maxConnsPerUpstreamServer + 1}`);
    }
    // An explicit value is the profile's choice.
    const explicit = resolveProfileLayer({ extends: 'loadtest', nginx: { maxFails: 0 } });
    expect(renderNginxConfig(explicit, kubernetesTarget)).toContain(' max_fails=0 ');
  });

  it('gives a slow client no longer to send its request than the app takes to answer', () => {
    const p = resolveProfileLayer({ extends: 'loadtest', api: { dbAcquireTimeoutMs: 3000, statementTimeoutMs: 9500 } });
    const found = directives(renderNginxConfig(p, kubernetesTarget)).filter((d) => /^client_(header|body)_timeout$/.test(d.name));
    expect(found.map((d) => [d.name, d.args, d.blocks])).toEqual([
      ['client_header_timeout', ['13s'], ['http']],
      ['client_body_timeout', ['13s'], ['http']],
    ]);
  });

  it('kubernetes: golden text, resolving the headless Service by its full name', () => {
    // As the chart ships it: PROXY protocol from the NLB, a plain port for in-cluster callers.
    const conf = kubernetesNginxConfig(loadProfile('optimized'));
    expect(conf).toContain('server api-headless.apistack.svc.cluster.local:8000 resolve ');
    golden('kubernetes-optimized.conf', conf);
  });

  it('aws: golden text, resolving the Cloud Map name through the VPC resolver', () => {
    const conf = awsNginxConfig(loadProfile('production-ha'), 'api.apistack.local', '169.254.169.253');
    expect(conf).toContain('server api.apistack.local:8000 resolve ');
    golden('aws-production-ha.conf', conf);
  });

  it.each([
    ['kubernetes', kubernetesTarget],
    ['aws', awsTarget],
  ] as const)('%s: every directive and parameter exists in the nginx version the image pins', (_name, target) => {
    // `nginx -t` with the Debian 1.22 cannot check these renderings: it predates the upstream
    // `resolver` and `resolve` (1.27.3). The version table is the check instead.
    for (const name of builtinProfileNames()) {
      const p = loadProfile(name);
      expect(versionAtLeast(p.nginx.imageTag, MIN_NGINX_FOR_RESOLVE)).toBe(true);
      const conf = renderNginxConfig(p, target);
      expect(directives(conf).filter((d) => d.name === 'server' && d.blocks.at(-1) === 'upstream').map((d) => d.args.slice(1).map((a) => a.split('=')[0]))).toEqual([
        ['resolve', 'max_fails', 'fail_timeout', 'max_conns'],
      ]);
      expect(unsupported(conf, p.nginx.imageTag)).toEqual([]);
    }
  });

  it('the version check fails on an unknown directive, an unknown server parameter and a too-old pin', () => {
    const conf = renderNginxConfig(loadProfile('optimized'), kubernetesTarget)
      .replace('least_conn;', 'least_conn;\n        random two;')
      .replace(' resolve ', ' resolve slow_start=10s ');
    expect(unsupported(conf, '1.27.3')).toEqual(['unknown directive "random"', 'unknown server parameter "slow_start"']);
    const current = renderNginxConfig(loadProfile('optimized'), kubernetesTarget);
    expect(unsupported(current, '1.26.2')).toEqual([
      'directive "resolver" needs nginx 1.27.3, the image pins 1.26.2',
      'directive "resolver_timeout" needs nginx 1.27.3, the image pins 1.26.2',
      'server parameter "resolve" needs nginx 1.27.3, the image pins 1.26.2',
    ]);
  });

  it('behind a PROXY protocol balancer: the header is required, and believed only from the balancer\'s networks', () => {
    const p = loadProfile('loadtest');
    const conf = renderNginxConfig(p, { ...kubernetesTarget, proxyProtocolFrom: ['10.0.0.0/16'], internalPort: 8082, exemptAddressesFile: '/tmp/nat.geo' });
    const server = directives(conf).filter((d) => d.blocks.join('/') === 'http/server');
    expect(server.filter((d) => ['listen', 'set_real_ip_from', 'real_ip_header'].includes(d.name)).map((d) => [d.name, ...d.args].join(' '))).toEqual([
      'listen 8080 proxy_protocol',
      'listen 8082',
      'set_real_ip_from 10.0.0.0/16',
      'real_ip_header proxy_protocol',
      'listen 8081',
    ]);
    expect(conf).toContain('        include /tmp/nat.geo;\n    }');
    expect(unsupported(conf, p.nginx.imageTag)).toEqual([]);
    // Without a balancer: no PROXY, no real_ip.
    expect(renderNginxConfig(p, kubernetesTarget)).not.toMatch(/proxy_protocol|set_real_ip_from/);
    expect(() => renderNginxConfig(p, { ...kubernetesTarget, proxyProtocolFrom: [], internalPort: 8081 })).toThrow(
      /'proxyProtocolFrom' is empty.*\n  - 'internalPort' \(8081\) must differ from 'listenPort' and 'statusPort'/,
    );
    expect(() => renderNginxConfig(p, { ...kubernetesTarget, internalPort: 8082 })).toThrow(/'internalPort' is only for a PROXY protocol listener/);
  });

  it('resolves the records of the cluster\'s IP family, and listens on it', () => {
    const p = loadProfile('optimized');
    expect(renderNginxConfig(p, kubernetesTarget)).toContain('valid=5s ipv6=off;');
    const v6 = renderNginxConfig(p, { ...kubernetesTarget, ipFamily: 'ipv6' });
    expect(v6).toContain('valid=5s ipv4=off;');
    expect(v6).toContain('listen [::]:8080;');
    expect(v6).toContain('allow ::1;');
    expect(kubernetesNginxConfig(resolveProfileLayer({ extends: 'optimized', kubernetes: { ipFamily: 'ipv6' } }))).toContain('ipv4=off;');
    expect(unsupported(v6, p.nginx.imageTag)).toEqual([]);
  });

  it('the parser sees the blocks the directives are in', () => {
    const conf = renderNginxConfig(loadProfile('optimized'), kubernetesTarget);
    const found = directives(conf);
    expect(found.find((d) => d.name === 'least_conn')?.blocks).toEqual(['http', 'upstream']);
    expect(found.find((d) => d.name === 'stub_status')?.blocks).toEqual(['http', 'server', 'location']);
    expect(found.find((d) => d.name === 'log_format')?.args.slice(0, 2)).toEqual(['apistack_json', 'escape=json']);
    expect(found.some((d) => d.name === 'default')).toBe(false);
  });

  it('rejects an impossible target with every problem named', () => {
    const p = loadProfile('optimized');
    expect(() => renderNginxConfig(p, { kind: 'local', listenPort: 8080, statusPort: 8080, upstreamPorts: [], prefixDir: 'relative' })).toThrow(
      /invalid nginx local target:\n  - 'listenPort' and 'statusPort' are both 8080.*\n  - 'upstreamPorts' is empty.*\n  - 'prefixDir' \("relative"\) must be an absolute path/,
    );
    expect(() => renderNginxConfig(p, { ...kubernetesTarget, upstreamHost: 'api headless', upstreamPort: 70000 })).toThrow(
      /'upstreamPort' \(70000\) must be a TCP port.*\n  - 'upstreamHost' \("api headless"\) must be a DNS name/,
    );
    expect(() => renderNginxConfig(p, { ...awsTarget, resolver: '' })).toThrow(UserError);
  });

  it('the Dockerfile pins the same nginx version as every built-in profile and nginx/versions.ts, at least 1.27.3', () => {
    const dockerfile = readFileSync(join(import.meta.dirname, '..', '..', 'nginx', 'Dockerfile'), 'utf8');
    const pinned = /^ARG NGINX_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
    expect(pinned).toBeDefined();
    expect(versionAtLeast(pinned!, '1.27.3')).toBe(true);
    for (const name of builtinProfileNames()) expect(loadProfile(name).nginx.imageTag).toBe(pinned);
    expect(PINNED_NGINX_VERSION).toBe(pinned);
    expect(dockerfile).toMatch(/^USER 101:101$/m);
  });
});
