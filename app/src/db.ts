/** Postgres: the pool, bounded waits, and migrations safe to run from many replicas at once. */
import postgres from 'postgres';
import { errors } from './errors.ts';

export type Sql = postgres.Sql<Record<string, never>>;

export function connect(url: string, opts: { max: number; statementTimeoutMs: number }): Sql {
  return postgres(url, {
    max: opts.max,
    connect_timeout: 2,
    idle_timeout: 60,
    // Every statement is bounded, so a stuck query cannot hold a pool connection forever.
    connection: { statement_timeout: opts.statementTimeoutMs, application_name: 'apistack-api' },
    onnotice: () => {},
  }) as Sql;
}

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  // Postgres: shutting down or starting up, too many connections.
  '57P01', '57P02', '57P03', '53300',
]);

/** Network failures and "the server cannot take you now": worth a 503 and a retry, not a 500. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  // SQLSTATE class 08: connection exceptions.
  return code !== undefined && (CONNECTION_ERRORS.has(code) || /^08[0-9A-Z]{3}$/.test(code));
}

const WAITED_TOO_LONG = Symbol('waited too long');

/**
 * Run `work` on a pool connection, waiting at most `ms` for one; past that, 503. Only the wait is
 * bounded: a query that has started is never abandoned, since its write may commit after the
 * client was told it failed; statement_timeout bounds how long it runs. The connection is
 * reserved first (postgres.js would otherwise pipeline the query behind another on a busy
 * connection, where it can no longer be withdrawn); a reservation that arrives after the caller
 * gave up is released at once, with nothing run on it.
 */
export async function bounded<T>(sql: Sql, ms: number, work: (db: Sql) => PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const reserving = sql.reserve();
  const waited = new Promise<typeof WAITED_TOO_LONG>((resolve) => {
    timer = setTimeout(() => resolve(WAITED_TOO_LONG), ms);
  });
  let db: Awaited<typeof reserving> | typeof WAITED_TOO_LONG;
  try {
    db = await Promise.race([reserving, waited]);
  } catch (e) {
    throw databaseError(e);
  } finally {
    clearTimeout(timer);
  }
  if (db === WAITED_TOO_LONG) {
    reserving.then((late) => late.release(), () => {});
    throw errors.unavailable('the database is busy: no pool connection came free in time; retry shortly');
  }
  try {
    return await work(db as unknown as Sql);
  } catch (e) {
    throw databaseError(e);
  } finally {
    db.release();
  }
}

function databaseError(e: unknown): unknown {
  if (isConnectionError(e)) return errors.unavailable('the database is unreachable; retry shortly');
  if ((e as { code?: string }).code === '57014') return errors.unavailable('the query took too long (statement_timeout)');
  return e;
}

export const MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'users, posts, api keys, events',
    sql: `
      CREATE TABLE users (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE posts (
        id bigserial PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title text NOT NULL,
        body text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- Behind GET /api/users/:id/posts (filter user_id, order id) and the post-count JOIN.
      CREATE INDEX posts_user_id_id ON posts (user_id, id);
      CREATE TABLE api_keys (
        id bigserial PRIMARY KEY,
        key_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      CREATE TABLE events (
        id bigserial PRIMARY KEY,
        api_key_id bigint NOT NULL REFERENCES api_keys(id),
        idempotency_key text,
        request_hash text NOT NULL,
        type text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- The final guard against duplicates, whatever Redis says.
        UNIQUE (api_key_id, idempotency_key)
      );
    `,
  },
  {
    id: 2,
    name: 'events: inserting transaction id, for gap-free polling',
    sql: `
      -- Polling in id order can skip an event whose transaction commits after a higher id was
      -- read. Ordering by (inserting transaction, id) and reading only transactions older than
      -- every running one cannot (see GET /api/events).
      ALTER TABLE events ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
      CREATE INDEX events_key_tx_id_id ON events (api_key_id, tx_id, id);
    `,
  },
];

/** Apply pending migrations under an advisory lock; returns the ids applied. */
export async function migrate(sql: Sql): Promise<number[]> {
  const applied: number[] = [];
  await sql.begin(async (tx) => {
    // Transaction-scoped lock: concurrent `migrate` runs wait here, then see the work done.
    await tx`SELECT pg_advisory_xact_lock(726354)`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set((await tx<{ id: number }[]>`SELECT id FROM schema_migrations`).map((r) => r.id));
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (id, name) VALUES (${m.id}, ${m.name})`;
      applied.push(m.id);
    }
  });
  return applied;
}
