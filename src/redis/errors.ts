/** Stable error codes of Ferry's Redis connections. Match on `err.code`. */

/**
 * The `redis` option is neither a Redis URL Ferry understands (`redis://`,
 * `rediss://`, `unix://`) nor a Redis client. Thrown by the cache, the
 * sessions, the rate limits and the Redis import source alike.
 */
export const E_REDIS_URL = 'E_REDIS_URL';
