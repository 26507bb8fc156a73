import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIRECTIVE_SINCE, MIN_NGINX_FOR_RESOLVE, PARAMETER_SINCE, renderNginxConfig, UPSTREAM_SERVER_PARAMETER_SINCE, versionAtLeast, type NginxTarget } from '../../nginx/index.ts';
import { builtinProfileNames, loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
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

/** Golden text: compared exactly; UPDATE_GOLDEN=1 rewrites it deliberately. */
function golden(name: string, text: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

/** Directives as [name, ...args], from nginx.conf text (enough for what the renderer emits). */
function directives(conf: string): string[][] {
  const out: string[][] = [];
  for (const raw of conf.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line === '}') continue;
    if (line.startsWith("log_format")) {
      out.push(['log_format', 'apistack_json', 'escape=json']);
      continue;
    }
    const words = line.replace(/[;{]$/, '').trim().split(/\s+/);
    // Entries of a `map` block are values, not directives.
    if (words[0]!.startsWith('"') || words[0] === 'default') continue;
    out.push(words);
  }
  return out;
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
    expect(conf).toContain(`server 127.0.0.1:3001 max_fails=3 fail_timeout=30s max_conns=${p.derived.nginx.maxConnsPerUpstreamServer};`);
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

  it('kubernetes: golden text, resolving the headless Service by its full name', () => {
    const conf = renderNginxConfig(loadProfile('optimized'), kubernetesTarget);
    expect(conf).toContain('server api-headless.apistack.svc.cluster.local:8000 resolve ');
    golden('kubernetes-optimized.conf', conf);
  });

  it('aws: golden text, resolving the Cloud Map name through the VPC resolver', () => {
    const conf = renderNginxConfig(loadProfile('production-ha'), awsTarget);
    expect(conf).toContain('server api.apistack.local:8000 resolve ');
    golden('aws-production-ha.conf', conf);
  });

  it.each([
    ['kubernetes', kubernetesTarget],
    ['aws', awsTarget],
  ] as const)('%s: every directive and parameter exists in the nginx version the image pins', (_name, target) => {
    const p = loadProfile('optimized');
    const pinned = p.nginx.imageTag;
    expect(versionAtLeast(pinned, MIN_NGINX_FOR_RESOLVE)).toBe(true);
    let inUpstream = false;
    for (const [name, ...args] of directives(renderNginxConfig(p, target))) {
      if (name === 'upstream') inUpstream = true;
      if (name === 'server' && !inUpstream) continue; // a server block, not an upstream server line
      const since = DIRECTIVE_SINCE[name!];
      expect(since, `unknown directive "${name}"`).toBeDefined();
      expect(versionAtLeast(pinned, since!), `${name} needs nginx ${since}`).toBe(true);
      if (name === 'server' && inUpstream) {
        for (const arg of args.slice(1)) {
          const param = arg.split('=')[0]!;
          const paramSince = UPSTREAM_SERVER_PARAMETER_SINCE[param];
          expect(paramSince, `unknown server parameter "${param}"`).toBeDefined();
          expect(versionAtLeast(pinned, paramSince!), `server ${param} needs nginx ${paramSince}`).toBe(true);
        }
      }
      for (const arg of args) {
        const paramSince = PARAMETER_SINCE[name!]?.[arg];
        if (paramSince) expect(versionAtLeast(pinned, paramSince)).toBe(true);
      }
      if (name === 'keepalive_requests') inUpstream = false;
    }
  });

  it('rejects a directive the table does not know (the check can fail)', () => {
    const conf = renderNginxConfig(loadProfile('optimized'), kubernetesTarget).replace('least_conn;', 'least_conn;\n    random two;');
    const names = directives(conf).map(([n]) => n);
    expect(names.filter((n) => DIRECTIVE_SINCE[n!] === undefined)).toEqual(['random']);
  });

  it('the Dockerfile pins the same nginx version as every built-in profile, at least 1.27.3', () => {
    const dockerfile = readFileSync(join(import.meta.dirname, '..', '..', 'nginx', 'Dockerfile'), 'utf8');
    const pinned = /^ARG NGINX_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
    expect(pinned).toBeDefined();
    expect(versionAtLeast(pinned!, '1.27.3')).toBe(true);
    for (const name of builtinProfileNames()) expect(loadProfile(name).nginx.imageTag).toBe(pinned);
    expect(dockerfile).toMatch(/^USER 101:101$/m);
  });
});
