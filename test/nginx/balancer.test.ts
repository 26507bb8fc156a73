/**
 * The rendered local config in a real nginx, in front of real HTTP backends on loopback.
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { renderNginxConfig } from '../../nginx/index.ts';
import { resolveProfileLayer, type ProfileLayer } from '../../lib/profile/index.ts';
import { waitFor } from '../../lib/local/process.ts';
import { freePort, startTestNginx } from '../helpers/servers.ts';
import { runWrk } from '../helpers/wrk.ts';

interface Backend {
  readonly name: string;
  readonly port: number;
  readonly requests: string[];
  connections: number;
  active: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => void;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function backend(name: string, handler: Handler = (_req, res) => res.end(name)): Promise<Backend> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const b: Backend = {
    name,
    port,
    requests: [],
    connections: 0,
    active: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    b.requests.push(`${req.method} ${req.url}`);
    b.active++;
    res.on('close', () => b.active--);
    req.resume();
    req.on('end', () => handler(req, res, b));
  });
  server.on('connection', (s: Socket) => {
    b.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => b.close().catch(() => {}));
  return b;
}

async function balancer(backends: Backend[], layer: ProfileLayer = {}) {
  const profile = resolveProfileLayer({ extends: 'loadtest', ...layer });
  const statusPort = await freePort();
  const nginx = await startTestNginx(
    (port, dir) => renderNginxConfig(profile, { kind: 'local', listenPort: port, statusPort, upstreamPorts: backends.map((b) => b.port), prefixDir: dir }),
    { waitPorts: [] },
  );
  cleanups.push(() => nginx.cleanup());
  await waitFor('nginx listening', async () => (await fetch(`${nginx.url}/nginx-health`).catch(() => undefined))?.ok === true, { timeoutMs: 10_000 });
  return { ...nginx, statusPort };
}

function send(url: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('nginx least_conn balancer (local rendering, real nginx)', () => {
  it('sends new requests to the backend with fewer active connections', async () => {
    const held: ServerResponse[] = [];
    // The slow backend holds every request until the test releases it.
    const slow = await backend('slow', (_req, res) => held.push(res));
    const fast = await backend('fast');
    const nginx = await balancer([slow, fast]);
    const pending: Promise<unknown>[] = [];
    const fastAnswers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = send(`${nginx.url}/work/${i}`);
      pending.push(r);
      // Wait until this request has reached a backend before sending the next.
      await waitFor(`request ${i} at a backend`, () => slow.requests.length + fast.requests.length === i + 1, { timeoutMs: 5000 });
      if (fast.requests.length > fastAnswers.length) fastAnswers.push(((await r) as { body: string }).body);
    }
    // Round-robin would give the slow backend 10 of 20; least_conn gives it one, then avoids it.
    expect(slow.requests.length).toBeLessThanOrEqual(1);
    expect(fast.requests.length).toBeGreaterThanOrEqual(19);
    for (const res of held) res.end('slow');
    await Promise.all(pending);
  });

  it('takes a killed backend out and keeps answering', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const nginx = await balancer([a, b]);
    expect((await send(`${nginx.url}/x`)).status).toBe(200);
    await a.close();
    const statuses: number[] = [];
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await send(`${nginx.url}/after-kill/${i}`);
      statuses.push(r.status);
      bodies.add(r.body);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect([...bodies]).toEqual(['b']);
  });

  it('never replays a POST that reached a backend, but retries an idempotent GET', async () => {
    // Both backends drop the connection without answering, after reading the request.
    const drop: Handler = (req, res) => req.socket.destroy();
    const a = await backend('a', drop);
    const b = await backend('b', drop);
    const nginx = await balancer([a, b]);
    const post = await send(`${nginx.url}/api/events`, { method: 'POST', body: '{"type":"x"}', headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(502);
    const posts = [...a.requests, ...b.requests].filter((r) => r.startsWith('POST'));
    expect(posts).toEqual(['POST /api/events']);
    const get = await send(`${nginx.url}/api/status`);
    expect(get.status).toBe(502);
    // proxy_next_upstream_tries 2: the GET was tried on both.
    expect([...a.requests, ...b.requests].filter((r) => r.startsWith('GET'))).toHaveLength(2);
  });

  it('answers 429 past the per-client rate limit', async () => {
    const a = await backend('a');
    // No exempt networks: this client (loopback) is limited.
    const nginx = await balancer([a], { nginx: { rateLimitPerClientPerSecond: 1, rateLimitBurst: 2, rateLimitExemptCidrs: [] } });
    const statuses: number[] = [];
    const startedMs = performance.now();
    for (let i = 0; i < 10; i++) statuses.push((await send(`${nginx.url}/limited`)).status);
    // One at the rate plus a burst of two pass at once; then one more per elapsed second at most
    // (a loaded machine may take over a second for the ten requests).
    const passed = statuses.filter((s) => s === 200).length;
    expect(passed).toBeGreaterThanOrEqual(3);
    expect(passed).toBeLessThanOrEqual(3 + Math.ceil((performance.now() - startedMs) / 1000));
    expect(statuses.filter((s) => s !== 200).every((s) => s === 429)).toBe(true);
    expect(passed).toBeLessThan(10);
    expect(a.requests.length).toBe(statuses.filter((s) => s === 200).length);
  });

  it('does not limit an exempt network: loopback under the loadtest profile', async () => {
    const a = await backend('a');
    // loadtest exempts loopback and private networks; the rate is still 1 r/s for everyone else.
    const nginx = await balancer([a], { nginx: { rateLimitPerClientPerSecond: 1, rateLimitBurst: 2, connLimitPerClient: 1 } });
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => send(`${nginx.url}/exempt/${i}`).then((r) => r.status)));
    expect(statuses).toEqual(Array.from({ length: 30 }, () => 200));
    expect(a.requests).toHaveLength(30);
  });

  it('a load generator on loopback is not limited under loadtest, and is under optimized', async () => {
    const a = await backend('a');
    const underLoadtest = await balancer([a]);
    const free = await runWrk({ url: `${underLoadtest.url}/gen`, connections: 50, seconds: 3 });
    expect(free.non2xx, free.output).toBe(0);
    expect(free.requests).toBeGreaterThan(2000);
    await underLoadtest.stop();
    // optimized keeps its per-client limits for everyone: 200 r/s, burst 400, 200 connections.
    const statusPort = await freePort();
    const underOptimized = await startTestNginx((port, dir) =>
      renderNginxConfig(resolveProfileLayer({ extends: 'optimized' }), { kind: 'local', listenPort: port, statusPort, upstreamPorts: [a.port], prefixDir: dir }),
    );
    cleanups.push(() => underOptimized.cleanup());
    const limited = await runWrk({ url: `${underOptimized.url}/gen`, connections: 50, seconds: 3 });
    // At most the burst plus the rate over the run (and the warm-up second) pass; the rest are 429.
    expect(limited.requests - limited.non2xx).toBeLessThanOrEqual(400 + 200 * 5);
    expect(limited.non2xx).toBeGreaterThan(limited.requests / 2);
  });

  it('never takes a backend out for its answers: 5xx, 4xx or slow', async () => {
    let mode: 'fail' | 'slow' | 'ok' = 'fail';
    const statusFor = [500, 503, 404, 429];
    let n = 0;
    const a = await backend('a', (_req, res) => {
      if (mode === 'fail') res.writeHead(statusFor[n++ % statusFor.length]!).end('no');
      else if (mode === 'slow') setTimeout(() => res.end('a'), 1500);
      else res.end('a');
    });
    const b = await backend('b');
    const nginx = await balancer([a, b]);
    // Sequential requests: least_conn alternates between the two idle backends.
    const failed: number[] = [];
    for (let i = 0; i < 40; i++) failed.push((await send(`${nginx.url}/answers/${i}`)).status);
    // Every answer reached the client as the app gave it: none was retried on b.
    expect(a.requests).toHaveLength(20);
    expect(failed.filter((s) => s !== 200).sort()).toEqual([...Array(5).fill(404), ...Array(5).fill(429), ...Array(5).fill(500), ...Array(5).fill(503)].sort());
    mode = 'slow';
    await Promise.all(Array.from({ length: 6 }, (_, i) => send(`${nginx.url}/slow/${i}`)));
    const slowSeen = a.requests.length - 20;
    expect(slowSeen).toBeGreaterThanOrEqual(1);
    mode = 'ok';
    const before = a.requests.length;
    for (let i = 0; i < 20; i++) expect((await send(`${nginx.url}/after/${i}`)).status).toBe(200);
    // Still in rotation: max_fails (3) failures would have taken it out for fail_timeout.
    expect(a.requests.length - before).toBeGreaterThanOrEqual(8);
    expect(readFileSync(join(nginx.dir, 'logs', 'error.log'), 'utf8')).not.toContain('temporarily disabled');
  }, 30_000);

  it('keeps a backend whose every in-flight request was reset (a killed worker) in rotation, and retries the GETs elsewhere', async () => {
    let holding = true;
    const heldA: IncomingMessage[] = [];
    const heldB: ServerResponse[] = [];
    const a = await backend('a', (req, res) => (holding ? heldA.push(req) : res.end('a')));
    const b = await backend('b', (_req, res) => (holding ? heldB.push(res) : res.end('b')));
    const nginx = await balancer([a, b]);
    const profile = resolveProfileLayer({ extends: 'loadtest' });
    const inFlight = 30;
    const answers = Array.from({ length: inFlight }, (_, i) => send(`${nginx.url}/in-flight/${i}`));
    // least_conn spreads the held requests evenly: half of them on a.
    await waitFor('requests held on both backends', () => heldA.length + heldB.length === inFlight, { timeoutMs: 5000 });
    const resets = heldA.length;
    // More resets at once than a fixed max_fails of 3, fewer than one nginx can have in flight on a replica.
    expect(resets).toBeGreaterThan(3);
    expect(resets).toBeLessThan(profile.derived.nginx.maxFails);
    for (const req of heldA) req.socket.destroy();
    await waitFor('the reset GETs retried on b', () => heldB.length === inFlight, { timeoutMs: 5000 });
    holding = false;
    for (const res of heldB) res.end('b');
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual(Array(inFlight).fill(200));
    const errorLog = readFileSync(join(nginx.dir, 'logs', 'error.log'), 'utf8');
    expect(errorLog.match(/prematurely closed|reset by peer/g)?.length, errorLog).toBe(resets);
    expect(errorLog).not.toMatch(/temporarily disabled|no live upstreams/);
    // Still chosen: sequential requests alternate between the two again.
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await send(`${nginx.url}/after/${i}`)).body);
    expect(bodies.filter((body) => body === 'a').length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('takes a backend that refuses connections out after max_fails, and probes it again after fail_timeout', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const nginx = await balancer([a, b], { nginx: { maxFails: 3, failTimeoutSeconds: 2 } });
    await a.close();
    const errorLog = () => readFileSync(join(nginx.dir, 'logs', 'error.log'), 'utf8');
    const refused = () => (errorLog().match(/connect\(\) failed \(111: Connection refused\)/g) ?? []).length;
    // Every GET is answered: a refused connect is retried on b (proxy_next_upstream error).
    for (let i = 0; i < 40; i++) expect((await send(`${nginx.url}/down/${i}`)).status).toBe(200);
    // Out after exactly max_fails attempts, then no more attempts within the window.
    expect(refused()).toBe(3);
    expect(errorLog()).toContain('upstream server temporarily disabled');
    // nginx counts the window in whole seconds: out for more than fail_timeout (2 s).
    await new Promise((r) => setTimeout(r, 3200));
    for (let i = 0; i < 10; i++) expect((await send(`${nginx.url}/probe/${i}`)).status).toBe(200);
    // One probe per fail_timeout.
    expect(refused(), errorLog()).toBe(4);
  }, 30_000);

  it('answers 413 past the body limit without bothering the backend', async () => {
    const a = await backend('a');
    const nginx = await balancer([a], { nginx: { clientMaxBodySizeMiB: 1 } });
    const big = await send(`${nginx.url}/api/users/bulk`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 97) });
    expect(big.status).toBe(413);
    expect(a.requests).toEqual([]);
    const small = await send(`${nginx.url}/api/users/bulk`, { method: 'POST', body: Buffer.alloc(512 * 1024, 97) });
    expect(small.status).toBe(200);
  });

  it('reuses upstream connections (keepalive)', async () => {
    const a = await backend('a');
    const nginx = await balancer([a]);
    // Each client request uses a fresh client connection (agent: false); upstream ones are pooled.
    for (let i = 0; i < 50; i++) expect((await send(`${nginx.url}/k/${i}`)).status).toBe(200);
    expect(a.requests).toHaveLength(50);
    expect(a.connections).toBeLessThanOrEqual(2);
  });

  it('passes X-Request-ID and X-Forwarded-For to the app and echoes the id', async () => {
    let seen: IncomingMessage | undefined;
    const a = await backend('a', (req, res) => {
      seen = req;
      res.end('ok');
    });
    const nginx = await balancer([a]);
    const r = await send(`${nginx.url}/h`, { headers: { 'x-request-id': 'abc-123' } });
    expect(r.headers['x-request-id']).toBe('abc-123');
    expect(seen!.headers['x-request-id']).toBe('abc-123');
    expect(seen!.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen!.headers['x-forwarded-proto']).toBe('http');
    const generated = await send(`${nginx.url}/h`);
    // Host, time in ms, connection number, request number on the connection.
    expect(generated.headers['x-request-id']).toMatch(/^[\w.-]+-\d+\.\d{3}-\d+-1$/);
    const again = await send(`${nginx.url}/h`);
    expect(again.headers['x-request-id']).not.toBe(generated.headers['x-request-id']);
    expect(r.headers.server).toBe('nginx');
  });

  it('serves stub_status on the internal port only', async () => {
    const a = await backend('a');
    const nginx = await balancer([a]);
    const status = await send(`http://127.0.0.1:${nginx.statusPort}/stub_status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatch(/^Active connections: \d+/);
    expect((await send(`${nginx.url}/stub_status`)).body).toBe('a');
  });
});
