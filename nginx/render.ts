/**
 * nginx.conf for the least_conn balancer in front of the API: a pure function of the profile
 * and where it runs. Every number comes from the profile or its derived values.
 */
import { UserError } from '../lib/errors.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { isCidr } from '../lib/profile/schema.ts';
import { PORTS, SERVICE_DNS_TTL_SECONDS } from '../lib/profile/workloads.ts';
import type { NginxTarget } from './types.ts';

/** nginx's own liveness endpoint, answered without the API. */
export const NGINX_HEALTH_PATH = '/nginx-health';
export const STUB_STATUS_PATH = '/stub_status';

/** The one writable directory of the containers (an emptyDir on Kubernetes, an ECS volume on Fargate). */
export const CONTAINER_TEMP_DIR = '/tmp';
/** The uid and gid the image runs nginx as (nginx/Dockerfile `USER 101:101`, the official image's nginx user). */
export const NGINX_UID = 101;

/** Paths nginx writes: inside the prefix locally, under /tmp (an emptyDir) in containers. */
function paths(target: NginxTarget) {
  if (target.kind === 'local') {
    const d = target.prefixDir;
    return { pid: `${d}/nginx.pid`, temp: `${d}/temp`, errorLog: `${d}/logs/error.log`, accessLog: `${d}/logs/access.log` };
  }
  const t = CONTAINER_TEMP_DIR;
  return { pid: `${t}/nginx.pid`, temp: t, errorLog: '/dev/stderr', accessLog: '/dev/stdout' };
}

/**
 * The shell command a root init container runs on the container temp directory before nginx
 * starts: an ECS task volume is created root-owned 0755, where nginx (uid 101, read-only root)
 * cannot create its pid file or temp directories. Optionally writes the `geo` entries of
 * addresses known only at deploy time (exemptAddressesFile), from a space-separated variable.
 */
export function volumeInitCommand(dir: string = CONTAINER_TEMP_DIR, exempt?: { file: string; variable: string }): string {
  const steps = [`chown ${NGINX_UID}:${NGINX_UID} ${dir}`, `chmod 0700 ${dir}`];
  if (exempt) steps.push(`: > ${exempt.file}`, `for a in $${exempt.variable}; do echo "$a 1;" >> ${exempt.file}; done`, `chown ${NGINX_UID}:${NGINX_UID} ${exempt.file}`);
  return steps.join(' && ');
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function checkPort(field: string, port: number, problems: string[]): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`'${field}' (${port}) must be a TCP port, an integer from 1 to 65535`);
}

/** Reject a target nginx would refuse (or start with and then fail on) with every problem named. */
function checkTarget(target: NginxTarget): void {
  const problems: string[] = [];
  checkPort('listenPort', target.listenPort, problems);
  checkPort('statusPort', target.statusPort, problems);
  if (target.listenPort === target.statusPort) problems.push(`'listenPort' and 'statusPort' are both ${target.listenPort}: stub_status needs a port of its own`);
  if (target.kind === 'local') {
    if (target.upstreamPorts.length === 0) problems.push("'upstreamPorts' is empty: give the loopback port of at least one API process");
    target.upstreamPorts.forEach((port, i) => checkPort(`upstreamPorts[${i}]`, port, problems));
    if (!target.prefixDir.startsWith('/')) problems.push(`'prefixDir' ("${target.prefixDir}") must be an absolute path`);
    if (/[\s;{}'"]/.test(target.prefixDir)) problems.push(`'prefixDir' ("${target.prefixDir}") must not contain spaces, quotes, ';', '{' or '}'`);
  } else {
    checkPort('upstreamPort', target.upstreamPort, problems);
    if (target.proxyProtocolFrom !== undefined) {
      if (target.proxyProtocolFrom.length === 0) problems.push("'proxyProtocolFrom' is empty: give the balancer's networks, e.g. the VPC CIDR");
      for (const cidr of target.proxyProtocolFrom) if (!isCidr(cidr)) problems.push(`'proxyProtocolFrom' entry "${cidr}" must be an IPv4 or IPv6 CIDR block`);
    }
    if (target.internalPort !== undefined) {
      checkPort('internalPort', target.internalPort, problems);
      if (target.proxyProtocolFrom === undefined) problems.push("'internalPort' is only for a PROXY protocol listener: without 'proxyProtocolFrom' the public port already serves plain HTTP");
      if (target.internalPort === target.listenPort || target.internalPort === target.statusPort) problems.push(`'internalPort' (${target.internalPort}) must differ from 'listenPort' and 'statusPort'`);
    }
    if (target.exemptAddressesFile !== undefined && !/^\/[\w./-]+$/.test(target.exemptAddressesFile)) problems.push(`'exemptAddressesFile' ("${target.exemptAddressesFile}") must be an absolute path of letters, digits, '.', '_', '-' and '/'`);
    if (!DNS_NAME.test(target.upstreamHost)) problems.push(`'upstreamHost' ("${target.upstreamHost}") must be a DNS name, e.g. api-headless.apistack.svc.cluster.local`);
    if (!DNS_NAME.test(target.resolver)) problems.push(`'resolver' ("${target.resolver}") must be an IPv4 address or a DNS name, e.g. 169.254.169.253`);
  }
  if (problems.length > 0) throw new UserError(`invalid nginx ${target.kind} target:\n  - ${problems.join('\n  - ')}`, problems);
}

function upstreamServers(p: ResolvedProfile, target: NginxTarget): string[] {
  const params = `max_fails=${p.derived.nginx.maxFails} fail_timeout=${p.nginx.failTimeoutSeconds}s max_conns=${p.derived.nginx.maxConnsPerUpstreamServer}`;
  if (target.kind === 'local') return target.upstreamPorts.map((port) => `server 127.0.0.1:${port} ${params};`);
  return [
    // Re-resolved while running, so least_conn spreads over the pods/tasks that exist now.
    // `resolver`/`resolver_timeout` inside `upstream` and the `resolve` server parameter are in
    // open-source nginx since 1.27.3 (CHANGES 1.27.3; nginx.org/en/docs/http/ngx_http_upstream_module.html#resolver).
    // Only the family the services' records are in: A on an IPv4 cluster (and Cloud Map), AAAA on
    // an IPv6-only one; asking for both would wait for an answer that never has addresses.
    `resolver ${target.resolver} valid=${SERVICE_DNS_TTL_SECONDS}s ${target.ipFamily === 'ipv6' ? 'ipv4=off' : 'ipv6=off'};`,
    'resolver_timeout 2s;',
    `server ${target.upstreamHost}:${target.upstreamPort} resolve ${params};`,
  ];
}

const JSON_LOG_FIELDS: readonly [string, string][] = [
  ['time', '$time_iso8601'],
  ['request_id', '$request_id_out'],
  ['remote_addr', '$remote_addr'],
  ['method', '$request_method'],
  ['uri', '$request_uri'],
  ['status', '$status'],
  ['body_bytes_sent', '$body_bytes_sent'],
  ['request_time', '$request_time'],
  ['upstream_addr', '$upstream_addr'],
  ['upstream_status', '$upstream_status'],
  ['upstream_connect_time', '$upstream_connect_time'],
  ['upstream_header_time', '$upstream_header_time'],
  ['upstream_response_time', '$upstream_response_time'],
  ['user_agent', '$http_user_agent'],
];

function indent(lines: readonly string[], depth: number): string[] {
  return lines.map((l) => (l === '' ? '' : `${'    '.repeat(depth)}${l}`));
}

/** The per-client limit key: the client address, or empty (not counted) for exempt networks. */
function limitKeyVariable(exempt: readonly string[], exemptFile?: string): string {
  return exempt.length > 0 || exemptFile !== undefined ? '$apistack_limit_key' : '$binary_remote_addr';
}

function limitKey(exempt: readonly string[], exemptFile?: string): string[] {
  if (exempt.length === 0 && exemptFile === undefined) return [];
  return [
    // nginx.rateLimitExemptCidrs (load generators, internal callers) bypass the per-client
    // limits: limit_req and limit_conn do not count a request whose key is empty. Behind a
    // PROXY protocol balancer geo reads the client address from the header (real_ip), so the
    // entries match the callers, not the balancer.
    // No `default` line: 0.0.0.0/0 and ::/0 are allowed entries, and would duplicate it.
    '    geo $apistack_limit_exempt {',
    ...[...new Set(exempt)].map((cidr) => `        ${cidr} 1;`),
    ...(exemptFile !== undefined ? [`        include ${exemptFile};`] : []),
    '    }',
    '    map $apistack_limit_exempt $apistack_limit_key {',
    '        1 "";',
    '        default $binary_remote_addr;',
    '    }',
  ];
}

function accessLog(mode: 'all' | 'errors' | 'off', path: string): string[] {
  const line = `    access_log ${path} apistack_json buffer=64k flush=1s`;
  if (mode === 'off') return ['    access_log off;'];
  if (mode === 'all') return [`${line};`];
  return [
    // Only what is not 2xx or 3xx: at load-test rates every success line costs CPU and says nothing.
    '    map $status $apistack_log_failure {',
    '        ~^[23] 0;',
    '        default 1;',
    '    }',
    `${line} if=$apistack_log_failure;`,
  ];
}

/**
 * The whole nginx.conf for one target. Pure: no files, no environment.
 * Locally nginx runs with `-p <prefixDir>/ -g 'daemon off;'`, so the text has no `daemon` or `user`.
 * @throws UserError when the target has an impossible port, an empty upstream or a malformed name.
 */
export function renderNginxConfig(p: ResolvedProfile, target: NginxTarget): string {
  checkTarget(target);
  const n = p.nginx;
  const d = p.derived.nginx;
  const f = paths(target);
  const ipv6 = target.kind !== 'local' && target.ipFamily === 'ipv6';
  const address = (port: number) => (target.kind === 'local' ? `127.0.0.1:${port}` : ipv6 ? `[::]:${port}` : String(port));
  const proxyFrom = target.kind === 'local' ? undefined : target.proxyProtocolFrom;
  const internalPort = target.kind === 'local' ? undefined : target.internalPort;
  const exemptFile = target.kind === 'local' ? undefined : target.exemptAddressesFile;
  const publicListen = proxyFrom
    ? [
        // The balancer prepends a PROXY protocol v2 header to every connection (its health checks
        // included, with the LOCAL command, which nginx accepts and then uses the peer address).
        `listen ${address(target.listenPort)} proxy_protocol;`,
        ...(internalPort !== undefined ? [`listen ${address(internalPort)};`] : []),
        // The header's client address is believed only from the balancer's own networks.
        ...proxyFrom.map((cidr) => `set_real_ip_from ${cidr};`),
        'real_ip_header proxy_protocol;',
      ]
    : [`listen ${address(target.listenPort)};`];
  const statusListen = address(target.statusPort);
  const logFormat = `'{${JSON_LOG_FIELDS.map(([k, v]) => `"${k}":"${v}"`).join(',')}}'`;

  const upstream = [
    'upstream api {',
    // Shared memory: least_conn counts and failures are seen by every worker process.
    '    zone api 256k;',
    '    least_conn;',
    ...indent(upstreamServers(p, target), 1),
    `    keepalive ${d.upstreamKeepaliveConnections};`,
    // Below the app's keep-alive timeout, so nginx never reuses a connection the app is closing.
    `    keepalive_timeout ${d.upstreamKeepaliveTimeoutSeconds}s;`,
    '    keepalive_requests 10000;',
    '}',
  ];

  const apiLocation = [
    'location / {',
    // burst=0 is refused by nginx; no burst parameter means the same thing.
    `    limit_req zone=per_client${n.rateLimitBurst > 0 ? ` burst=${n.rateLimitBurst}` : ''} nodelay;`,
    `    limit_conn per_client_conn ${n.connLimitPerClient};`,
    '    proxy_pass http://api;',
    // HTTP/1.1 with an empty Connection header is what lets upstream keepalive work.
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_set_header X-Request-ID $request_id_out;',
    '    add_header X-Request-ID $request_id_out always;',
    `    proxy_connect_timeout ${n.proxyConnectTimeoutSeconds}s;`,
    `    proxy_read_timeout ${n.proxyReadTimeoutSeconds}s;`,
    `    proxy_send_timeout ${n.proxySendTimeoutSeconds}s;`,
    // Retry another server only when there was no answer: a reset on one replica (a killed
    // worker) is retried on another for GET/HEAD; nginx never passes a non-idempotent request
    // (POST, PATCH, LOCK) on once it was sent, since `non_idempotent` is absent. An answer from
    // the app (a 503 for a missing database included) is passed to the client and never counts
    // toward max_fails, since no http_5xx is listed: a dependency down is not a replica down.
    '    proxy_next_upstream error timeout;',
    `    proxy_next_upstream_tries ${n.proxyNextUpstreamTries};`,
    `    proxy_next_upstream_timeout ${n.proxyNextUpstreamTimeoutSeconds}s;`,
    '}',
  ];

  const lines = [
    `# Rendered by apistack for profile "${p.name}", target ${target.kind}. Do not edit: change the profile.`,
    `worker_processes ${d.workerProcesses};`,
    // A graceful quit (SIGQUIT, the official image's stop signal) lets in-flight requests finish, bounded.
    `worker_shutdown_timeout ${d.shutdownTimeoutSeconds}s;`,
    // Every proxied request holds a client and an upstream connection; without this a low
    // default open-file limit caps the workers below worker_connections.
    `worker_rlimit_nofile ${n.workerConnections * 2};`,
    `pid ${f.pid};`,
    `error_log ${f.errorLog} warn;`,
    '',
    'events {',
    `    worker_connections ${n.workerConnections};`,
    '}',
    '',
    'http {',
    '    server_tokens off;',
    '    default_type application/octet-stream;',
    `    client_body_temp_path ${f.temp}/client_body;`,
    `    proxy_temp_path ${f.temp}/proxy;`,
    `    fastcgi_temp_path ${f.temp}/fastcgi;`,
    `    uwsgi_temp_path ${f.temp}/uwsgi;`,
    `    scgi_temp_path ${f.temp}/scgi;`,
    '    sendfile on;',
    '    tcp_nodelay on;',
    `    client_max_body_size ${n.clientMaxBodySizeMiB}m;`,
    // A slow client holds a connection no longer than the slowest answer the app gives.
    `    client_header_timeout ${d.clientTimeoutSeconds}s;`,
    `    client_body_timeout ${d.clientTimeoutSeconds}s;`,
    '',
    // Keep the client's request id, or make one, and send it both ways. Made from the host, the
    // time in ms, nginx's connection number and the request's number on it: unique per nginx
    // instance, and it says where and when. nginx's own $request_id draws 16 random bytes from
    // OpenSSL for every request, about a tenth of nginx's CPU per proxied request (docs/holding-load.md: throughput).
    '    map $http_x_request_id $request_id_out {',
    '        default $http_x_request_id;',
    '        "" "$hostname-$msec-$connection-$connection_requests";',
    '    }',
    `    log_format apistack_json escape=json ${logFormat};`,
    ...accessLog(n.accessLog, f.accessLog),
    '',
    '    gzip on;',
    '    gzip_types application/json;',
    `    gzip_min_length ${n.gzipMinLengthBytes};`,
    '    gzip_proxied any;',
    '    gzip_vary on;',
    '',
    ...limitKey(d.rateLimitExemptCidrs, exemptFile),
    `    limit_req_zone ${limitKeyVariable(d.rateLimitExemptCidrs, exemptFile)} zone=per_client:10m rate=${n.rateLimitPerClientPerSecond}r/s;`,
    '    limit_req_status 429;',
    `    limit_conn_zone ${limitKeyVariable(d.rateLimitExemptCidrs, exemptFile)} zone=per_client_conn:10m;`,
    '    limit_conn_status 429;',
    '',
    ...indent(upstream, 1),
    '',
    '    server {',
    ...indent(publicListen, 2),
    '',
    `        location = ${NGINX_HEALTH_PATH} {`,
    '            access_log off;',
    '            default_type text/plain;',
    '            return 200 "ok\\n";',
    '        }',
    '',
    ...indent(apiLocation, 2),
    '    }',
    '',
    // stub_status for the exporter only: a separate port, loopback clients only.
    '    server {',
    `        listen ${statusListen};`,
    '        access_log off;',
    `        location = ${STUB_STATUS_PATH} {`,
    '            stub_status;',
    '            allow 127.0.0.1;',
    ...(ipv6 ? ['            allow ::1;'] : []),
    '            deny all;',
    '        }',
    // Probes from the kubelet and the container health check send no PROXY header, so they
    // ask here when the public port requires one.
    ...(proxyFrom
      ? [`        location = ${NGINX_HEALTH_PATH} {`, '            default_type text/plain;', '            return 200 "ok\\n";', '        }']
      : []),
    '    }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** The defaults every container target uses: the API port and nginx's unprivileged ports. */
export const CONTAINER_PORTS = { listenPort: PORTS.nginx, statusPort: PORTS.nginxStatus, upstreamPort: PORTS.api } as const;
