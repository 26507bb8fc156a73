/**
 * Two cache layers for reads: L1 in-process (bounded LRU with TTL) and L2 Redis (TTL), with
 * tag invalidation: a write deletes the tag's entries in Redis and publishes the tag, and every
 * worker of every replica drops its L1 entries for it.
 *
 * Fills are checked against invalidations that happened while the value was being loaded (the
 * read-then-set race: read the old row, a write commits and invalidates, then the old row is
 * cached until its TTL). Each tag has a version in Redis, bumped by every invalidation in the same
 * transaction that deletes the entries; a miss reads the versions with the L2 lookup, and the fill
 * writes L2 only if they are unchanged (one Lua script). In-process, a generation per tag does the
 * same for L1.
 */
import type { Redis } from 'ioredis';

import type { Metrics } from './metrics.ts';

export const INVALIDATION_CHANNEL = 'apistack:invalidate';

export class LruTtl<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number; tags: readonly string[] }>();
  /** Keys by tag, so an invalidation touches its own entries instead of scanning them all. */
  private readonly keysByTag = new Map<string, Set<string>>();
  /** When each tag was last invalidated, on a counter that never repeats; a fill that started before must not land. */
  private readonly generations = new Map<string, number>();
  private clock = 0;
  constructor(private readonly maxEntries: number, private readonly ttlMs: number) {}

  /** Bumped by reset(): a fill that began before one must not land after it. */
  private epoch = 0;

  /** A token for "no invalidation of these tags since now". */
  generationOf(tags: readonly string[]): string {
    return `${this.epoch}:${tags.map((t) => this.generations.get(t) ?? 0).join(',')}`;
  }

  /** Forget everything, and refuse fills that started before: for when invalidations may have been missed. */
  reset(): void {
    this.map.clear();
    this.keysByTag.clear();
    this.epoch++;
  }

  /** Set only if none of the tags was invalidated since `generation` was taken. */
  setIfCurrent(key: string, value: V, tags: readonly string[], generation: string): boolean {
    if (this.generationOf(tags) !== generation) return false;
    this.set(key, value, tags);
    return true;
  }

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    // Re-insert: a Map iterates in insertion order, so the oldest entry is the least recently used.
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V, tags: readonly string[]): void {
    this.delete(key);
    this.map.set(key, { value, expiresAt: Date.now() + this.ttlMs, tags });
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag);
      if (!keys) this.keysByTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
    while (this.map.size > this.maxEntries) this.delete(this.map.keys().next().value!);
  }

  invalidateTag(tag: string): void {
    this.generations.delete(tag);
    this.generations.set(tag, ++this.clock);
    // Bounded: a fill only needs the tags invalidated while it loads. Forgetting an old one reads
    // as 0, which differs from what any fill saw, so the fill is skipped: never a stale write.
    if (this.generations.size > this.maxEntries * 2) this.generations.delete(this.generations.keys().next().value!);
    for (const key of [...(this.keysByTag.get(tag) ?? [])]) this.delete(key);
  }

  delete(key: string): void {
    const entry = this.map.get(key);
    if (!entry) return;
    this.map.delete(key);
    for (const tag of entry.tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }

  /** Up to `n` keys, most recently used first. */
  mostRecentKeys(n: number): string[] {
    return [...this.map.keys()].slice(-n).reverse();
  }

  get size(): number {
    return this.map.size;
  }
}

/** What a miss saw, so that the fill after loading can tell whether an invalidation came between. */
export interface FillGuard {
  readonly generation: string;
  /** The tags' versions in Redis at lookup time; undefined when Redis could not be asked. */
  readonly versions: readonly string[] | undefined;
}

/** Keep the tag versions well past any load that could still be in flight (statement timeouts are seconds). */
const VERSION_TTL_SECONDS = 3600;

/** KEYS: entry, tag versions..., tag sets...; ARGV: json, ttl, versions... → 1 if written. */
const FILL_IF_CURRENT = `
local n = (#KEYS - 1) / 2
for i = 1, n do
  if (redis.call('GET', KEYS[1 + i]) or '0') ~= ARGV[2 + i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 1, n do
  redis.call('SADD', KEYS[1 + n + i], KEYS[1])
  redis.call('EXPIRE', KEYS[1 + n + i], ARGV[2])
end
return 1`;

type FillingRedis = Redis & { fillIfCurrent(...args: (string | number)[]): Promise<number> };

/** Thrown by invalidateConfirmed when Redis did not take the invalidation. */
export class InvalidationUnconfirmed extends Error {}

export interface TwoLayerCacheOptions {
  /** @default 10000 */
  readonly maxEntries?: number;
  /**
   * How long an entry lives in L1, when shorter than in Redis: the bound on how stale a worker
   * can be when it misses an invalidation without noticing (a hung Redis keeps its subscription
   * open). @default - the cache's TTL
   */
  readonly localTtlSeconds?: number;
  /**
   * Remember "not found" in L1 for this long (0: never), bounded to negativeMaxEntries: a flood
   * of one unknown key then costs one query per worker and TTL. @default 0
   */
  readonly negativeTtlSeconds?: number;
  /** @default 10000 */
  readonly negativeMaxEntries?: number;
}

/**
 * The auth cache in each worker: a revoked key works at most this long on a worker that missed
 * the invalidation without noticing (Redis hung: its subscription stays open, no message comes),
 * and an unknown key costs one query per worker per this long in a flood of it.
 */
export const AUTH_CACHE_LOCAL = { localTtlSeconds: 5, negativeTtlSeconds: 5, negativeMaxEntries: 10_000 } as const satisfies TwoLayerCacheOptions;

/** How often a worker retries an invalidation Redis did not take (it may be down or hung). */
const INVALIDATION_RETRY_MS = 1000;

export class TwoLayerCache {
  readonly l1: LruTtl<string>;
  /** Keys known not to exist, in this worker only; tagged like entries, so invalidation drops them. */
  private readonly negatives: LruTtl<true> | undefined;
  private readonly redis: FillingRedis | undefined;
  /**
   * Invalidations Redis has not taken yet, by when they were first tried: retried until it does,
   * so L2 never keeps a stale entry; dropped once older than the TTL (the entry has expired).
   */
  private readonly unsent = new Map<string, number>();
  private retrying: NodeJS.Timeout | undefined;

  constructor(
    redis: Redis | undefined,
    private readonly ttlSeconds: number,
    private readonly metrics: Metrics,
    options: TwoLayerCacheOptions | number = {},
  ) {
    const o = typeof options === 'number' ? { maxEntries: options } : options;
    this.l1 = new LruTtl(o.maxEntries ?? 10_000, Math.min(ttlSeconds, o.localTtlSeconds ?? ttlSeconds) * 1000);
    if (o.negativeTtlSeconds) this.negatives = new LruTtl(o.negativeMaxEntries ?? 10_000, o.negativeTtlSeconds * 1000);
    if (redis && !('fillIfCurrent' in redis)) redis.defineCommand('fillIfCurrent', { lua: FILL_IF_CURRENT });
    this.redis = redis as FillingRedis | undefined;
  }

  /**
   * The cached JSON text for `key`, or else `loader()`'s (cached unless an invalidation of `tags`
   * happened meanwhile). A loader answering undefined (not found) caches nothing, unless
   * negativeTtlSeconds is set: then this worker remembers it for that long.
   */
  async getOrLoad(key: string, tags: readonly string[], loader: () => Promise<string | undefined>): Promise<string | undefined> {
    if (this.negatives && this.#localLayer && this.negatives.get(key)) {
      this.metrics.cache.inc({ layer: 'l1', result: 'hit' });
      return undefined;
    }
    // Taken before loading: an invalidation meanwhile (the key created) keeps the negative out.
    const negativeGeneration = this.negatives?.generationOf(tags);
    const found = await this.lookup(key, tags);
    if (typeof found === 'string') return found;
    const value = await loader();
    if (value !== undefined) await this.fill(key, value, tags, found);
    else if (this.negatives && this.#localLayer) this.negatives.setIfCurrent(key, true, tags, negativeGeneration!);
    return value;
  }

  #localLayer = true;

  /**
   * L1 is only safe while this worker hears invalidations. Off (while the pub/sub subscription is
   * down, or not yet up) it is emptied and bypassed; back on, it starts empty, since messages may
   * have been missed meanwhile.
   */
  setLocalLayer(enabled: boolean): void {
    if (enabled === this.#localLayer) return;
    this.#localLayer = enabled;
    this.l1.reset();
    this.negatives?.reset();
  }

  /** L1, then L2 (with the tag versions in the same round trip); a miss answers the guard for `fill`. */
  async lookup(key: string, tags: readonly string[]): Promise<string | FillGuard> {
    const local = this.#localLayer ? this.l1.get(key) : undefined;
    if (local !== undefined) {
      this.metrics.cache.inc({ layer: 'l1', result: 'hit' });
      return local;
    }
    this.metrics.cache.inc({ layer: 'l1', result: 'miss' });
    const [found] = await this.#lookupRemote([{ key, tags }]);
    this.metrics.cache.inc({ layer: 'l2', result: typeof found === 'string' ? 'hit' : 'miss' });
    return found!;
  }

  /**
   * L2 for many keys, each its own tag, in one round trip: hits go into L1, misses answer the guard
   * for `fill`. For warming L1, so it counts in no hit/miss metric.
   */
  lookupMany(keys: readonly string[]): Promise<(string | FillGuard)[]> {
    return this.#lookupRemote(keys.map((key) => ({ key, tags: [key] })));
  }

  async #lookupRemote(entries: readonly { key: string; tags: readonly string[] }[]): Promise<(string | FillGuard)[]> {
    // Taken before reading, so an invalidation that lands meanwhile keeps the old value out.
    const generations = entries.map((e) => this.l1.generationOf(e.tags));
    const offline = () => generations.map((generation) => ({ generation, versions: undefined }));
    if (!this.redis) return offline();
    let replies: (string | null)[];
    try {
      replies = await this.redis.mget(...entries.flatMap((e) => [`cache:${e.key}`, ...e.tags.map((t) => `ver:${t}`)]));
    } catch {
      // Redis trouble counts as a miss; the fill then caches in L1 only.
      return offline();
    }
    let at = 0;
    return entries.map(({ key, tags }, i) => {
      const [remote, ...versions] = replies.slice(at, (at += 1 + tags.length));
      if (remote == null) return { generation: generations[i]!, versions: versions.map((v) => v ?? '0') };
      if (this.#localLayer) this.l1.setIfCurrent(key, remote, tags, generations[i]!);
      return remote;
    });
  }

  /** Cache a loaded value in both layers, unless one of its tags was invalidated since the lookup. */
  async fill(key: string, json: string, tags: readonly string[], guard: FillGuard): Promise<void> {
    if (this.redis && guard.versions) {
      try {
        const written = await this.redis.fillIfCurrent(1 + tags.length * 2, `cache:${key}`, ...tags.map((t) => `ver:${t}`), ...tags.map((t) => `tag:${t}`), json, this.ttlSeconds, ...guard.versions);
        if (written !== 1) return;
      } catch {
        // L2 is an optimization: L1 below still serves this worker.
      }
    }
    if (this.#localLayer) this.l1.setIfCurrent(key, json, tags, guard.generation);
  }

  /**
   * Drop every entry tagged `tag` here, in Redis, and (through pub/sub) in every other worker.
   * When Redis cannot take it, other workers' L1 entries expire by their TTL, and this worker
   * retries in the background until Redis takes it (an L2 entry would otherwise outlive it).
   */
  async invalidate(tag: string): Promise<void> {
    await this.invalidateConfirmed(tag).catch(() => {});
  }

  /**
   * invalidate, answering only once Redis has dropped the tag's entries and published the
   * invalidation to every subscribed worker; throws InvalidationUnconfirmed when Redis did not
   * answer within its command timeout (down or hung), and keeps retrying in the background.
   */
  async invalidateConfirmed(tag: string): Promise<void> {
    this.#invalidateLocal(tag);
    if (!this.redis) return;
    try {
      await this.#invalidateRemote(tag);
      this.unsent.delete(tag);
    } catch (e) {
      if (!this.unsent.has(tag)) this.unsent.set(tag, Date.now());
      this.#retryLater();
      throw new InvalidationUnconfirmed(`Redis did not take the invalidation of ${tag}: ${(e as Error).message}`);
    }
  }

  #invalidateLocal(tag: string): void {
    this.l1.invalidateTag(tag);
    this.negatives?.invalidateTag(tag);
  }

  async #invalidateRemote(tag: string): Promise<void> {
    // One round trip: bump the tag's version (so fills already loading the old value do not
    // land), drop the entry whose key is the tag itself, take the tag's other members, and tell
    // every worker, so a slow Redis cannot leave the publish undone.
    const replies = await this.redis!
      .multi()
      .incr(`ver:${tag}`)
      .expire(`ver:${tag}`, VERSION_TTL_SECONDS)
      .smembers(`tag:${tag}`)
      .del(`cache:${tag}`, `tag:${tag}`)
      .publish(INVALIDATION_CHANNEL, tag)
      .exec();
    if (!replies) throw new Error('the transaction was discarded');
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0]!;
    const members = replies[2]![1] as string[];
    if (members.length) await this.redis!.del(...members);
  }

  #retryLater(): void {
    if (this.retrying) return;
    this.retrying = setTimeout(() => {
      this.retrying = undefined;
      void (async () => {
        const expired = Date.now() - this.ttlSeconds * 1000;
        for (const [tag, since] of [...this.unsent]) {
          if (since < expired) {
            this.unsent.delete(tag);
            continue;
          }
          try {
            await this.#invalidateRemote(tag);
            this.unsent.delete(tag);
          } catch {
            break;
          }
        }
        if (this.unsent.size) this.#retryLater();
      })();
    }, INVALIDATION_RETRY_MS);
    this.retrying.unref();
  }

  /** Apply an invalidation published by another worker. */
  onInvalidation(tag: string): void {
    this.#invalidateLocal(tag);
  }
}
