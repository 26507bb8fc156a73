/**
 * One Fastify process for the compression benchmark: `tsx compression-server.ts MODE PORT`, where
 * MODE is `plugin` (@fastify/compress, as the API registers it), `plugin-defaults` (the plugin
 * with its own brotli window) or `sync` (the hand-written onSend hook the API used before:
 * brotliCompressSync/gzipSync on the event loop, with the plugin's brotli settings).
 * Routes: /large (a JSON list of users, ~64 KiB) and /tiny (a few dozen bytes).
 */
import compress from '@fastify/compress';
import Fastify from 'fastify';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { COMPRESS_MIN_BYTES, COMPRESSION_OPTIONS } from '../../app/src/app.ts';

const [mode, port] = process.argv.slice(2);
const app = Fastify({ logger: false });
const THRESHOLD = COMPRESS_MIN_BYTES;

if (mode === 'plugin') {
  // Exactly as the API registers it.
  await app.register(compress, COMPRESSION_OPTIONS);
} else if (mode === 'plugin-defaults') {
  await app.register(compress, { encodings: ['br', 'gzip'], threshold: THRESHOLD, globalDecompression: false });
} else if (mode === 'sync') {
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    if (Buffer.byteLength(payload) < THRESHOLD || reply.getHeader('content-encoding')) return payload;
    const accept = String(req.headers['accept-encoding'] ?? '');
    const encoding = /\bbr\b/.test(accept) ? 'br' : /\bgzip\b/.test(accept) ? 'gzip' : undefined;
    reply.header('vary', 'accept-encoding');
    if (!encoding) return payload;
    reply.header('content-encoding', encoding);
    reply.removeHeader('content-length');
    // The same brotli settings as the plugin gets, so only sync-versus-streamed differs.
    return encoding === 'br' ? brotliCompressSync(payload, COMPRESSION_OPTIONS.brotliOptions) : gzipSync(payload, { level: 6 });
  });
} else {
  throw new Error(`mode must be plugin or sync, got ${mode}`);
}

const users = Array.from({ length: 400 }, (_, i) => ({
  id: String(1000 + i),
  name: `User number ${i} with a longer display name`,
  email: `user${i}@example.com`,
  createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  updatedAt: new Date(1_700_000_000_000 + i * 2000).toISOString(),
}));
app.get('/large', async () => ({ items: users, next: null }));
app.get('/tiny', async () => ({ status: 'ok' }));
await app.listen({ port: Number(port), host: '127.0.0.1' });
