/**
 * Per-API-key rate limit: a fixed one-minute window counted in Redis, shared by every worker
 * and replica. When Redis is unreachable the policy is fail-open with a per-worker local window
 * of the same size, so an outage neither blocks all traffic nor removes every limit.
 */
import type { Redis } from 'ioredis';

/** INCR and, for a new window, EXPIRE, as one command: one write and one reply per request. */
const COUNT_IN_WINDOW = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`;

type CountingRedis = Redis & { countInWindow(key: string, ttlSeconds: number): Promise<number> };

export interface RateDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets. */
  readonly resetSeconds: number;
  readonly mode: 'redis' | 'local';
}

export class RateLimiter {
  private readonly local = new Map<string, { window: number; count: number }>();

  private readonly redis: CountingRedis | undefined;

  constructor(redis: Redis | undefined, private readonly limitPerMinute: number) {
    // ioredis sends EVALSHA, falling back to EVAL once if the script is not cached yet.
    if (redis && !('countInWindow' in redis)) redis.defineCommand('countInWindow', { numberOfKeys: 1, lua: COUNT_IN_WINDOW });
    this.redis = redis as CountingRedis | undefined;
  }

  async check(key: string, now = Date.now()): Promise<RateDecision> {
    const window = Math.floor(now / 60_000);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
    let count: number;
    let mode: RateDecision['mode'] = 'redis';
    try {
      if (!this.redis) throw new Error('no redis');
      const redisKey = `rl:${key}:${window}`;
      count = await this.redis.countInWindow(redisKey, 61);
    } catch {
      mode = 'local';
      const entry = this.local.get(key);
      if (!entry || entry.window !== window) this.local.set(key, { window, count: 1 });
      else entry.count++;
      count = this.local.get(key)!.count;
    }
    return { allowed: count <= this.limitPerMinute, limit: this.limitPerMinute, remaining: Math.max(0, this.limitPerMinute - count), resetSeconds, mode };
  }
}
