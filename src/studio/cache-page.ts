/**
 * GET api/cache: the cache's hit/miss per tier and breaker state, Redis's
 * connection, and live session and rate-limit key counts; GET/DELETE
 * api/cache/keys: keys by prefix, always with SCAN (never KEYS, which
 * blocks Redis), deletes in write mode only (the route checks).
 */
import { groupBySlot, scanTargets } from '../redis/cluster.js';
import type { RedisLike } from '../redis/connection.js';
import type { CacheDeleteResponse, CacheKeysResponse, CacheResponse } from './api.js';
import type { StudioContext } from './context.js';
import { badRequest } from './http.js';
import { withoutPassword } from './meta.js';

/** Keys a count SCANs at most: past it the count is a lower bound (the UI shows "10,000+"). */
const COUNT_CAP = 10_000;

/** `*`, `?`, `[` and `\` in a prefix are matched literally. */
const glob = (prefix: string) => `${prefix.replace(/[*?[\]\\]/g, (m) => `\\${m}`)}*`;

/** Every master of a Redis Cluster is scanned (each holds its slots' keys). */
async function scan(redis: RedisLike, pattern: string, max: number): Promise<{ keys: string[]; more: boolean }> {
  const keys: string[] = [];
  for (const node of scanTargets(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const k of batch) {
        if (keys.length >= max) return { keys, more: true };
        keys.push(k);
      }
    } while (cursor !== '0');
  }
  return { keys, more: false };
}

export async function cachePage(ctx: StudioContext): Promise<CacheResponse> {
  if (ctx.cache === null && ctx.redis === null) return { available: false };
  const out: CacheResponse = { available: true };
  if (ctx.cache) {
    const s = ctx.cache.stats();
    out.tiers = {
      l1: { hits: s.l1.hits, misses: s.l1.misses, size: s.l1.entries },
      l2: s.breaker === 'off' ? null : { hits: s.l2.hits, misses: s.l2.misses },
    };
    out.breaker = s.breaker === 'off' ? null : s.breaker;
  }
  const redis = ctx.redis;
  out.redis = {
    connected: redis?.status === 'ready',
    url: ctx.redisUrl === null ? null : withoutPassword(ctx.redisUrl),
  };
  if (redis && redis.status === 'ready') {
    out.sessions = (await scan(redis, glob(`${ctx.sessionPrefix}:`), COUNT_CAP)).keys.filter(
      (k) => !k.includes('~'),
    ).length;
    out.rateLimits = (await scan(redis, glob(`${ctx.rateLimitPrefix}:`), COUNT_CAP)).keys.length;
  } else {
    out.sessions = null;
    out.rateLimits = null;
  }
  return out;
}

function needRedis(ctx: StudioContext): RedisLike {
  if (!ctx.redis)
    throw badRequest('Studio has no Redis client: pass studio(ferry, { redis }) (ferry studio uses REDIS_URL).');
  if (ctx.redis.status !== 'ready') {
    throw badRequest(
      `Redis is not connected (${ctx.redis.status}): try again once it is (see the cache page's redis.connected).`,
    );
  }
  return ctx.redis;
}

function prefixOf(params: URLSearchParams, required: boolean): string {
  const prefix = params.get('prefix') ?? '';
  if (required && prefix.length < 2) {
    throw badRequest(
      'Deleting by prefix needs a prefix of at least 2 characters (a whole Redis is not deleted from Studio).',
    );
  }
  return prefix;
}

export async function cacheKeys(ctx: StudioContext, params: URLSearchParams): Promise<CacheKeysResponse> {
  const redis = needRedis(ctx);
  const limitText = params.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw badRequest(`limit must be a whole number from 1 to 1000 (got ${limitText}).`);
  const { keys, more } = await scan(redis, glob(prefixOf(params, false)), limit);
  const client = redis as RedisLike & {
    pttl?(key: string): Promise<number>;
    memory?(sub: 'USAGE', key: string): Promise<number | null>;
  };
  const out: CacheKeysResponse['keys'] = [];
  for (const key of keys) {
    const ttl = client.pttl ? await client.pttl(key) : null;
    let bytes: number | null = null;
    try {
      bytes = client.memory ? await client.memory('USAGE', key) : null;
    } catch {
      bytes = null; // MEMORY is refused on some managed Redis
    }
    out.push({ key, ttlMs: ttl === null || ttl < 0 ? null : ttl, bytes });
  }
  return { keys: out, more };
}

export async function deleteCacheKeys(ctx: StudioContext, params: URLSearchParams): Promise<CacheDeleteResponse> {
  const redis = needRedis(ctx);
  const pattern = glob(prefixOf(params, true));
  const keyPrefix = redis.options?.keyPrefix ?? '';
  let deleted = 0;
  for (const node of scanTargets(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      // One slot per UNLINK on a cluster (slots of the keys as sent: the client adds its keyPrefix).
      for (const group of groupBySlot(redis, batch, keyPrefix)) deleted += await redis.unlink(...group);
    } while (cursor !== '0');
  }
  return { deleted };
}
