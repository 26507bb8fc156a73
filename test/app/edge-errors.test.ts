/**
 * What the API answers before any route runs, on a real listening server: requests Node's HTTP
 * parser rejects get the API's error shape, and a JSON body that is not UTF-8 is refused.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { ADMIN_TOKEN, buildApp, migrated } from './harness.ts';

let pg: Awaited<ReturnType<typeof startTestPostgres>>;
let redis: Awaited<ReturnType<typeof startTestRedis>>;
let api: Awaited<ReturnType<typeof buildApp>>;
let port: number;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  await migrated(pg.url);
  api = await buildApp(pg.url, redis.url);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  port = (api.app.server.address() as { port: number }).port;
}, 120_000);
afterAll(async () => {
  await api?.close();
  await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
});

/** Raw bytes to the server, written in the given pieces; the whole answer back. */
function raw(...pieces: Buffer[]): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', async () => {
      for (const p of pieces) {
        socket.write(p);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      data += d;
      // Kept-alive answers: stop at the end of the first body.
      const [head, body] = data.split('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(head ?? '')?.[1]);
      if (body !== undefined && Buffer.byteLength(body) >= length) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: rest.join('\r\n\r\n') });
    });
  });
}
const b = (s: string) => Buffer.from(s, 'latin1');
const post = (path: string, body: Buffer) => b(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);

describe('answers before routing', () => {
  it.each([
    ['headers past the size limit', b(`GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, 'HEADERS_TOO_LARGE'],
    ['a method HTTP does not know', b('FROB /api/status HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'BAD_METHOD'],
    ['raw bytes in the path', Buffer.concat([b('GET /api/users/'), Buffer.from([0xff, 0x01]), b(' HTTP/1.1\r\nHost: x\r\n\r\n')]), 400, 'BAD_URL'],
    ['a header line without a colon', b('GET /api/status HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n'), 400, 'BAD_REQUEST'],
  ])('%s: the API error shape', async (_what, request, status, code) => {
    const r = await raw(request);
    expect(r.status, r.headers).toBe(status);
    expect(r.headers).toMatch(/content-type: application\/json/i);
    const parsed = JSON.parse(r.body);
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(parsed.error.code).toBe(code);
    expect(parsed.error.message).toEqual(expect.any(String));
  });

  it('refuses a JSON body that is not UTF-8 with 400, and stores nothing', async () => {
    const email = `latin1-${Date.now()}@example.com`;
    const body = Buffer.concat([b('{"name":"Ren'), Buffer.from([0xe9]), b(`","email":"${email}"}`)]);
    const r = await raw(post('/api/users', body), body);
    expect(r.status, r.body).toBe(400);
    expect(JSON.parse(r.body).error).toEqual({ code: 'INVALID_UTF8', message: 'the request body is not valid UTF-8: send JSON text encoded as UTF-8' });
    expect((await api.sql`SELECT count(*)::int AS n FROM users WHERE email = ${email}`)[0]!.n).toBe(0);
    // A truncated character at the very end is refused too.
    const truncated = Buffer.concat([b('{"name":"x","email":"t@example.com"}'), Buffer.from([0xc3])]);
    expect((await raw(post('/api/users', truncated), truncated)).status).toBe(400);
  });

  it('accepts UTF-8 whose characters are split across packets', async () => {
    const email = `utf8-${Date.now()}@example.com`;
    const body = Buffer.from(`{"name":"René 東京","email":"${email}"}`, 'utf8');
    const split = body.indexOf(0xc3) + 1; // between the two bytes of é
    const r = await raw(post('/api/users', body), body.subarray(0, split), body.subarray(split));
    expect(r.status, r.body).toBe(201);
    expect(JSON.parse(r.body).name).toBe('René 東京');
  });
});
