/**
 * Cache warm-up: a worker that starts (a recycle, a crash, a new replica from the autoscaler)
 * loads the hot user entries into its L1 before it takes traffic, instead of sending its first
 * seconds of reads to Redis and Postgres.
 *
 * "Hot" is what running workers actually serve: each worker periodically records the most
 * recently used keys of its L1 in a Redis sorted set (score = when it was last seen hot), shared by
 * every worker of every replica. A starting worker takes the newest entries of that set, reads
 * them from L2 in one MGET, and loads the rest from Postgres in one query.
 */
import type { Redis } from 'ioredis';
import type { FillGuard, TwoLayerCache } from './cache.ts';
import type { Sql } from './db.ts';
import { toUser, type UserRow } from './routes/users.ts';

export const HOT_USERS_KEY = 'apistack:hot:users';

/** Record this worker's hottest L1 keys; the set keeps the newest `keep` members. */
export async function publishHotKeys(redis: Redis, cache: TwoLayerCache, count: number, keep = count * 4): Promise<number> {
  const keys = cache.l1.mostRecentKeys(count).filter((k) => k.startsWith('user:'));
  if (keys.length === 0) return 0;
  const now = Date.now();
  await redis
    .multi()
    .zadd(HOT_USERS_KEY, ...keys.flatMap((k) => [now, k]))
    .zremrangebyrank(HOT_USERS_KEY, 0, -keep - 1)
    .exec();
  return keys.length;
}

export interface WarmupResult {
  readonly fromRedis: number;
  readonly fromPostgres: number;
}

/** Fill L1 with up to `count` hot user entries. Callers bound it with a timeout; a failure only means a cold start. */
export async function warmUserCache(redis: Redis, sql: Sql, cache: TwoLayerCache, count: number): Promise<WarmupResult> {
  const keys = await redis.zrevrange(HOT_USERS_KEY, 0, count - 1);
  if (keys.length === 0) return { fromRedis: 0, fromPostgres: 0 };
  const found = await cache.lookupMany(keys);
  const missing = new Map<string, FillGuard>();
  let fromRedis = 0;
  keys.forEach((key, i) => {
    const hit = found[i]!;
    if (typeof hit === 'string') fromRedis++;
    else if (/^user:\d+$/.test(key)) missing.set(key.slice('user:'.length), hit);
  });
  if (missing.size === 0) return { fromRedis, fromPostgres: 0 };
  // A text list, not a bound array: the pool does not fetch array types (db.ts).
  const rows = await sql<UserRow[]>`SELECT * FROM users WHERE id = ANY(string_to_array(${[...missing.keys()].join(',')}, ',')::bigint[])`;
  // Through fill(), so L2 is refilled too and the tag index stays right for invalidation.
  await Promise.all(rows.map((row) => cache.fill(`user:${row.id}`, JSON.stringify(toUser(row)), [`user:${row.id}`], missing.get(String(row.id))!)));
  return { fromRedis, fromPostgres: rows.length };
}
