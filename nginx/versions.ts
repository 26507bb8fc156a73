/**
 * The nginx version the image pins, and the version each directive and server parameter the
 * renderer uses first appeared in (from the nginx documentation and CHANGES), so a test can
 * prove the pinned image understands every line we render.
 */

/** Parse "1.27.3-alpine" → [1, 27, 3]. */
export function parseNginxVersion(tag: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(tag);
  if (!m) throw new Error(`not an nginx version: "${tag}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function versionAtLeast(version: string, minimum: string): boolean {
  const a = parseNginxVersion(version);
  const b = parseNginxVersion(minimum);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
}

/** The nginx the image pins (nginx/Dockerfile's ARG, the built-in profiles' nginx.imageTag); the tests run this line (.ci/install-nginx.sh). */
export const PINNED_NGINX_VERSION = '1.30.6-alpine';

/** First nginx version with `resolver` inside `upstream` and the `resolve` server parameter in open source. */
export const MIN_NGINX_FOR_RESOLVE = '1.27.3';

/** Directive → first version (0.x directives are marked 0.1.0: present in every release we could pin). */
export const DIRECTIVE_SINCE: Readonly<Record<string, string>> = {
  worker_processes: '0.1.0',
  worker_shutdown_timeout: '1.11.11',
  worker_rlimit_nofile: '0.1.0',
  pid: '0.1.0',
  error_log: '0.1.0',
  events: '0.1.0',
  worker_connections: '0.1.0',
  http: '0.1.0',
  server_tokens: '0.1.0',
  default_type: '0.1.0',
  client_body_temp_path: '0.1.0',
  proxy_temp_path: '0.1.0',
  fastcgi_temp_path: '0.1.0',
  uwsgi_temp_path: '0.8.40',
  scgi_temp_path: '0.8.42',
  sendfile: '0.1.0',
  tcp_nodelay: '0.1.0',
  client_max_body_size: '0.1.0',
  client_header_timeout: '0.1.0',
  client_body_timeout: '0.1.0',
  map: '0.3.16',
  geo: '0.1.0',
  default: '0.3.16',
  log_format: '0.1.0',
  access_log: '0.1.0',
  gzip: '0.1.0',
  gzip_types: '0.1.0',
  gzip_min_length: '0.1.0',
  gzip_proxied: '0.6.0',
  gzip_vary: '0.6.19',
  limit_req_zone: '0.7.21',
  limit_req: '0.7.21',
  limit_req_status: '1.3.15',
  limit_conn_zone: '1.1.8',
  limit_conn: '0.7.21',
  limit_conn_status: '1.3.15',
  upstream: '0.1.0',
  zone: '1.9.0',
  least_conn: '1.3.1',
  server: '0.1.0',
  resolver: '1.27.3',
  resolver_timeout: '1.27.3',
  keepalive: '1.1.4',
  keepalive_timeout: '1.15.3',
  keepalive_requests: '1.15.3',
  listen: '0.1.0',
  location: '0.1.0',
  return: '0.8.42',
  proxy_pass: '0.1.0',
  proxy_http_version: '1.1.4',
  proxy_set_header: '0.1.0',
  add_header: '1.7.5',
  proxy_connect_timeout: '0.1.0',
  proxy_read_timeout: '0.1.0',
  proxy_send_timeout: '0.1.0',
  proxy_next_upstream: '0.1.0',
  proxy_next_upstream_tries: '1.7.5',
  proxy_next_upstream_timeout: '1.7.5',
  stub_status: '1.7.5',
  allow: '0.1.0',
  deny: '0.1.0',
  set_real_ip_from: '0.3.8',
  real_ip_header: '0.3.8',
};

/** `server` parameters inside `upstream` → first version. */
export const UPSTREAM_SERVER_PARAMETER_SINCE: Readonly<Record<string, string>> = {
  max_fails: '0.1.0',
  fail_timeout: '0.1.0',
  max_conns: '1.11.5',
  resolve: '1.27.3',
};

/** Where a directive's minimum version is for a use, not the directive itself (e.g. `add_header ... always`). */
export const PARAMETER_SINCE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  add_header: { always: '1.7.5' },
  log_format: { 'escape=json': '1.11.8' },
  access_log: { 'buffer=64k': '0.7.4', 'flush=1s': '0.7.4', 'if=$apistack_log_failure': '1.7.0' },
  resolver: { 'ipv6=off': '1.5.8', 'ipv4=off': '1.23.1', 'valid=5s': '1.1.9' },
  listen: { proxy_protocol: '1.5.12' },
  real_ip_header: { proxy_protocol: '1.5.12' },
  limit_req: { nodelay: '0.7.21' },
};
