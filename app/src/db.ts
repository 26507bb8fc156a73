/** Postgres: the pool, bounded waits, and migrations safe to run from many replicas at once. */
import postgres from 'postgres';
import { ApiError, errors } from './errors.ts';

export type Sql = postgres.Sql<Record<string, never>>;

export interface PoolOptions {
  readonly max: number;
  /** Server side: Postgres cancels a statement that runs longer. */
  readonly statementTimeoutMs: number;
}

/** While the database is down, one request per this interval tries it; every other one is answered 503 at once. */
export const PROBE_INTERVAL_MS = 250;

const CONTROL = Symbol('apistack pool control');

/**
 * A pool that is replaced whole when a query misses its client-side deadline: a server that does
 * not answer (stopped, or a network that drops packets) leaves sockets that would hang every
 * query sent on them, and postgres.js has no way to discard one pooled connection.
 */
class Pool {
  #current: Sql;
  #inUse = 0;
  readonly #waiting: ((granted: boolean) => void)[] = [];
  /** Why the database counts as down, and since when; undefined while it answers. */
  #down: { readonly reason: string; readonly since: number } | undefined;
  #probing = false;
  #lastProbe = 0;

  constructor(
    private readonly open: () => Sql,
    readonly max: number,
  ) {
    this.#current = open();
  }

  get current(): Sql {
    return this.#current;
  }

  /** Throws a fast 503 while the database is down, except for one probe per PROBE_INTERVAL_MS; true when this call is that probe. */
  admit(): boolean {
    if (this.#down === undefined) return false;
    const now = Date.now();
    if (this.#probing || now - this.#lastProbe < PROBE_INTERVAL_MS) {
      throw errors.unavailable(`the database is unavailable (${this.downState()}); retry shortly`);
    }
    this.#probing = true;
    this.#lastProbe = now;
    return true;
  }

  endProbe(): void {
    this.#probing = false;
  }

  answered(): void {
    this.#down = undefined;
  }

  /**
   * A failed query counts as the latest attempt: the next probe comes a full interval later.
   * Requests waiting for a connection are answered at once: it would not come.
   */
  failed(reason: string): void {
    const now = Date.now();
    this.#down ??= { reason, since: now };
    this.#lastProbe = now;
    for (const waiter of this.#waiting.splice(0)) waiter(false);
  }

  /**
   * A connection slot within `ms`: 'granted', 'timeout', or 'down' when the database was found
   * down meanwhile. At most `max` queries run at once, so each finds a connection of its own:
   * none is pipelined behind another query on a busy connection, where it could no longer be
   * withdrawn, and the wait for a slot can be given up cleanly.
   */
  acquire(ms: number): Promise<'granted' | 'timeout' | 'down'> {
    if (this.#inUse < this.max) {
      this.#inUse++;
      return Promise.resolve('granted');
    }
    return new Promise((resolve) => {
      const answer = (granted: boolean) => {
        clearTimeout(timer);
        resolve(granted ? 'granted' : 'down');
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(answer), 1);
        resolve('timeout');
      }, ms);
      this.#waiting.push(answer);
    });
  }

  /** The 503 message's cause while the database counts as down, else undefined. */
  downState(): string | undefined {
    return this.#down && `${this.#down.reason}, for ${((Date.now() - this.#down.since) / 1000).toFixed(1)} s`;
  }

  /** Why the database counts as down, for a 503's message. */
  downReason(): string {
    return this.#down ? this.#down.reason : 'connection failed';
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next(true);
    else this.#inUse--;
  }

  /** Replaces the pool `stale` belongs to: its connections are destroyed, and the queries still on them rejected. */
  discard(stale: Sql): void {
    if (stale !== this.#current) return;
    this.#current = this.open();
    stale.end({ timeout: 0 }).catch(() => {});
  }
}

/**
 * A postgres.js pool, used only through pooled queries. Never `reserve()` or `begin()` on a
 * request path: postgres.js 3.4.9 writes to the socket of a reserved connection after Postgres
 * closed it (a restart), and the TypeError is thrown from a setImmediate callback, where nothing
 * can catch it and the worker dies (porsager/postgres#1208). Pooled queries only ever go to
 * open connections. The returned Sql always forwards to the current pool (see Pool).
 */
export function connect(url: string, opts: PoolOptions): Sql {
  const open = () =>
    postgres(url, {
      max: opts.max,
      connect_timeout: 2,
      idle_timeout: 60,
      // bounded() paces attempts while the database is down; postgres.js's own growing backoff
      // (up to 20 s) would only delay the first query after it is back.
      backoff: () => 0,
      // No array-type fetch on connect: postgres.js runs it from a promise nothing awaits, so a
      // connection discarded mid-fetch (a missed deadline) rejected it unhandled and killed the
      // worker. No query here binds an array (warmup.ts splits a text list instead).
      fetch_types: false,
      // Every statement is bounded, so a stuck query cannot hold a pool connection forever.
      connection: { statement_timeout: opts.statementTimeoutMs, application_name: 'apistack-api' },
      onnotice: () => {},
    }) as Sql;
  const pool = new Pool(open, opts.max);
  return new Proxy(function pooled() {} as unknown as Sql, {
    apply: (_target, thisArg, args) => Reflect.apply(pool.current, thisArg, args),
    get: (_target, property) => (property === CONTROL ? pool : Reflect.get(pool.current, property)),
  });
}

/** Why the database counts as down in this worker (a 503 would say so), or undefined while it answers. */
export function databaseDown(sql: Sql): string | undefined {
  return (sql as unknown as { [CONTROL]?: Pool })[CONTROL]?.downState();
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

export interface QueryLimits {
  /** How long a query waits for a free connection before 503 (busy). */
  readonly acquireMs: number;
  /**
   * Client side: how long a query may take once it has a connection (connecting included) before
   * 503; above the statement timeout, so it fires only when the server does not answer at all.
   */
  readonly deadlineMs: number;
}

const MISSED_DEADLINE = Symbol('missed deadline');

/**
 * Run `work` (one pooled query) within `limits`: at most `acquireMs` waiting for a connection and
 * `deadlineMs` for the answer, 503 past either. A query past its deadline is abandoned: the pool
 * is replaced, which destroys its connection (a write on it may still have committed; the client
 * was told 503 and may retry, which Idempotency-Key makes safe). While the database is down
 * (refused, closed or unanswered connections), requests get 503 at once, one probe per
 * PROBE_INTERVAL_MS finds out when it is back.
 */
export async function bounded<T>(sql: Sql, limits: QueryLimits, work: (db: Sql) => PromiseLike<T>): Promise<T> {
  const pool = (sql as unknown as { [CONTROL]?: Pool })[CONTROL];
  if (!pool) throw new Error('bounded() needs a pool made by connect()');
  const probe = pool.admit();
  try {
    const slot = await pool.acquire(limits.acquireMs);
    if (slot === 'down') throw errors.unavailable(`the database is unavailable (${pool.downReason()}); retry shortly`);
    if (slot === 'timeout') throw errors.unavailable('the database is busy: no pool connection came free in time; retry shortly');
    const db = pool.current;
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<typeof MISSED_DEADLINE>((resolve) => (timer = setTimeout(() => resolve(MISSED_DEADLINE), limits.deadlineMs)));
      const result = await Promise.race([work(db), deadline]);
      if (result === MISSED_DEADLINE) {
        const reason = `no answer within ${limits.deadlineMs} ms`;
        pool.failed(reason);
        pool.discard(db);
        throw errors.unavailable(`the database is unavailable (${reason}); retry shortly`);
      }
      pool.answered();
      return result;
    } catch (e) {
      throw databaseError(e, pool);
    } finally {
      clearTimeout(timer);
      pool.release();
    }
  } finally {
    if (probe) pool.endProbe();
  }
}

function databaseError(e: unknown, pool: Pool): unknown {
  if (e instanceof ApiError) return e;
  if (isConnectionError(e)) {
    const reason = connectionFailure(e);
    pool.failed(reason);
    return errors.unavailable(`the database is unavailable (${reason}); retry shortly`);
  }
  // The server answered: it is up, whatever the statement's fate.
  if (typeof e === 'object' && e !== null && 'severity' in e) pool.answered();
  if ((e as { code?: string }).code === '57014') return errors.unavailable('the query took too long (statement_timeout)');
  return e;
}

/** A few words a client can act on, never the host, user or password. */
function connectionFailure(e: unknown): string {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'CONNECT_TIMEOUT') return 'connect timed out';
  if (code === '57P01' || code === '57P02' || code === '57P03') return 'shutting down or starting up';
  if (code === '53300') return 'too many connections';
  if (code.startsWith('CONNECTION_')) return 'connection closed';
  return code.toLowerCase();
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
