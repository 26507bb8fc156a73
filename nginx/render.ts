/**
 * nginx.conf for the least_conn balancer in front of the API: a pure function of the profile
 * and where it runs. Every number comes from the profile or its derived values.
 */
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { PORTS } from '../lib/profile/workloads.ts';
import type { NginxTarget } from './types.ts';

/** nginx's own liveness endpoint, answered without the API. */
export const NGINX_HEALTH_PATH = '/nginx-health';
export const STUB_STATUS_PATH = '/stub_status';

/** Paths nginx writes: inside the prefix locally, under /tmp (an emptyDir) in containers. */
function paths(target: NginxTarget) {
  if (target.kind === 'local') {
    const d = target.prefixDir;
    return { pid: `${d}/nginx.pid`, temp: `${d}/temp`, errorLog: `${d}/logs/error.log`, accessLog: `${d}/logs/access.log` };
  }
  return { pid: '/tmp/nginx.pid', temp: '/tmp', errorLog: '/dev/stderr', accessLog: '/dev/stdout' };
}

function upstreamServers(p: ResolvedProfile, target: NginxTarget): string[] {
  const params = `max_fails=${p.nginx.maxFails} fail_timeout=${p.nginx.failTimeoutSeconds}s max_conns=${p.derived.nginx.maxConnsPerUpstreamServer}`;
  if (target.kind === 'local') return target.upstreamPorts.map((port) => `server 127.0.0.1:${port} ${params};`);
  return [
    // Re-resolved while running, so least_conn spreads over the pods/tasks that exist now
    // (upstream `resolver` and the `resolve` parameter are in open-source nginx since 1.27.3).
    `resolver ${target.resolver} valid=5s ipv6=off;`,
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

export function renderNginxConfig(p: ResolvedProfile, target: NginxTarget): string {
  const n = p.nginx;
  const d = p.derived.nginx;
  const f = paths(target);
  const listen = target.kind === 'local' ? `127.0.0.1:${target.listenPort}` : String(target.listenPort);
  const statusListen = target.kind === 'local' ? `127.0.0.1:${target.statusPort}` : String(target.statusPort);
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
    `    limit_req zone=per_client burst=${n.rateLimitBurst} nodelay;`,
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
    // Retry another server only for failures before a response; nginx never passes a
    // non-idempotent request (POST, PATCH, LOCK) on once it was sent, since `non_idempotent` is absent.
    '    proxy_next_upstream error timeout http_502 http_503;',
    `    proxy_next_upstream_tries ${n.proxyNextUpstreamTries};`,
    `    proxy_next_upstream_timeout ${n.proxyNextUpstreamTimeoutSeconds}s;`,
    '}',
  ];

  const lines = [
    `# Rendered by apistack for profile "${p.name}", target ${target.kind}. Do not edit: change the profile.`,
    `worker_processes ${d.workerProcesses};`,
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
    '',
    // Keep the client's request id, or make one, and send it both ways.
    '    map $http_x_request_id $request_id_out {',
    '        default $http_x_request_id;',
    '        "" $request_id;',
    '    }',
    `    log_format apistack_json escape=json ${logFormat};`,
    n.accessLog ? `    access_log ${f.accessLog} apistack_json buffer=64k flush=1s;` : '    access_log off;',
    '',
    '    gzip on;',
    '    gzip_types application/json;',
    `    gzip_min_length ${n.gzipMinLengthBytes};`,
    '    gzip_proxied any;',
    '    gzip_vary on;',
    '',
    `    limit_req_zone $binary_remote_addr zone=per_client:10m rate=${n.rateLimitPerClientPerSecond}r/s;`,
    '    limit_req_status 429;',
    '    limit_conn_zone $binary_remote_addr zone=per_client_conn:10m;',
    '    limit_conn_status 429;',
    '',
    ...indent(upstream, 1),
    '',
    '    server {',
    `        listen ${listen};`,
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
    '            deny all;',
    '        }',
    '    }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** The defaults every container target uses: the API port and nginx's unprivileged ports. */
export const CONTAINER_PORTS = { listenPort: PORTS.nginx, statusPort: PORTS.nginxStatus, upstreamPort: PORTS.api } as const;
