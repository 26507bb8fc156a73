/** Users and posts: CRUD, keyset pagination, one-query post counts, bulk insert, cached reads. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { adminOnly } from '../admin.ts';
import type { AppContext } from '../app.ts';
import { errors } from '../errors.ts';
import { decodeCursor, encodeCursor, ID_PARAM, PAGE_QUERY } from './pagination.ts';

export interface UserRow {
  id: string;
  name: string;
  email: string;
  created_at: Date;
  updated_at: Date;
}

export const toUser = (r: UserRow) => ({ id: r.id, name: r.name, email: r.email, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() });
const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;
const EMAIL = { type: 'string', minLength: 3, maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' } as const;
export const MAX_BULK_USERS = 10_000;

/**
 * The updatedAt of a cached user's JSON without parsing it on every hit. Safe by construction:
 * inside a JSON string every quote is escaped, so `"updatedAt":"` only matches the field itself.
 */
export function updatedAtOf(json: string): string {
  const m = /"updatedAt":"([^"]+)"/.exec(json);
  if (!m) throw new Error('cached user entry has no updatedAt');
  return m[1]!;
}

function uniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

export function registerUserRoutes(app: FastifyInstance, ctx: AppContext): void {
  const q = ctx.query;
  // Reads are open (the load tests' and any client's hot path); every write takes the admin token.
  const admin = adminOnly(ctx.config);


  app.post('/api/users', {
    onRequest: admin,
    schema: { body: { type: 'object', required: ['name', 'email'], additionalProperties: false, properties: { name: NAME, email: EMAIL } } },
    handler: async (req: FastifyRequest<{ Body: { name: string; email: string } }>, reply) => {
      try {
        const [row] = await q((db) => db<UserRow[]>`INSERT INTO users (name, email) VALUES (${req.body.name}, ${req.body.email}) RETURNING *`);
        return reply.code(201).send(toUser(row!));
      } catch (e) {
        if (uniqueViolation(e)) throw errors.conflict(`a user with email ${req.body.email} already exists`);
        throw e;
      }
    },
  });

  app.post('/api/users/bulk', {
    onRequest: admin,
    bodyLimit: 16 * 1024 * 1024,
    schema: {
      body: {
        type: 'object',
        required: ['users'],
        additionalProperties: false,
        properties: { users: { type: 'array', minItems: 1, maxItems: MAX_BULK_USERS, items: { type: 'object', required: ['name', 'email'], additionalProperties: false, properties: { name: NAME, email: EMAIL } } } },
      },
    },
    handler: async (req: FastifyRequest<{ Body: { users: { name: string; email: string }[] } }>, reply) => {
      try {
        // One multi-row statement: all rows or none.
        const rows = await q((db) => db<{ id: string }[]>`INSERT INTO users ${db(req.body.users, 'name', 'email')} RETURNING id`);
        return reply.code(201).send({ inserted: rows.length, firstId: rows[0]!.id, lastId: rows.at(-1)!.id });
      } catch (e) {
        if (uniqueViolation(e)) throw errors.conflict(`an email in the batch already exists or repeats (${(e as { detail?: string }).detail ?? ''}); nothing was inserted`);
        throw e;
      }
    },
  });

  app.get('/api/users', {
    schema: { querystring: PAGE_QUERY },
    handler: async (req: FastifyRequest<{ Querystring: { limit: string; cursor?: string } }>) => {
      const after = decodeCursor('u', req.query.cursor);
      const rows = await q((db) => db<UserRow[]>`SELECT * FROM users WHERE id > ${after} ORDER BY id LIMIT ${Number(req.query.limit)}`);
      return { items: rows.map(toUser), next: rows.length === Number(req.query.limit) ? encodeCursor('u', rows.at(-1)!.id) : null };
    },
  });

  app.get('/api/users/with-post-counts', {
    schema: { querystring: PAGE_QUERY },
    handler: async (req: FastifyRequest<{ Querystring: { limit: string; cursor?: string } }>) => {
      const after = decodeCursor('c', req.query.cursor);
      // One query: JOIN + GROUP BY over the posts (user_id, id) index, never one query per user.
      const rows = await q(
        (db) => db<(UserRow & { post_count: string })[]>`
          SELECT u.*, count(p.id) AS post_count
          FROM (SELECT * FROM users WHERE id > ${after} ORDER BY id LIMIT ${Number(req.query.limit)}) u
          LEFT JOIN posts p ON p.user_id = u.id
          GROUP BY u.id, u.name, u.email, u.created_at, u.updated_at
          ORDER BY u.id`,
      );
      return { items: rows.map((r) => ({ ...toUser(r), postCount: Number(r.post_count) })), next: rows.length === Number(req.query.limit) ? encodeCursor('c', rows.at(-1)!.id) : null };
    },
  });

  app.get('/api/users/:id', {
    // One user's JSON is a few hundred bytes: no compression check on the hottest read.
    compress: false,
    schema: { params: ID_PARAM },
    handler: async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const key = `user:${req.params.id}`;
      const json = await ctx.userCache.getOrLoad(key, [key], async () => {
        const [row] = await q((db) => db<UserRow[]>`SELECT * FROM users WHERE id = ${req.params.id}`);
        return row && JSON.stringify(toUser(row));
      });
      if (json === undefined) throw errors.notFound(`user ${req.params.id}`);
      const etag = `W/"u${req.params.id}-${Date.parse(updatedAtOf(json))}"`;
      reply.header('etag', etag).header('cache-control', 'private, no-cache');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('application/json').send(json);
    },
  });

  app.patch('/api/users/:id', {
    onRequest: admin,
    schema: { params: ID_PARAM, body: { type: 'object', minProperties: 1, additionalProperties: false, properties: { name: NAME, email: EMAIL } } },
    handler: async (req: FastifyRequest<{ Params: { id: string }; Body: { name?: string; email?: string } }>) => {
      try {
        const [row] = await q(
          (db) => db<UserRow[]>`UPDATE users SET name = coalesce(${req.body.name ?? null}, name), email = coalesce(${req.body.email ?? null}, email),
            updated_at = greatest(now(), updated_at + interval '1 millisecond') WHERE id = ${req.params.id} RETURNING *`,
        );
        if (!row) throw errors.notFound(`user ${req.params.id}`);
        await ctx.userCache.invalidate(`user:${req.params.id}`);
        return toUser(row);
      } catch (e) {
        if (uniqueViolation(e)) throw errors.conflict(`a user with email ${req.body.email} already exists`);
        throw e;
      }
    },
  });

  app.delete('/api/users/:id', {
    onRequest: admin,
    schema: { params: ID_PARAM },
    handler: async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const rows = await q((db) => db`DELETE FROM users WHERE id = ${req.params.id} RETURNING id`);
      if (rows.length === 0) throw errors.notFound(`user ${req.params.id}`);
      await ctx.userCache.invalidate(`user:${req.params.id}`);
      return reply.code(204).send();
    },
  });

  app.get('/api/users/:id/posts', {
    schema: { params: ID_PARAM, querystring: PAGE_QUERY },
    handler: async (req: FastifyRequest<{ Params: { id: string }; Querystring: { limit: string; cursor?: string } }>) => {
      const after = decodeCursor('p', req.query.cursor);
      const rows = await q((db) => db<{ id: string; user_id: string; title: string; body: string; created_at: Date }[]>`
        SELECT * FROM posts WHERE user_id = ${req.params.id} AND id > ${after} ORDER BY id LIMIT ${Number(req.query.limit)}`);
      return {
        items: rows.map((r) => ({ id: r.id, userId: r.user_id, title: r.title, body: r.body, createdAt: r.created_at.toISOString() })),
        next: rows.length === Number(req.query.limit) ? encodeCursor('p', rows.at(-1)!.id) : null,
      };
    },
  });

  app.post('/api/posts', {
    onRequest: admin,
    schema: {
      body: { type: 'object', required: ['userId', 'title'], additionalProperties: false, properties: { userId: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' }, title: { type: 'string', minLength: 1, maxLength: 300 }, body: { type: 'string', maxLength: 100_000 } } },
    },
    handler: async (req: FastifyRequest<{ Body: { userId: string; title: string; body?: string } }>, reply) => {
      try {
        const [r] = await q((db) => db<{ id: string; user_id: string; title: string; body: string; created_at: Date }[]>`
          INSERT INTO posts (user_id, title, body) VALUES (${req.body.userId}, ${req.body.title}, ${req.body.body ?? ''}) RETURNING *`);
        return reply.code(201).send({ id: r!.id, userId: r!.user_id, title: r!.title, body: r!.body, createdAt: r!.created_at.toISOString() });
      } catch (e) {
        if ((e as { code?: string }).code === '23503') throw errors.notFound(`user ${req.body.userId}`);
        throw e;
      }
    },
  });
}
