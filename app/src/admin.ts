/** The admin token: what API key management and every write to users and posts require. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from './config.ts';
import { errors } from './errors.ts';

export function requireAdmin(config: AppConfig, req: FastifyRequest): void {
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(config.adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw errors.unauthorized('Authorization: Bearer <ADMIN_TOKEN> required');
}

/** A route's onRequest hook: refused before its body is even read. */
export const adminOnly = (config: AppConfig) => async (req: FastifyRequest, _reply: FastifyReply) => requireAdmin(config, req);
