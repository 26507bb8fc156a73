/**
 * Two cache layers for reads: L1 in-process (bounded LRU with TTL) and L2 Redis (TTL), with
 * tag invalidation: a write deletes the tag's entries in Redis and publishes the tag, and every
 * worker of every replica drops its L1 entries for it.
 */
import type { Redis } from 'ioredis';

import type { Metrics } from './metrics.ts';

export const INVALIDATION_CHANNEL = 'apistack:invalidate';

export class LruTtl<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number; tags: readonly string[] }>();
  constructor(private readonly maxEntries: number, private readonly ttlMs: number) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    // Re-insert: a Map iterates in insertion order, so the oldest entry is the least recently used.
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V, tags: readonly string[]): void {
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: Date.now() + this.ttlMs, tags });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  invalidateTag(tag: string): void {
    for (const [key, entry] of this.map) if (entry.tags.includes(tag)) this.map.delete(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Up to `n` keys, most recently used first. */
  mostRecentKeys(n: number): string[] {
    return [...this.map.keys()].slice(-n).reverse();
  }

  get size(): number {
    return this.map.size;
  }
}

export class TwoLayerCache {
  readonly l1: LruTtl<string>;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly ttlSeconds: number,
    private readonly metrics: Metrics,
    maxEntries = 10_000,
  ) {
    this.l1 = new LruTtl(maxEntries, ttlSeconds * 1000);
  }

  /** The cached JSON text for `key`, or undefined; Redis trouble counts as a miss. */
  async get(key: string, tags: readonly string[] = [key]): Promise<string | undefined> {
    const local = this.l1.get(key);
    if (local !== undefined) {
      this.metrics.cache.inc({ layer: 'l1', result: 'hit' });
      return local;
    }
    this.metrics.cache.inc({ layer: 'l1', result: 'miss' });
    if (!this.redis) return undefined;
    try {
      const remote = await this.redis.get(`cache:${key}`);
      this.metrics.cache.inc({ layer: 'l2', result: remote === null ? 'miss' : 'hit' });
      if (remote === null) return undefined;
      this.l1.set(key, remote, tags);
      return remote;
    } catch {
      this.metrics.cache.inc({ layer: 'l2', result: 'miss' });
      return undefined;
    }
  }

  async set(key: string, json: string, tags: readonly string[]): Promise<void> {
    this.l1.set(key, json, tags);
    if (!this.redis) return;
    try {
      const multi = this.redis.multi().set(`cache:${key}`, json, 'EX', this.ttlSeconds);
      for (const tag of tags) multi.sadd(`tag:${tag}`, `cache:${key}`).expire(`tag:${tag}`, this.ttlSeconds);
      await multi.exec();
    } catch {
      // L2 is an optimization: Redis down means Postgres answers.
    }
  }

  /** Drop every entry tagged `tag` here, in Redis, and (through pub/sub) in every other worker. */
  async invalidate(tag: string): Promise<void> {
    this.l1.invalidateTag(tag);
    if (!this.redis) return;
    try {
      // One round trip: drop the entry whose key is the tag itself, take the tag's other members,
      // and tell every worker, so a slow Redis cannot leave the publish undone.
      const [[, members]] = (await this.redis.multi().smembers(`tag:${tag}`).del(`cache:${tag}`, `tag:${tag}`).publish(INVALIDATION_CHANNEL, tag).exec()) as [[Error | null, string[]], ...unknown[]];
      if (members.length) await this.redis.del(...members);
    } catch {
      // Other workers' L1 entries expire by TTL when Redis cannot carry the message.
    }
  }

  /** Apply an invalidation published by another worker. */
  onInvalidation(tag: string): void {
    this.l1.invalidateTag(tag);
  }
}


