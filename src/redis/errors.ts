/** Stable error codes of Ferry's Redis connections. Match on `err.code`. */

/**
 * The `redis` option is neither a Redis URL Ferry understands (`redis://`,
 * `rediss://`, `unix://`) nor a Redis client. Thrown by the cache, the
 * sessions, the rate limits and the Redis import source alike.
 */
export const E_REDIS_URL = 'E_REDIS_URL';

/**
 * A Lua script would be given keys of different Redis Cluster slots (a
 * cluster refuses it with CROSSSLOT). Thrown at startup by the cache and the
 * session store when their key layout (namespace, prefix, the client's
 * `keyPrefix`) would not keep a script's keys under one hash tag.
 */
export const E_REDIS_CROSSSLOT = 'E_REDIS_CROSSSLOT';
