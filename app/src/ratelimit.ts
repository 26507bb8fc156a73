/**
 * Per-API-key rate limit: a fixed one-minute window counted in Redis, shared by every worker
 * and replica. When Redis is unreachable the policy is fail-open with a per-worker local window
 * of the same size, so an outage neither blocks all traffic nor removes every limit.
 */
import type { Redis } from 'ioredis';

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

  constructor(private readonly redis: Redis | undefined, private readonly limitPerMinute: number) {}

  async check(key: string, now = Date.now()): Promise<RateDecision> {
    const window = Math.floor(now / 60_000);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
    let count: number;
    let mode: RateDecision['mode'] = 'redis';
    try {
      if (!this.redis) throw new Error('no redis');
      const redisKey = `rl:${key}:${window}`;
      const [[, incr]] = (await this.redis.multi().incr(redisKey).expire(redisKey, 61).exec()) as [[Error | null, number], unknown];
      count = incr;
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
