/**
 * What the API answers before Fastify routes a request, in the API's own error shape
 * ({"error": {"code", "message"}}): requests Node's HTTP parser rejects, and JSON bodies that are
 * not valid UTF-8 (decoded as they are, each bad byte would become U+FFFD and be stored).
 */
import { isAscii } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

/** Node's parser error codes → what the client gets. */
function describe(err: NodeJS.ErrnoException): { status: number; code: string; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are larger than the server accepts; send fewer or shorter headers' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'BAD_METHOD', message: 'the request method is not one HTTP knows' };
    case 'HPE_INVALID_URL':
      return { status: 400, code: 'BAD_URL', message: 'the request target is not a valid URL: percent-encode bytes outside ASCII' };
    default:
      return { status: 400, code: 'BAD_REQUEST', message: `the request is not valid HTTP/1.1${err.code?.startsWith('HPE_') ? ` (${err.code})` : ''}` };
  }
}

/** Fastify's clientErrorHandler: Node's parser rejected the request before any route saw it. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } = describe(err);
  const body = JSON.stringify({ error: { code, message } });
  if (!socket.writable) return void socket.destroy();
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const invalidUtf8 = () => new ApiError(400, 'INVALID_UTF8', 'the request body is not valid UTF-8: send JSON text encoded as UTF-8');

/**
 * Fastify preParsing hook: a JSON body passes through a strict UTF-8 check (ASCII chunks, the
 * common case, are checked natively and not decoded), so a bad byte is a 400, not a U+FFFD.
 */
export function checkUtf8Body(req: FastifyRequest, _reply: unknown, payload: Readable, done: (err: Error | null, stream?: Readable) => void): void {
  const type = req.headers['content-type'];
  if (typeof type !== 'string' || !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) return done(null, payload);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // Once a chunk is not ASCII every later one goes through the decoder too: it holds the bytes of
  // a character split across chunks.
  let decoding = false;
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!decoding && isAscii(chunk)) return callback(null, chunk);
      decoding = true;
      try {
        decoder.decode(chunk, { stream: true });
        callback(null, chunk);
      } catch {
        callback(invalidUtf8());
      }
    },
    flush(callback) {
      try {
        decoder.decode();
        callback();
      } catch {
        callback(invalidUtf8());
      }
    },
  });
  payload.on('error', (e) => checked.destroy(e));
  done(null, payload.pipe(checked));
}
